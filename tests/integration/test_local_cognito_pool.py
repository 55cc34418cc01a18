"""The one pool definition (integreat/identity_pool.py) as the local platform creates it in moto,
the journey of a user of such a pool through the layer (e-mail as username, auto-verified e-mail,
e-mail recovery), and SRP refused when moto is not in the layer's process."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP  # type: ignore[import-untyped]

from integreat.identity_pool import POOL, create_user_pool_kwargs
from integreat.local.cognito import LocalCognito
from integreat.local.moto_users import InProcessMoto, NotInProcessError
from integreat.local.postgres import free_port, port_in_use
from tests.conftest import IdentityPlatform
from tests.identity import PASSWORD
from tests.integration.test_local_cognito import claims

FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


class EmailPool(NamedTuple):
    pool_id: str
    client_id: str
    cognito: Any  # a boto3 client of the layer
    seen: list[tuple[str, str]]  # (trigger source, userName) of each trigger fired


def created(moto: Any) -> tuple[str, str]:
    pool = moto.create_user_pool(**create_user_pool_kwargs(f"def-{secrets.token_hex(3)}"))
    pool_id = pool["UserPool"]["Id"]
    client = moto.create_user_pool_client(UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=FLOWS,
                                          PreventUserExistenceErrors="ENABLED")  # fmt: skip
    return pool_id, client["UserPoolClient"]["ClientId"]


@pytest.fixture
def email_pool(identity: IdentityPlatform, tmp_path: Path) -> Iterator[EmailPool]:
    # Not an Integreat app client: a recording function stands in for the trigger handlers.
    pool_id, client_id = created(identity.cognito())
    seen: list[tuple[str, str]] = []

    def record(name: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append((event["triggerSource"], event["userName"]))
        return event

    layer = LocalCognito(identity.endpoint, key_file=tmp_path / "key.pem", run_trigger=record)
    cognito = boto3.client("cognito-idp", endpoint_url=layer.start(), region_name="eu-west-1")
    try:
        yield EmailPool(pool_id, client_id, cognito, seen)
    finally:
        layer.stop()


def test_the_local_pool_has_the_definitions_settings(identity: IdentityPlatform) -> None:
    moto = identity.cognito()
    pool = moto.describe_user_pool(UserPoolId=created(moto)[0])["UserPool"]
    assert pool["UsernameAttributes"] == list(POOL.username_attributes) == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Priority": 1, "Name": "verified_email"}]
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == POOL.password.min_length == 12
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False


def sign_up(pool: EmailPool) -> str:
    email = f"uma-{secrets.token_hex(3)}@example.org"
    pool.cognito.sign_up(ClientId=pool.client_id, Username=email, Password=PASSWORD)
    pool.cognito.confirm_sign_up(ClientId=pool.client_id, Username=email, ConfirmationCode="123456")
    return email


def test_a_confirmed_sign_up_has_a_verified_email_and_signs_in_by_srp(email_pool: EmailPool) -> None:
    email = sign_up(email_pool)
    tokens = AWSSRP(email, PASSWORD, email_pool.pool_id, email_pool.client_id,
                    client=email_pool.cognito).authenticate_user()["AuthenticationResult"]  # fmt: skip
    attributes = {
        a["Name"]: a["Value"]
        for a in email_pool.cognito.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]
    }
    assert attributes["email_verified"] == "true"
    id_token = claims(tokens["IdToken"])
    assert (id_token["email"], id_token["email_verified"]) == (email, True)
    internal = id_token["cognito:username"]  # the generated username, USER_ID_FOR_SRP of the proof
    assert internal != email
    assert claims(tokens["AccessToken"])["username"] == internal
    assert email_pool.seen[-1] == ("TokenGeneration_Authentication", internal)


def test_an_admin_confirmation_verifies_no_email(email_pool: EmailPool, identity: IdentityPlatform) -> None:
    email = f"val-{secrets.token_hex(3)}@example.org"
    email_pool.cognito.sign_up(ClientId=email_pool.client_id, Username=email, Password=PASSWORD)
    email_pool.cognito.admin_confirm_sign_up(UserPoolId=email_pool.pool_id, Username=email)
    user = identity.cognito().admin_get_user(UserPoolId=email_pool.pool_id, Username=email)
    assert "email_verified" not in {a["Name"] for a in user["UserAttributes"]}  # no code went anywhere


def test_a_flow_the_client_does_not_allow_is_refused(
    email_pool: EmailPool, identity: IdentityPlatform
) -> None:
    email = sign_up(email_pool)
    srp_only = identity.cognito().create_user_pool_client(
        UserPoolId=email_pool.pool_id, ClientName="srp-only", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"]
    )["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as refused:
        email_pool.cognito.initiate_auth(
            ClientId=srp_only,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert refused.value.response["Error"]["Message"] == "USER_PASSWORD_AUTH flow not enabled for this client"
    tokens = AWSSRP(
        email, PASSWORD, email_pool.pool_id, srp_only, client=email_pool.cognito
    ).authenticate_user()
    assert tokens["AuthenticationResult"]["AccessToken"]


def test_forgot_password_says_the_code_went_by_email(email_pool: EmailPool) -> None:
    email = sign_up(email_pool)
    sent = email_pool.cognito.forgot_password(ClientId=email_pool.client_id, Username=email)
    assert sent["CodeDeliveryDetails"] == {
        "Destination": "u***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }


def test_in_process_moto_reveals_no_password_for_another_sub(
    email_pool: EmailPool, identity: IdentityPlatform
) -> None:
    email = sign_up(email_pool)
    user = identity.cognito().admin_get_user(UserPoolId=email_pool.pool_id, Username=email)
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    assert InProcessMoto().password(email_pool.pool_id, user["Username"], sub) == PASSWORD
    with pytest.raises(NotInProcessError, match="USER_PASSWORD_AUTH"):
        InProcessMoto().password(email_pool.pool_id, user["Username"], "another-sub")


@pytest.fixture
def moto_elsewhere() -> Iterator[str]:
    """A moto server in another process, as INTEGREAT_AWS_ENDPOINT_URL may name; stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not port_in_use(port):
            assert server.poll() is None, "moto server exited"
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_srp_and_revocation_are_refused_clearly_when_moto_is_another_process(
    moto_elsewhere: str, tmp_path: Path
) -> None:
    moto = boto3.client("cognito-idp", endpoint_url=moto_elsewhere, region_name="eu-west-1")
    pool_id, client_id = created(moto)
    layer = LocalCognito(moto_elsewhere, key_file=tmp_path / "key.pem", run_trigger=lambda _, event: event)
    cognito = boto3.client("cognito-idp", endpoint_url=layer.start(), region_name="eu-west-1")
    try:
        email = f"wes-{secrets.token_hex(3)}@example.org"
        cognito.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)
        cognito.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode="123456")
        with pytest.raises(ClientError) as srp_refused:
            AWSSRP(email, PASSWORD, pool_id, client_id, client=cognito).authenticate_user()
        tokens = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]  # fmt: skip
        with pytest.raises(ClientError) as revoke_refused:
            cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id)
    finally:
        layer.stop()
    for refused in (srp_refused, revoke_refused):
        assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
        assert "process" in refused.value.response["Error"]["Message"]
