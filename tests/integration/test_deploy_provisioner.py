"""The provisioner as the stack's custom resource, on moto and real Postgres: a Create provisions
the manifest's apps and registers their clients in the identity pool; running it again changes
nothing; Delete drops nothing."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.aws import client as aws_client
from chalicelib.provisioning.deploy import provision
from chalicelib.settings import get_settings
from tests.conftest import IdentityPlatform, load_event

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'


@pytest.fixture
def deploy_env(identity: IdentityPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the stack gives the function: the operator database URL and the AWS endpoint."""
    monkeypatch.setenv("INTEGREAT_DATABASE_URL", identity.platform.operator_url)
    monkeypatch.setenv("INTEGREAT_AWS_ENDPOINT_URL", identity.endpoint)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _event(identity: IdentityPlatform, slug: str, request: str = "Create") -> dict[str, Any]:
    settings = identity.settings
    cognito = aws_client("cognito-idp", settings)
    pool = cognito.create_user_pool(PoolName=f"cfn-{slug}")["UserPool"]["Id"]
    identities = aws_client("cognito-identity", settings).create_identity_pool(
        IdentityPoolName=f"cfn_{slug}", AllowUnauthenticatedIdentities=False
    )["IdentityPoolId"]
    manifest = f'{PLATFORM}[apps.{slug}]\nname = "Deployed {slug}"\nenrollment = "open"\n'
    event = load_event("cloudformation_custom_resource_create")
    event["RequestType"] = request
    event["ResourceProperties"] |= {
        "Manifest": manifest, "ManifestSha256": hashlib.sha256(manifest.encode()).hexdigest(),
        "Stage": f"cfn{slug[-4:]}", "UserPoolId": pool, "IdentityPoolId": identities,
        "UserPoolProvider": f"cognito-idp.eu-west-1.amazonaws.com/{pool}",
    }  # fmt: skip
    return event


def test_create_provisions_the_apps_and_registers_their_clients(
    identity: IdentityPlatform, deploy_env: None
) -> None:
    slug = f"cfn_{secrets.token_hex(3)}"
    event = _event(identity, slug)
    answer = provision(event, None)
    props = event["ResourceProperties"]
    client = answer["Data"][f"Client.{slug}"]
    assert answer["PhysicalResourceId"] == f"integreat-{props['Stage']}-apps"
    conn = identity.platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM integreat.apps WHERE slug = %s", (slug,))
        assert cur.fetchone() == ("active",)
    conn.close()
    pool = aws_client("cognito-identity", identity.settings).describe_identity_pool(
        IdentityPoolId=props["IdentityPoolId"]
    )
    assert pool["CognitoIdentityProviders"] == [
        {"ProviderName": props["UserPoolProvider"], "ClientId": client, "ServerSideTokenCheck": True}
    ]
    assert provision(event | {"RequestType": "Update"}, None)["Data"] == answer["Data"]  # idempotent


def test_delete_drops_nothing(identity: IdentityPlatform, deploy_env: None) -> None:
    slug = f"cfn_{secrets.token_hex(3)}"
    created = provision(_event(identity, slug), None)
    deleted = provision(
        _event(identity, slug, "Delete") | {"PhysicalResourceId": created["PhysicalResourceId"]}, None
    )
    assert deleted == {"PhysicalResourceId": created["PhysicalResourceId"]}
    conn = identity.platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM integreat.apps WHERE slug = %s", (slug,))
        assert cur.fetchone() == ("active",)
    conn.close()


def test_a_bad_manifest_fails_the_deploy_with_its_reason(
    identity: IdentityPlatform, deploy_env: None
) -> None:
    from chalicelib.tenancy.manifest import ManifestError

    event = _event(identity, f"cfn_{secrets.token_hex(3)}")
    event["ResourceProperties"]["Manifest"] = PLATFORM + '[apps.Bad]\nname = "x"\n'
    with pytest.raises(ManifestError, match=r"apps\.Bad"):
        provision(event, None)
