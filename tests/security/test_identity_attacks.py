"""Identity attacks, each an explicit test (issue: identity). Real Postgres, moto Cognito, real
RS256 tokens (moto's, and a test signing key posing as the pool's), the real handlers."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from chalice.test import Client

import app as chalice_app  # noqa: F401 (importing the app registers every route and its policy)
from chalicelib.gateway.policy import POLICIES
from chalicelib.identity import triggers
from chalicelib.identity.tokens import TokenError, issuer_for
from chalicelib.runtime import Runtime
from tests.conftest import IdentityPlatform
from tests.identity import Users, cognito_event
from tests.tokens import Signer, access_claims, id_claims


@pytest.fixture
def rt(signed_runtime: Runtime) -> Runtime:
    return signed_runtime


@pytest.fixture
def api(signed_api: Client) -> Client:
    return signed_api


@pytest.fixture
def users(identity: IdentityPlatform, rt: Runtime) -> Users:
    return Users(identity)


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(3)}@example.org"


def issuer(identity: IdentityPlatform) -> str:
    return issuer_for("eu-west-1", identity.user_pool_id)


def get_me(api: Client, token: str) -> tuple[int, dict[str, object]]:
    response = api.http.get("/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json_body


# --- post confirmation ---------------------------------------------------------------------------


def test_forgot_password_confirmation_via_another_apps_client_changes_nothing(users: Users) -> None:
    victim = users.sign_up("church", email("fp"))
    users.confirmed(victim, users.client("events"), "cognito_post_confirmation_confirm_forgot_password")
    assert users.groups(victim) == ["church"]


def test_confirming_through_another_apps_client_buys_no_membership(users: Users) -> None:
    # Signed up through church (recorded at pre sign-up), confirmed through events' client.
    mallory = users.sign_up("church", email("confirm-b"), confirm_via="events")
    assert users.groups(mallory) == ["church"]


def test_client_id_not_applicable_fails_closed(users: Users, identity: IdentityPlatform) -> None:
    name = email("na")
    identity.cognito().admin_create_user(UserPoolId=identity.user_pool_id, Username=name)
    users.confirmed(name, "CLIENT_ID_NOT_APPLICABLE")
    assert users.groups(name) == []


def test_unknown_client_fails_closed(users: Users, identity: IdentityPlatform) -> None:
    name = email("unknown")
    identity.cognito().admin_create_user(UserPoolId=identity.user_pool_id, Username=name)
    users.confirmed(name, "7unknownclient000000000000")
    assert users.groups(name) == []


def test_forged_client_metadata_is_ignored(users: Users, identity: IdentityPlatform) -> None:
    name = email("meta")
    identity.cognito().admin_create_user(UserPoolId=identity.user_pool_id, Username=name)
    event = cognito_event(
        "cognito_post_confirmation_confirm_signup", username=name, client_id=users.client("church")
    )
    event["request"]["clientMetadata"] = {
        "app": "students",
        "clientId": users.client("students"),
        "group": "integreat-admin",
    }
    triggers.post_confirmation(event, None)
    assert users.groups(name) == ["church"]


def test_trigger_run_twice_is_idempotent(users: Users, identity: IdentityPlatform) -> None:
    name = users.sign_up("church", email("twice"))
    users.confirmed(name, users.client("church"))  # Cognito retries
    assert users.groups(name) == ["church"]
    rows = identity.platform.connect().cursor()
    rows.execute("SELECT count(*) FROM integreat.signups WHERE username = %s", (name,))
    assert rows.fetchone() == (1,)  # one record of (user, client), however often the triggers ran
    rows.connection.close()


def test_returns_the_event_unchanged(users: Users) -> None:
    event = cognito_event("cognito_post_confirmation_confirm_forgot_password", username="x", client_id="y")
    snapshot = json.loads(json.dumps(event))
    assert triggers.post_confirmation(event, None) == snapshot


# --- attributes the user can write ---------------------------------------------------------------


def test_user_written_attribute_decides_nothing(users: Users, identity: IdentityPlatform) -> None:
    # moto accepts any attribute through UpdateUserAttributes (it does not enforce the client's
    # WriteAttributes; the provisioning test asserts those). So let the user write the
    # attribute, and check that no code path reads it.
    name = users.sign_up("church", email("attr"))
    tokens = users.login("church", name)
    identity.cognito().update_user_attributes(
        AccessToken=tokens["access"], UserAttributes=[{"Name": "custom:app", "Value": "students"}]
    )
    event = cognito_event(
        "cognito_pre_token_v2_authentication",
        username=name,
        client_id=users.client("church"),
        groups=users.groups(name),
    )
    event["request"]["userAttributes"] |= {"custom:app": "students", "custom:integreat_app": "students"}
    scope = triggers.pre_token_generation(event, None)["response"]["claimsAndScopeOverrideDetails"]
    assert scope["idTokenGeneration"]["claimsToAddOrOverride"]["integreat:app"] == "church"
    assert scope["groupOverrideDetails"]["groupsToOverride"] == ["church"]


def test_pre_token_never_emits_claims_cognito_reserves(users: Users) -> None:
    reserved = {
        "acr", "amr", "at_hash", "aud", "auth_time", "azp", "client_id", "cognito:username", "device_key",
        "event_id", "exp", "iat", "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "scope", "sub",
        "token_use", "username", "version",
    }  # fmt: skip
    name = users.sign_up("church", email("claims"))
    users.add_to_group(name, "church-admin")
    for event_name in ("cognito_pre_token_v2_authentication", "cognito_pre_token_v1_authentication"):
        response = users.pre_token("church", name, event_name)["response"]
        details = response.get("claimsAndScopeOverrideDetails") or response["claimsOverrideDetails"]
        emitted = set(details.get("claimsToAddOrOverride", {}))
        for token in ("idTokenGeneration", "accessTokenGeneration"):
            emitted |= set(details.get(token, {}).get("claimsToAddOrOverride", {}))
        assert emitted == {"integreat:app", "integreat:roles"}
        assert not emitted & reserved
        assert not [c for c in emitted if c.startswith("cognito:")]


# --- tokens --------------------------------------------------------------------------------------


def test_valid_signed_token_is_accepted(identity: IdentityPlatform, signer: Signer, api: Client) -> None:
    # the control for every rejection below
    token = signer.sign(access_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    status, body = get_me(api, token)
    assert status == 200
    assert (body["app"], body["roles"]) == ("church", ["member"])


def test_alg_none_is_refused(identity: IdentityPlatform, api: Client) -> None:
    token = Signer.forge_none(access_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    assert get_me(api, token) == (
        401,
        _error("invalid_token", "unsupported algorithm: only RS256 is accepted"),
    )


def test_hs256_signed_with_the_public_key_is_refused(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    forged = signer.forge_hs256_with_public_key(
        access_claims(issuer(identity), identity.clients["church"], "ann", ["church", "integreat-admin"])
    )
    assert get_me(api, forged)[0] == 401


def test_id_token_where_access_token_is_required(
    identity: IdentityPlatform, signer: Signer, api: Client, rt: Runtime
) -> None:
    id_token = signer.sign(id_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    assert get_me(api, id_token) == (401, _error("invalid_token", "an access token is required"))
    access = signer.sign(access_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    with pytest.raises(TokenError, match="an id token is required"):
        rt.verifier.verify(access, "id")
    assert rt.verifier.verify(id_token, "id").app == "church"


def test_token_of_app_b_on_app_a_routes_is_forbidden(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    # An events admin (token from the events client) on church's member list.
    token = signer.sign(
        access_claims(
            issuer(identity), identity.clients["events"], "eve", ["events", "events-admin", "church-admin"]
        )
    )
    response = api.http.get("/apps/church/members", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "members" not in response.json_body


def test_wrong_issuer_or_pool_is_refused(identity: IdentityPlatform, signer: Signer, api: Client) -> None:
    for other in (
        issuer_for("eu-west-1", "eu-west-1_OtherPool1"),
        issuer_for("us-east-1", identity.user_pool_id),
    ):
        token = signer.sign(access_claims(other, identity.clients["church"], "ann", ["church"]))
        assert get_me(api, token) == (401, _error("invalid_token", "token from another issuer"))


def test_expired_token_is_refused(identity: IdentityPlatform, signer: Signer, api: Client) -> None:
    claims = access_claims(issuer(identity), identity.clients["church"], "ann", ["church"])
    claims |= {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 120}
    assert get_me(api, signer.sign(claims)) == (401, _error("invalid_token", "token expired"))


def test_tampered_token_is_refused(identity: IdentityPlatform, signer: Signer, api: Client) -> None:
    token = signer.sign(access_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["cognito:groups"] = ["church", "integreat-admin"]
    raised = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for forged in (f"{head}.{raised}.{sig}", f"{head}.{body}.{flipped}"):
        assert get_me(api, forged) == (401, _error("invalid_token", "invalid signature"))


def test_token_signed_by_another_key_is_refused(identity: IdentityPlatform, api: Client) -> None:
    stranger = Signer(kid="test-key-1")  # same kid, different key
    token = stranger.sign(access_claims(issuer(identity), identity.clients["church"], "ann", ["church"]))
    assert get_me(api, token) == (401, _error("invalid_token", "invalid signature"))


def test_app_claim_that_disagrees_with_the_client_is_refused(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    claims = access_claims(
        issuer(identity), identity.clients["church"], "ann", ["church"], **{"integreat:app": "events"}
    )
    assert get_me(api, signer.sign(claims)) == (
        401,
        _error("invalid_token", "app claim does not match the token's client"),
    )
    claims = access_claims(
        issuer(identity), identity.clients["church"], "ann", ["church"], **{"integreat:roles": "member admin"}
    )
    assert get_me(api, signer.sign(claims))[0] == 401


ADMIN_PATHS = sorted({path for path, _ in POLICIES if path.startswith("/admin")})
assert ADMIN_PATHS, "no admin routes registered: an empty parametrization would test nothing"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_regular_user_on_admin_routes_is_refused_for_every_method(
    identity: IdentityPlatform, signer: Signer, api: Client, path: str, method: str
) -> None:
    # An admin of every app at once is still not the platform admin.
    groups = ["church", "church-admin", "events", "events-admin", "students", "students-admin"]
    token = signer.sign(access_claims(issuer(identity), identity.clients["church"], "ann", groups))
    response = getattr(api.http, method.lower())(path, headers={"Authorization": f"Bearer {token}"})
    # declared method: the policy refuses it; undeclared one: no policy, denied (or 405 upstream)
    assert response.status_code in ((403,) if (path, method) in POLICIES else (403, 405))
    assert "apps" not in (response.json_body or {})


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_undeclared_routes_and_methods_are_denied(
    identity: IdentityPlatform, signer: Signer, api: Client, method: str
) -> None:
    root = signer.sign(
        access_claims(issuer(identity), identity.clients["church"], "root", ["integreat-admin"])
    )
    response = getattr(api.http, method.lower())(
        "/admin/apps/church/secrets", headers={"Authorization": f"Bearer {root}"}
    )
    assert response.status_code in (403, 404, 405)
    assert response.status_code != 200


def _error(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "request_id": "-"}}
