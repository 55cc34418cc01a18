"""The authorization matrix: every declared route x method x caller x resource, against the
route's own policy. Fails on any 2xx that the policy does not allow, on any denial that is not
the error shape, and on any response that carries the other app's data.

Callers: anonymous, member of A, app admin of A, member of B (B's token), service of A and
service of B (SigV4 with the app role's credentials), platform admin.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app  # noqa: F401 (importing the app registers every route and its policy)
from chalicelib.gateway.policy import POLICIES
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.tokens import Caller
from tests.conftest import IdentityPlatform
from tests.tokens import Signer

A, B = "church", "events"
SERVICE = "service"  # the "groups" of a service principal: it has none, it signs with a role
CALLERS: dict[str, tuple[str, list[str]] | None] = {
    "anonymous": None,
    "member of A": (A, [A]),
    "app admin of A": (A, [A, f"{A}-admin"]),
    "member of B": (B, [B]),
    "service of A": (A, [SERVICE]),
    "service of B": (B, [SERVICE]),
    "platform admin": (A, ["integreat-admin"]),
}
ROUTES = sorted(POLICIES)
BODY = json.dumps({})


@pytest.fixture
def api(signed_api: Client) -> Client:
    return signed_api


def _path(pattern: str, app: str) -> str:
    return (
        pattern.replace("{app}", app)
        .replace("{user}", "nobody-here")
        .replace("{role}", "admin")
        .replace("{seq}", "1")
        .replace("{name}", "services")
        .translate({ord(c): None for c in "{}"})  # the integration proxy's {p1}..{p8}: "p1", ...
    )


def _headers(
    identity: IdentityPlatform, signer: Signer, keys: ServiceKeys, caller: str, method: str, path: str
) -> dict[str, str]:
    spec = CALLERS[caller]
    headers = {"Content-Type": "application/json"}
    if spec is None:
        return headers
    app, groups = spec
    if groups == [SERVICE]:
        return headers | identity.sigv4(keys, app, method, path, BODY.encode())
    return headers | identity.bearer(signer, app, groups, caller)


def _as_caller(caller: str) -> Caller | None:
    spec = CALLERS[caller]
    if spec is None:
        return None
    app, groups = spec
    if groups == [SERVICE]:
        return Caller("role", caller, app, (), False, "", "service", True)
    roles = tuple(
        r for r in ("member", "admin") if (r == "member" and app in groups) or f"{app}-{r}" in groups
    )
    return Caller("sub", caller, app, roles, "integreat-admin" in groups, "client", "access")


def test_the_matrix(
    identity: IdentityPlatform, signer: Signer, service_keys: ServiceKeys, api: Client
) -> None:
    checked, violations = 0, []
    other_data = {A: identity.clients[B], B: identity.clients[A]}  # each app's client id is its "data"
    for path, method in ROUTES:
        policy = POLICIES[(path, method)]
        for caller in CALLERS:
            for resource in (A, B):
                concrete = _path(path, resource)
                headers = _headers(identity, signer, service_keys, caller, method, concrete)
                response = getattr(api.http, method.lower())(concrete, headers=headers, body=BODY)
                checked += 1
                path_app = resource if "{app}" in path else None
                allowed = policy.allows(_as_caller(caller), path_app) if policy.authenticate else True
                body: Any = response.json_body
                if not allowed and 200 <= response.status_code < 300:
                    violations.append(f"{caller} got {response.status_code} on {method} {concrete}")
                if not allowed and set(body or {}) != {"error"}:
                    violations.append(f"{caller} on {method} {concrete}: denial body {body}")
                own = CALLERS[caller][0] if CALLERS[caller] else None
                if (
                    own
                    and not (_as_caller(caller) or Caller("", "", "", (), False, "", "")).is_admin
                    and other_data[own] in response.body.decode()
                ):
                    violations.append(f"{caller} saw the other app's data on {method} {concrete}")
    print(
        f"\nauthorization matrix: {len(ROUTES)} routes x {len(CALLERS)} callers x 2 resources = {checked} requests"
    )
    assert sum(POLICIES[r].service for r in ROUTES) >= 5  # the service routes are in it too
    assert len(ROUTES) >= 14  # the matrix sees every route the app declares (guards an empty matrix)
    assert checked == len(ROUTES) * len(CALLERS) * 2
    assert violations == []
