"""amazon-cognito-identity-js against the local platform: SRP sign-in, refusal, refresh."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.harness import Platform, User, ok, refused, run_node


@pytest.fixture(scope="module")
def journal(node_clients: None, platform: Platform, church_user: User) -> dict[str, Any]:
    config = {
        "api": platform.api,
        "cognito": platform.cognito_endpoint,
        "pool": platform.pool,
        "clientId": platform.client_id("church"),
        "email": church_user.email,
        "password": church_user.password,
    }
    return run_node(platform, "cognito_identity.mjs", config) | {"config": config}


def test_a_wrong_password_is_refused(journal: dict[str, Any]) -> None:
    refused(journal, "wrongPassword", "NotAuthorizedException")


def test_authenticate_user_signs_in_with_srp(journal: dict[str, Any]) -> None:
    signed = ok(journal, "signIn")
    flow = [(c["operation"], c["authFlow"], c["challenge"], c["status"]) for c in signed["calls"]]
    assert flow == [
        ("InitiateAuth", "USER_SRP_AUTH", None, 200),
        ("RespondToAuthChallenge", None, "PASSWORD_VERIFIER", 200),
    ], flow
    church = journal["config"]["clientId"]
    assert (signed["access"]["client_id"], signed["id"]["aud"]) == (church, church)
    assert signed["access"]["integreat:app"] == "church"
    assert signed["hasRefreshToken"] is True
    me = ok(journal, "me")
    assert (me["status"], me["body"]["app"]) == (200, "church"), me


def test_refresh_session_gives_new_tokens_the_api_accepts(journal: dict[str, Any]) -> None:
    renewed = ok(journal, "refreshSession")
    assert renewed["changed"] is True
    flow = [(c["operation"], c["authFlow"], c["status"]) for c in renewed["calls"]]
    assert flow == [("InitiateAuth", "REFRESH_TOKEN_AUTH", 200)], flow
    assert renewed["access"]["client_id"] == journal["config"]["clientId"]
    me = ok(journal, "meAfterRefresh")
    assert (me["status"], me["body"]["app"]) == (200, "church"), me
