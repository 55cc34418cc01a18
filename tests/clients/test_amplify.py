"""Amplify JS v6 (`aws-amplify/auth`) against the local platform: `userPoolEndpoint` points it at
the local Cognito layer, and everything a web app does with it must behave as on AWS."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.clients.harness import PASSWORD, Platform, ok, refused, run_node


@pytest.fixture(scope="module")
def journal(node_clients: None, platform: Platform) -> dict[str, Any]:
    config = {
        "api": platform.api,
        "cognito": platform.cognito_endpoint,
        "pool": platform.pool,
        "clients": {app: platform.client_id(app) for app in ("church", "events")},
        "email": f"amplify-{uuid.uuid4().hex[:8]}@example.org",
        "password": PASSWORD,
    }
    return run_node(platform, "amplify.mjs", config) | {"config": config}


def test_sign_up_then_confirm_with_any_code(journal: dict[str, Any]) -> None:
    assert ok(journal, "signUp") == {"isSignUpComplete": False, "step": "CONFIRM_SIGN_UP"}
    confirmed = ok(journal, "confirmSignUp")
    assert confirmed["isSignUpComplete"] is True
    assert confirmed["step"] in ("DONE", "COMPLETE_AUTO_SIGN_IN")


def test_a_wrong_password_is_refused(journal: dict[str, Any]) -> None:
    refused(journal, "wrongPassword", "NotAuthorizedException")


def test_sign_in_uses_srp_by_default(journal: dict[str, Any]) -> None:
    signed = ok(journal, "signIn")
    assert (signed["isSignedIn"], signed["step"]) == (True, "DONE")
    flow = [(c["operation"], c["authFlow"], c["challenge"], c["status"]) for c in signed["calls"]]
    assert flow == [
        ("InitiateAuth", "USER_SRP_AUTH", None, 200),
        ("RespondToAuthChallenge", None, "PASSWORD_VERIFIER", 200),
    ], flow


def test_the_session_holds_tokens_scoped_to_church(journal: dict[str, Any]) -> None:
    session = ok(journal, "session")
    access, id_claims = session["access"], session["id"]
    church = journal["config"]["clients"]["church"]
    assert (access["token_use"], access["client_id"]) == ("access", church)
    assert (id_claims["token_use"], id_claims["aud"]) == ("id", church)
    assert id_claims["email"] == journal["config"]["email"]
    assert access["integreat:app"] == "church"
    assert "church" in access["cognito:groups"]
    assert access.get("origin_jti"), "Amplify revokes at sign-out only a token with origin_jti"
    assert session["hasRefreshToken"] is True


def test_user_attributes_say_the_email_is_verified(journal: dict[str, Any]) -> None:
    attributes = ok(journal, "attributes")
    assert attributes["email"] == journal["config"]["email"]
    assert attributes["email_verified"] == "true"
    assert attributes["sub"]


def test_the_api_accepts_the_access_token(journal: dict[str, Any]) -> None:
    me = ok(journal, "me")
    assert me["status"] == 200, me
    assert (me["body"]["app"], me["body"]["principal"], me["body"]["member"]) == ("church", "user", True)
    assert ok(journal, "churchInbox")["status"] == 200


def test_a_forced_refresh_gives_new_tokens_the_api_accepts(journal: dict[str, Any]) -> None:
    assert ok(journal, "refreshBeforeSignOut") == {"hasAccessToken": True}
    renewed = ok(journal, "forceRefresh")
    assert renewed["changed"] is True
    assert renewed["access"]["client_id"] == journal["config"]["clients"]["church"]
    operations = [(c["operation"], c["status"]) for c in renewed["calls"]]
    assert operations in ([("GetTokensFromRefreshToken", 200)], [("InitiateAuth", 200)]), operations
    me = ok(journal, "meAfterRefresh")
    assert me["status"] == 200, me
    assert me["body"]["app"] == "church"


def test_sign_out_revokes_the_refresh_token(journal: dict[str, Any]) -> None:
    signed_out = ok(journal, "signOut")
    assert [(c["operation"], c["status"]) for c in signed_out["calls"]] == [("RevokeToken", 200)]
    assert signed_out["tokensLeft"] is False
    refused(journal, "refreshAfterSignOut", "NotAuthorizedException")


def test_reset_password_sends_the_code_by_email(journal: dict[str, Any]) -> None:
    reset = ok(journal, "resetPassword")
    assert reset["isPasswordReset"] is False
    assert reset["nextStep"]["resetPasswordStep"] == "CONFIRM_RESET_PASSWORD_WITH_CODE"
    assert reset["nextStep"]["codeDeliveryDetails"]["deliveryMedium"] == "EMAIL"


def test_another_apps_token_is_refused_on_churchs_routes(journal: dict[str, Any]) -> None:
    signed = ok(journal, "eventsSignIn")
    assert signed["isSignedIn"] is True
    assert signed["access"]["client_id"] == journal["config"]["clients"]["events"]
    me = ok(journal, "eventsMe")
    assert (me["status"], me["body"]["app"]) == (200, "events"), me
    assert ok(journal, "eventsOnEventsInbox")["status"] == 200
    denied = ok(journal, "eventsOnChurchInbox")
    assert denied["status"] == 403, denied
    assert set(denied["body"]) == {"error"}
