"""Sessions the API vends to users (`<sub>@<slug>` of the app's role): the storage consumer
attributes their uploads to the user, and the app role's trust lets nobody but the API's role
take such a name, evaluated with our policy evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.provisioning.identity import IdentityConfig, trust_policy
from chalicelib.storage.consumer import _vended_user
from tests.iam_eval import allowed

ACCOUNT = "123456789012"
SUB = "7d2c8a4e-93f1-4a55-b1de-0f3c9e8a1b20"
API = f"arn:aws:iam::{ACCOUNT}:role/integreat-prod-api"
BACKEND = f"arn:aws:iam::{ACCOUNT}:role/integreat-prod-church-backend"


@pytest.mark.parametrize(
    ("principal", "user"),
    [
        (f"AWS:AROACHURCH:{SUB}@church", SUB),
        (f"AWS:AROACHURCH:{SUB}@chu", SUB),  # the slug cut to fit STS's 64 characters
        ("AWS:AROACHURCH:integreat-service", None),  # the app's backend
        (f"AWS:AROACHURCH:{SUB}@events", None),  # a name of another app on church's role
        ("AWS:AROACHURCH:a*b@church", None),
        (f"AWS:AROACHURCH:{SUB}@", None),
        ("AWS:AROACHURCH", None),
    ],
)
def test_only_a_vended_sessions_name_makes_its_uploader_a_user(principal: str, user: str | None) -> None:
    assert _vended_user(principal, "church") == user


def _trust_allows(principal_arn: str, session: str) -> bool:
    """The trust policy's verdict for sts:AssumeRole by a principal of the account."""
    policy: dict[str, Any] = trust_policy(IdentityConfig("pool", "integreat", "prod", ACCOUNT))
    statements = [
        {k: v for k, v in s.items() if k != "Principal"} | {"Resource": "*"}
        for s in policy["Statement"]
        if s.get("Principal", {}).get("AWS") == f"arn:aws:iam::{ACCOUNT}:root"
    ]
    context = {"sts:RoleSessionName": session, "aws:PrincipalArn": principal_arn}
    return allowed({"Statement": statements}, "sts:AssumeRole", "*", context)


def test_the_api_may_name_a_users_session() -> None:
    assert _trust_allows(API, f"{SUB}@church")


def test_nobody_else_may_take_a_users_session_name() -> None:
    assert not _trust_allows(BACKEND, f"{SUB}@church")


def test_a_backend_still_assumes_its_role_under_its_own_names() -> None:
    assert _trust_allows(BACKEND, "integreat-service")
