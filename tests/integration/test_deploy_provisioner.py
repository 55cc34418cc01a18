"""The provisioner as the stack's custom resource, on moto and real Postgres: onEvent reads the
manifest from its S3 asset and answers at once; isComplete provisions the apps, writes each app's
client id to SSM and completes with nothing per app in its answer; running it again changes
nothing; Delete drops nothing."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.aws import client as aws_client
from chalicelib.provisioning.deploy import DeployError, client_id_parameter, provision, provision_complete
from chalicelib.settings import get_settings
from tests.conftest import IdentityPlatform, load_event

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'


class Context:
    """The Lambda context's one method the provisioner reads: a fresh 900 s call."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def deploy_env(identity: IdentityPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the stack gives the function: the operator database URL and the AWS endpoint."""
    monkeypatch.setenv("INTEGREAT_DATABASE_URL", identity.platform.operator_url)
    monkeypatch.setenv("INTEGREAT_AWS_ENDPOINT_URL", identity.endpoint)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _event(identity: IdentityPlatform, slug: str, manifest: str | None = None) -> dict[str, Any]:
    """A Create request whose manifest is an asset in a bucket, as `cdk deploy` uploads it."""
    settings = identity.settings
    pool = aws_client("cognito-idp", settings).create_user_pool(PoolName=f"cfn-{slug}")["UserPool"]["Id"]
    text = manifest or f'{PLATFORM}[apps.{slug}]\nname = "Deployed {slug}"\nenrollment = "open"\n'
    bucket, key = f"cdk-assets-{slug.replace('_', '-')}", hashlib.sha256(text.encode()).hexdigest() + ".toml"
    s3 = aws_client("s3", settings)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    event = load_event("cloudformation_custom_resource_create")
    props = event["ResourceProperties"]
    for gone in ("Manifest", "ManifestSha256", "IdentityPoolId", "UserPoolProvider"):  # before issue 16
        props.pop(gone, None)
    props |= {"ManifestBucket": bucket, "ManifestKey": key, "Stage": f"cfn{slug[-4:]}", "UserPoolId": pool}
    return event


def test_create_provisions_the_apps_and_publishes_their_clients(
    identity: IdentityPlatform, deploy_env: None
) -> None:
    slug = f"cfn_{secrets.token_hex(3)}"
    event = _event(identity, slug)
    props = event["ResourceProperties"]
    started = provision(event, None)
    assert started == {"PhysicalResourceId": f"integreat-{props['Stage']}-apps"}  # at once, nothing done
    done = provision_complete(event | started, Context())
    assert done == {"IsComplete": True, "Data": {"Apps": "1"}}  # nothing per app
    conn = identity.platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM integreat.apps WHERE slug = %s", (slug,))
        assert cur.fetchone() == ("active",)
    conn.close()
    name = client_id_parameter("integreat", props["Stage"], slug)
    client = aws_client("ssm", identity.settings).get_parameter(Name=name)["Parameter"]["Value"]
    clients = aws_client("cognito-idp", identity.settings).list_user_pool_clients(
        UserPoolId=props["UserPoolId"], MaxResults=60
    )["UserPoolClients"]
    assert [c["ClientId"] for c in clients if c["ClientName"] == f"integreat-{slug}"] == [client]
    again = event | started | {"RequestType": "Update", "RequestId": "another-request"}
    assert provision_complete(again, Context()) == done  # idempotent
    assert aws_client("ssm", identity.settings).get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_delete_drops_nothing(identity: IdentityPlatform, deploy_env: None) -> None:
    slug = f"cfn_{secrets.token_hex(3)}"
    event = _event(identity, slug)
    created = provision(event, None)
    provision_complete(event | created, Context())
    delete = event | {"RequestType": "Delete", "PhysicalResourceId": created["PhysicalResourceId"]}
    assert provision(delete, None) == created
    assert provision_complete(delete, Context()) == {"IsComplete": True}
    conn = identity.platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM integreat.apps WHERE slug = %s", (slug,))
        assert cur.fetchone() == ("active",)
    conn.close()


def test_a_bad_manifest_fails_the_deploy_with_its_reason_before_any_work(
    identity: IdentityPlatform, deploy_env: None
) -> None:
    event = _event(identity, f"cfn_{secrets.token_hex(3)}", PLATFORM + '[apps.Bad]\nname = "x"\n')
    with pytest.raises(DeployError, match=r"apps\.Bad"):
        provision(event, None)
