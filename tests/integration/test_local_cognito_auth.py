"""The local Cognito layer as real clients meet it: pycognito's SRP (the flow Amplify JS uses by
default), USER_PASSWORD_AUTH, refresh, revocation, password reset and change, Cognito's claims,
and JSON errors. The pool and clients are the provisioned test ones (PreventUserExistenceErrors
ENABLED); the triggers are the real handlers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP  # type: ignore[import-untyped]

from chalicelib.apps import Database
from chalicelib.runtime import Runtime
from integreat.local import srp
from integreat.local.cognito import LocalCognito
from tests.conftest import IdentityPlatform, installed
from tests.identity import PASSWORD
from tests.integration.test_local_cognito import Local, claims, run_trigger

INCORRECT = "Incorrect username or password."
ACCESS_CLAIMS = {"version", "event_id", "origin_jti", "jti", "auth_time", "iat", "exp", "client_id", "username",
                 "token_use", "scope", "sub", "iss"}  # fmt: skip
ID_CLAIMS = {"email_verified", "event_id", "origin_jti", "jti", "auth_time", "aud", "cognito:username", "email",
             "token_use", "iat", "exp", "sub", "iss"}  # fmt: skip


@pytest.fixture
def local(identity: IdentityPlatform, tmp_path: Path) -> Iterator[Local]:
    layer = LocalCognito(identity.endpoint, key_file=tmp_path / "key.pem", run_trigger=run_trigger)
    url = layer.start()
    jwks_url = f"{url}/{identity.user_pool_id}/.well-known/jwks.json"
    runtime = Runtime(
        identity.settings, Database(identity.platform.runtime_url, pool_size=2), jwks_url=jwks_url
    )
    # unsigned, as Amplify's calls are
    cognito = boto3.client("cognito-idp", endpoint_url=url, region_name="eu-west-1",
                           config=Config(signature_version=UNSIGNED))  # fmt: skip
    try:
        with installed(runtime):
            yield Local(url, layer, runtime, cognito, identity)
    finally:
        layer.stop()


def srp_client(local: Local, username: str, password: str = PASSWORD) -> Any:
    """pycognito's SRP client, talking to the layer."""
    return AWSSRP(username, password, local.identity.user_pool_id, local.identity.clients["church"],
                  client=local.cognito)  # fmt: skip


def refused(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error: dict[str, str] = caught.value.response["Error"]
    return error


def signed_at(local: Local, user: Any, stamp: str, block: str | None = None) -> dict[str, Any]:
    """A PASSWORD_VERIFIER answer by pycognito's key derivation, with our timestamp and block."""
    pool, client_id = local.identity.user_pool_id, local.identity.clients["church"]
    challenge = local.cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=user.get_auth_params()
    )
    params = challenge["ChallengeParameters"]
    user_id, block = params["USER_ID_FOR_SRP"], block or params["SECRET_BLOCK"]
    key = user.get_password_authentication_key(
        user_id, user.password, int(params["SRP_B"], 16), params["SALT"]
    )
    message = pool.split("_")[1].encode() + user_id.encode() + base64.b64decode(block) + stamp.encode()
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return {"USERNAME": user_id, "TIMESTAMP": stamp, "PASSWORD_CLAIM_SECRET_BLOCK": block,
            "PASSWORD_CLAIM_SIGNATURE": signature}  # fmt: skip


def answer(local: Local, responses: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = local.cognito.respond_to_auth_challenge(
        ClientId=local.identity.clients["church"],
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=responses,
    )
    return result


def test_srp_with_the_right_password_gets_tokens_with_cognitos_claims(local: Local) -> None:
    ivy = local.sign_up("church", "ivy")
    tokens = srp_client(local, ivy).authenticate_user()["AuthenticationResult"]
    assert local.runtime.verifier.verify(tokens["AccessToken"], "access").app == "church"
    access, id_token = claims(tokens["AccessToken"]), claims(tokens["IdToken"])
    assert access.keys() >= ACCESS_CLAIMS
    assert access["version"] == 2
    assert id_token.keys() >= ID_CLAIMS
    assert id_token["email"] == ivy
    assert id_token["email_verified"] is False  # the test pool verifies nothing (see test_local_cognito_pool)
    assert (access["event_id"], access["origin_jti"]) == (id_token["event_id"], id_token["origin_jti"])
    assert access["jti"] != id_token["jti"]
    kid = local.layer.jwks()["keys"][0]["kid"]
    assert (
        claims(tokens["AccessToken"], part=0)
        == claims(tokens["IdToken"], part=0)
        == {"kid": kid, "alg": "RS256"}
    )


def test_srp_refuses_a_wrong_password(local: Local) -> None:
    jack = local.sign_up("church", "jack")
    error = refused(srp_client(local, jack, "Wr0ng-Horse-Battery!").authenticate_user)
    assert (error["Code"], error["Message"]) == ("NotAuthorizedException", INCORRECT)


def test_srp_answers_an_unknown_user_as_cognito_does(local: Local) -> None:
    # PreventUserExistenceErrors ENABLED: a simulated challenge, then the generic refusal
    nobody = srp_client(local, f"nobody-{secrets.token_hex(3)}@example.org")
    challenge = local.cognito.initiate_auth(
        ClientId=local.identity.clients["church"],
        AuthFlow="USER_SRP_AUTH",
        AuthParameters=nobody.get_auth_params(),
    )
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    error = refused(nobody.authenticate_user)
    assert (error["Code"], error["Message"]) == ("NotAuthorizedException", INCORRECT)


def test_srp_refuses_a_replayed_a_forged_and_a_stale_answer(local: Local) -> None:
    kim = srp_client(local, local.sign_up("church", "kim"))
    now = srp.timestamp(datetime.now(UTC))
    replayed = signed_at(local, kim, now)
    assert answer(local, replayed)["AuthenticationResult"]["AccessToken"]  # the first answer is right
    forged = signed_at(local, kim, now, block=base64.b64encode(secrets.token_bytes(64)).decode())
    stale = signed_at(local, kim, srp.timestamp(datetime.now(UTC) - timedelta(minutes=10)))
    for responses in (replayed, forged, stale):
        error = refused(answer, local=local, responses=responses)
        assert (error["Code"], error["Message"]) == ("NotAuthorizedException", INCORRECT)


def test_user_password_auth_refuses_a_wrong_password_and_an_unknown_user(local: Local) -> None:
    lee = local.sign_up("church", "lee")
    for username, password in (
        (lee, "Wr0ng-Horse-Battery!"),
        (f"nobody-{secrets.token_hex(3)}@example.org", PASSWORD),
    ):
        error = refused(local.cognito.initiate_auth, ClientId=local.identity.clients["church"],
                        AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password})  # fmt: skip
        assert (error["Code"], error["Message"]) == ("NotAuthorizedException", INCORRECT)


def test_both_refreshes_remint_and_keep_the_sign_in(local: Local) -> None:
    mia = local.sign_up("church", "mia")
    tokens = local.login("church", mia)
    client_id, first = local.identity.clients["church"], claims(tokens["AccessToken"])
    amplify = local.cognito.get_tokens_from_refresh_token(
        ClientId=client_id, RefreshToken=tokens["RefreshToken"]
    )
    legacy = local.cognito.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})  # fmt: skip
    for refreshed in (amplify["AuthenticationResult"], legacy["AuthenticationResult"]):
        caller = local.runtime.verifier.verify(refreshed["AccessToken"], "access")
        assert (caller.app, caller.roles) == ("church", ("member",))
        again = claims(refreshed["AccessToken"])
        assert again["jti"] != first["jti"]
        assert [again[k] for k in ("origin_jti", "event_id", "auth_time")] == [
            first[k] for k in ("origin_jti", "event_id", "auth_time")
        ]
        assert claims(refreshed["IdToken"])["origin_jti"] == first["origin_jti"]


def assert_refresh_refused(local: Local, refresh_token: str) -> None:
    client_id = local.identity.clients["church"]
    for error in (
        refused(local.cognito.get_tokens_from_refresh_token, ClientId=client_id, RefreshToken=refresh_token),
        refused(local.cognito.initiate_auth, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token}),
    ):  # fmt: skip
        assert (error["Code"], error["Message"]) == (
            "NotAuthorizedException",
            "Refresh Token has been revoked",
        )


def test_revoke_token_ends_the_refresh_token_and_its_access_token(local: Local) -> None:
    ned = local.sign_up("church", "ned")
    kept, revoked = local.login("church", ned), local.login("church", ned)
    local.cognito.revoke_token(Token=revoked["RefreshToken"], ClientId=local.identity.clients["church"])
    assert_refresh_refused(local, revoked["RefreshToken"])
    error = refused(local.cognito.get_user, AccessToken=revoked["AccessToken"])
    assert (error["Code"], error["Message"]) == ("NotAuthorizedException", "Access Token has been revoked")
    assert local.cognito.get_user(AccessToken=kept["AccessToken"])["Username"] == ned  # another sign-in stays
    local.cognito.get_tokens_from_refresh_token(
        ClientId=local.identity.clients["church"], RefreshToken=kept["RefreshToken"]
    )


def test_revoke_token_of_another_client_is_refused(local: Local) -> None:
    oz = local.sign_up("church", "oz")
    tokens = local.login("church", oz)
    error = refused(
        local.cognito.revoke_token, Token=tokens["RefreshToken"], ClientId=local.identity.clients["events"]
    )
    assert error["Code"] == "UnauthorizedException"
    local.cognito.get_tokens_from_refresh_token(
        ClientId=local.identity.clients["church"], RefreshToken=tokens["RefreshToken"]
    )


def test_global_sign_outs_end_every_refresh_token(local: Local) -> None:
    pat = local.sign_up("church", "pat")
    tokens = local.login("church", pat)
    local.cognito.global_sign_out(AccessToken=tokens["AccessToken"])
    assert_refresh_refused(local, tokens["RefreshToken"])
    tokens = local.login("church", pat)
    local.identity.cognito().admin_user_global_sign_out(UserPoolId=local.identity.user_pool_id, Username=pat)
    assert_refresh_refused(local, tokens["RefreshToken"])


def test_a_password_reset_replaces_the_password(local: Local) -> None:
    quinn = local.sign_up("church", "quinn")
    client_id, new = local.identity.clients["church"], PASSWORD + "2"
    sent = local.cognito.forgot_password(ClientId=client_id, Username=quinn)["CodeDeliveryDetails"]
    assert sent == {"Destination": f"{quinn[0]}***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    local.cognito.confirm_forgot_password(
        ClientId=client_id, Username=quinn, ConfirmationCode="123456", Password=new
    )
    assert srp_client(local, quinn, new).authenticate_user()["AuthenticationResult"]["AccessToken"]
    assert refused(srp_client(local, quinn).authenticate_user)["Code"] == "NotAuthorizedException"
    assert refused(local.login, slug="church", username=quinn)["Code"] == "NotAuthorizedException"


def test_change_password_needs_the_old_one(local: Local) -> None:
    rob = local.sign_up("church", "rob")
    token, new = local.login("church", rob)["AccessToken"], PASSWORD + "3"
    error = refused(local.cognito.change_password, AccessToken=token, PreviousPassword="Wr0ng-Horse-Battery!",
                    ProposedPassword=new)  # fmt: skip
    assert (error["Code"], error["Message"]) == ("NotAuthorizedException", INCORRECT)
    local.cognito.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=new)
    assert srp_client(local, rob, new).authenticate_user()["AuthenticationResult"]["AccessToken"]
    assert refused(srp_client(local, rob).authenticate_user)["Message"] == INCORRECT


def test_an_operation_moto_cannot_serve_answers_cognitos_json_error(local: Local) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(local.url.rsplit(":", 1)[1]), timeout=30)
    body = json.dumps({"ClientId": local.identity.clients["church"]})
    target = {"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUserAuthFactors",
              "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    try:
        conn.request("POST", "/", body=body, headers=target)
        response = conn.getresponse()
        status, error_type, payload = response.status, response.getheader("x-amzn-ErrorType"), response.read()
    finally:
        conn.close()
    assert b"<" not in payload
    parsed = json.loads(payload)
    assert (status, error_type, parsed["__type"]) == (500, "InternalErrorException", "InternalErrorException")
    assert "GetUserAuthFactors" in parsed["message"]
    # a client SDK reads the same code
    assert (
        refused(local.cognito.get_user_auth_factors, AccessToken="x.y.z")["Code"] == "InternalErrorException"
    )
