"""The local Cognito layer: moto's Cognito behind HTTP, with Integreat's real triggers fired where
Cognito fires them, for any client of the endpoint (here boto3, speaking AWS JSON 1.1)."""

from __future__ import annotations

import json
import secrets
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.apps import Database
from chalicelib.identity import triggers
from chalicelib.identity.rs256 import b64url_decode
from chalicelib.identity.tokens import TokenError
from chalicelib.runtime import Runtime
from integreat.local.cognito import LocalCognito
from tests.conftest import IdentityPlatform, installed
from tests.identity import PASSWORD


def run_trigger(name: str, event: dict[str, Any]) -> dict[str, Any]:
    """What the orchestrator passes: the deployed handler, with the installed runtime."""
    result: dict[str, Any] = getattr(triggers, name)(event, None)
    return result


class Local(NamedTuple):
    url: str
    layer: LocalCognito
    runtime: Runtime
    cognito: Any  # a boto3 client whose endpoint is the layer
    identity: IdentityPlatform

    def sign_up(self, slug: str, tag: str) -> str:
        username = f"{tag}-{secrets.token_hex(3)}@example.org"
        self.cognito.sign_up(
            ClientId=self.identity.clients[slug],
            Username=username,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": username}],
        )
        self.cognito.confirm_sign_up(
            ClientId=self.identity.clients[slug], Username=username, ConfirmationCode="123456"
        )
        return username

    def login(self, slug: str, username: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cognito.initiate_auth(
            ClientId=self.identity.clients[slug],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return result

    def groups(self, username: str) -> list[str]:
        found = self.identity.cognito().admin_list_groups_for_user(
            UserPoolId=self.identity.user_pool_id, Username=username
        )
        return sorted(g["GroupName"] for g in found["Groups"])


@pytest.fixture
def local(identity: IdentityPlatform, tmp_path: Path) -> Iterator[Local]:
    layer = LocalCognito(identity.endpoint, key_file=tmp_path / "key.pem", run_trigger=run_trigger)
    url = layer.start()
    jwks_url = f"{url}/{identity.user_pool_id}/.well-known/jwks.json"
    database = Database(identity.platform.runtime_url, pool_size=2)
    runtime = Runtime(identity.settings, database, jwks_url=jwks_url)
    cognito = boto3.client("cognito-idp", endpoint_url=url, region_name="eu-west-1")
    try:
        with installed(runtime):
            yield Local(url, layer, runtime, cognito, identity)
    finally:
        layer.stop()


def claims(token: str, part: int = 1) -> dict[str, Any]:
    """The payload (or, with part=0, the header) of a token."""
    decoded: dict[str, Any] = json.loads(b64url_decode(token.split(".")[part]))
    return decoded


def test_confirming_a_sign_up_fires_post_confirmation(local: Local) -> None:
    alice = local.sign_up("church", "alice")
    assert local.groups(alice) == ["church"]


def test_admin_confirmation_fires_post_confirmation_too(local: Local) -> None:
    username = f"adm-{secrets.token_hex(3)}@example.org"
    local.cognito.sign_up(ClientId=local.identity.clients["church"], Username=username, Password=PASSWORD)
    local.cognito.admin_confirm_sign_up(UserPoolId=local.identity.user_pool_id, Username=username)
    # CLIENT_ID_NOT_APPLICABLE: the client recorded at pre sign-up decides (decision 5)
    assert local.groups(username) == ["church"]


def test_self_sign_up_to_an_invite_only_app_is_refused_and_leaves_no_user(local: Local) -> None:
    username = f"sam-{secrets.token_hex(3)}@example.org"
    with pytest.raises(ClientError) as refused:
        local.cognito.sign_up(
            ClientId=local.identity.clients["students"], Username=username, Password=PASSWORD
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "UserLambdaValidationException"
    assert error["Message"].startswith("PreSignUp failed with error ")
    assert "invite-only" in error["Message"]
    with pytest.raises(ClientError, match="UserNotFoundException"):
        local.identity.cognito().admin_get_user(UserPoolId=local.identity.user_pool_id, Username=username)


def test_sign_in_issues_tokens_scoped_by_the_trigger_and_signed_locally(local: Local) -> None:
    bob = local.sign_up("church", "bob")
    tokens = local.login("church", bob)
    access = local.runtime.verifier.verify(tokens["AccessToken"], "access")
    id_caller = local.runtime.verifier.verify(tokens["IdToken"], "id")
    assert (access.app, access.roles, id_caller.app) == ("church", ("member",), "church")
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        assert claims(token)["integreat:app"] == "church"
        assert claims(token)["integreat:roles"] == "member"
        kid = local.layer.jwks()["keys"][0]["kid"]
        assert claims(token, part=0) == {"kid": kid, "alg": "RS256"}  # Cognito sends no "typ"
        assert claims(token)["cognito:groups"] == ["church"]
    assert "church/member" in claims(tokens["AccessToken"])["scope"].split()
    assert "aws.cognito.signin.user.admin" in claims(tokens["AccessToken"])["scope"].split()
    assert claims(tokens["IdToken"])["cognito:preferred_role"].endswith("-app-church")
    # the re-minted access token still works for moto's own token operations
    assert local.cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == bob


def test_a_user_of_two_apps_gets_an_events_token_through_events_client(local: Local) -> None:
    carol = local.sign_up("church", "carol")
    tokens = local.login("events", carol)  # events is open: enrolled on sign-in
    caller = local.runtime.verifier.verify(tokens["AccessToken"], "access")
    assert (caller.app, caller.roles) == ("events", ("member",))
    assert claims(tokens["AccessToken"])["cognito:groups"] == ["events"]
    assert "events/member" in claims(tokens["AccessToken"])["scope"].split()
    assert "church/member" not in claims(tokens["AccessToken"])["scope"]
    assert local.groups(carol) == ["church", "events"]
    church = local.runtime.verifier.verify(local.login("church", carol)["AccessToken"], "access")
    assert church.app == "church"  # the same user, scoped by the client they sign in through


def test_refresh_after_removal_drops_the_app(local: Local) -> None:
    erin = local.sign_up("church", "erin")
    tokens = local.login("church", erin)
    local.identity.cognito().admin_remove_user_from_group(
        UserPoolId=local.identity.user_pool_id, Username=erin, GroupName="church"
    )
    refreshed = local.cognito.initiate_auth(
        ClientId=local.identity.clients["church"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    for token in (refreshed["AccessToken"], refreshed["IdToken"]):
        assert "integreat:app" not in claims(token)
        assert "cognito:groups" not in claims(token)
    assert not local.runtime.verifier.verify(refreshed["AccessToken"], "access").is_member
    assert local.groups(erin) == []  # a refresh never re-enrols


def test_a_password_reset_fires_post_confirmation_and_buys_no_membership(local: Local) -> None:
    gus = local.sign_up("church", "gus")
    events = local.identity.clients["events"]
    local.cognito.forgot_password(ClientId=events, Username=gus)
    local.cognito.confirm_forgot_password(
        ClientId=events, Username=gus, ConfirmationCode="123456", Password=PASSWORD + "2"
    )
    assert local.groups(gus) == ["church"]  # PostConfirmation_ConfirmForgotPassword enrols nowhere


def test_an_unsigned_client_like_amplify_signs_in_and_out(local: Local) -> None:
    hana = local.sign_up("church", "hana")
    amplify = boto3.client(
        "cognito-idp",
        endpoint_url=local.url,
        region_name="eu-west-1",
        config=Config(signature_version=UNSIGNED),
    )
    tokens = amplify.initiate_auth(
        ClientId=local.identity.clients["church"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": hana, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert local.runtime.verifier.verify(tokens["AccessToken"], "access").app == "church"
    assert amplify.get_user(AccessToken=tokens["AccessToken"])["Username"] == hana
    amplify.global_sign_out(AccessToken=tokens["AccessToken"])
    with pytest.raises(ClientError, match="NotAuthorizedException"):
        amplify.get_user(AccessToken=tokens["AccessToken"])


def test_a_token_signed_by_moto_itself_is_refused(local: Local) -> None:
    dave = local.sign_up("church", "dave")
    local.login("church", dave)  # the verifier has fetched the layer's key set
    straight = local.identity.cognito().initiate_auth(
        ClientId=local.identity.clients["church"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": dave, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    with pytest.raises(TokenError, match="unknown signing key"):
        local.runtime.verifier.verify(straight["AccessToken"], "access")


def test_the_layer_serves_its_own_key_set(local: Local) -> None:
    import urllib.request

    url = f"{local.url}/{local.identity.user_pool_id}/.well-known/jwks.json"
    with urllib.request.urlopen(url) as response:  # noqa: S310 (loopback)
        served = json.load(response)
    assert served == local.layer.jwks()
    assert served["keys"][0]["kid"].startswith("integreat-local-")


def test_the_signing_key_is_private_and_reused(identity: IdentityPlatform, tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "key.pem"
    first = LocalCognito(identity.endpoint, key_file=key_file, run_trigger=run_trigger)
    again = LocalCognito(identity.endpoint, key_file=key_file, run_trigger=run_trigger)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.jwks() == again.jwks()


def test_stop_ends_the_thread_and_frees_the_port(identity: IdentityPlatform, tmp_path: Path) -> None:
    layer = LocalCognito(identity.endpoint, key_file=tmp_path / "key.pem", run_trigger=run_trigger)
    port = int(layer.start().rsplit(":", 1)[1])
    layer.stop()
    assert not [t for t in threading.enumerate() if t.name == f"local-cognito-{port}"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_every_trigger_sees_the_generated_username_of_an_email_pool(
    identity: IdentityPlatform, tmp_path: Path
) -> None:
    # With email as username, Cognito's userName is a generated id that moto alone can tell: the
    # layer must hand the same one to each trigger. This pool's client is no Integreat app, so a
    # recording function stands in for the handlers here.
    moto = identity.cognito()
    pool = moto.create_user_pool(PoolName=f"email-{secrets.token_hex(3)}", UsernameAttributes=["email"])
    pool_id = pool["UserPool"]["Id"]
    client = moto.create_user_pool_client(UserPoolId=pool_id, ClientName="app")["UserPoolClient"]
    client_id = client["ClientId"]
    seen: list[tuple[str, str, str]] = []

    def record(name: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append((name, event["triggerSource"], event["userName"]))
        return event

    layer = LocalCognito(identity.endpoint, key_file=tmp_path / "key.pem", run_trigger=record)
    cognito = boto3.client("cognito-idp", endpoint_url=layer.start(), region_name="eu-west-1")
    try:
        email = f"fay-{secrets.token_hex(3)}@example.org"
        sub = cognito.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)["UserSub"]
        cognito.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode="000000")
        tokens = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
    finally:
        layer.stop()
    assert seen == [
        ("pre_sign_up", "PreSignUp_SignUp", sub),
        ("post_confirmation", "PostConfirmation_ConfirmSignUp", sub),
        ("pre_token_generation", "TokenGeneration_Authentication", sub),
    ]
    assert claims(tokens["IdToken"])["cognito:username"] == sub


def test_browsers_preflights_are_answered_and_every_reply_is_readable_cross_origin(local: Local) -> None:
    # Amplify in a browser on its own origin calls Cognito cross-origin; Cognito allows any origin.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(local.url.rsplit(":", 1)[1]), timeout=10)
    asked = "content-type,x-amz-target,x-amz-user-agent"
    conn.request("OPTIONS", "/", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": asked})  # fmt: skip
    preflight = conn.getresponse()
    preflight.read()
    assert preflight.status == 200
    assert preflight.getheader("Access-Control-Allow-Origin") == "*"
    assert "POST" in (preflight.getheader("Access-Control-Allow-Methods") or "")
    assert preflight.getheader("Access-Control-Allow-Headers") == asked
    body = json.dumps({"ClientId": local.identity.clients["church"], "Username": "nobody@example.org",
                       "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "nobody@example.org", "PASSWORD": "x"}})  # fmt: skip
    conn.request("POST", "/", body=body, headers={"Origin": "http://localhost:5173", "Content-Type": "application/x-amz-json-1.1",
                                                  "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"})  # fmt: skip
    refused = conn.getresponse()
    refused.read()
    assert refused.status == 400
    assert refused.getheader("Access-Control-Allow-Origin") == "*"
    assert "x-amzn-ErrorType" in (refused.getheader("Access-Control-Expose-Headers") or "")
    conn.close()
