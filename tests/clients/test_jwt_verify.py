"""aws-jwt-verify on the local platform's tokens: what an app's own backend (Node.js) would verify."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.harness import Platform, User, ok, refused, run_node


@pytest.fixture(scope="module")
def journal(node_clients: None, platform: Platform, church_user: User, events_user: User) -> dict[str, Any]:
    church, events = platform.tokens(church_user, "church"), platform.tokens(events_user, "events")
    config = {
        "cognito": platform.cognito_endpoint,
        "pool": platform.pool,
        "clients": {app: platform.client_id(app) for app in ("church", "events")},
        "tokens": {
            "church": {"access": church["AccessToken"], "id": church["IdToken"]},
            "events": {"access": events["AccessToken"]},
        },
    }
    return run_node(platform, "jwt_verify.mjs", config) | {"config": config}


def test_the_local_jwks_is_rs256(journal: dict[str, Any]) -> None:
    jwks = ok(journal, "jwks")
    assert jwks["kids"]
    assert set(jwks["algs"]) == {"RS256"}


def test_churchs_access_and_id_tokens_verify(journal: dict[str, Any]) -> None:
    church, pool = journal["config"]["clients"]["church"], journal["config"]["pool"]
    issuer = f"https://cognito-idp.eu-west-1.amazonaws.com/{pool}"
    assert ok(journal, "churchAccess") == {
        "token_use": "access",
        "client_id": church,
        "aud": None,
        "iss": issuer,
    }
    assert ok(journal, "churchId") == {"token_use": "id", "client_id": None, "aud": church, "iss": issuer}


def test_an_id_token_is_not_an_access_token(journal: dict[str, Any]) -> None:
    refused(journal, "idTokenAsAccess", "CognitoJwtInvalidTokenUseError")


def test_an_events_token_is_refused_for_churchs_client(journal: dict[str, Any]) -> None:
    message = refused(journal, "eventsOnChurch", "CognitoJwtInvalidClientIdError")
    assert "client" in message.lower(), message
    assert ok(journal, "eventsOnEvents")["client_id"] == journal["config"]["clients"]["events"]


def test_a_tampered_token_fails_its_signature(journal: dict[str, Any]) -> None:
    refused(journal, "tampered", "JwtInvalidSignatureError")
