"""Issue 16, placement of storage: an app declared `bucket = "dedicated"` gets a bucket of its own
from the provisioner (the shared bucket's protections, the same notifications), its uploads land
and are indexed there, roles stay in their own bucket (through the local S3 front too), an event
from the wrong bucket is quarantined, outputs name the bucket, and removal deletes it.

moto (the session server), never `mock_aws`; bare moto sends the bucket notifications itself."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.aws import client
from chalicelib.db.pool import connector
from chalicelib.frontends.model import FrontendSpec
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.provisioning.database import sync_apps
from chalicelib.provisioning.identity import (
    IdentityConfig,
    IdentityProvisioner,
    IdentityProvisioningError,
)
from chalicelib.provisioning.storage import APP_TAG, AppBuckets, AppBucketSettings
from chalicelib.runtime import Runtime
from chalicelib.storage.iam import app_storage_policy
from chalicelib.storage.model import DEDICATED, FolderRule, StorageSpec
from chalicelib.storage.placement import dedicated_bucket
from chalicelib.storage.rules import QUARANTINE_PREFIX, Actor
from chalicelib.storage.section import STORAGE
from chalicelib.storage.spec import MB
from chalicelib.storage.uploads import upload_metadata
from chalicelib.tenancy.manifest import AppSpec
from integreat.offboarding_storage import export_objects, remove_objects
from integreat.outputs import StageValues, storage_section
from tests.conftest import TEST_BUCKET, IdentityPlatform
from tests.storage import drain, s3_front

REGION = "eu-west-1"
ORIGIN = "https://youth.example.org"


class Dedicated(NamedTuple):
    spec: AppSpec
    bucket: str
    provisioner: IdentityProvisioner
    role_id: str

    @property
    def slug(self) -> str:
        return self.spec.slug


def app_spec(slug: str) -> AppSpec:
    folder = FolderRule("uploads/", "members", "members", ("*/*",), 10 * MB)
    return AppSpec(slug, "Youth", "invite", ("member",), storage=StorageSpec((folder,), DEDICATED),
                   frontend=FrontendSpec((ORIGIN,)))  # fmt: skip


_POOLS: dict[str, str] = {}


def provisioner(identity: IdentityPlatform, *, tls_only: bool = False) -> IdentityProvisioner:
    """moto evaluates bucket policies and serves http: the TLS-only policy is checked on its own
    (`tls_only`). A user pool of this module's own: the session pool's clients are counted elsewhere."""
    if identity.endpoint not in _POOLS:
        made = identity.cognito().create_user_pool(PoolName="integreat-test-dedicated")
        _POOLS[identity.endpoint] = made["UserPool"]["Id"]
    config = IdentityConfig(_POOLS[identity.endpoint], "integreat", "test", account_id="123456789012",
                            password_auth=True, bucket=TEST_BUCKET)  # fmt: skip
    buckets = AppBuckets(client("s3", identity.settings),
                         AppBucketSettings(identity.storage.queue_arn, REGION, versioning=True, tls_only=tls_only))  # fmt: skip
    return IdentityProvisioner(identity.cognito(), client("iam", identity.settings), config, buckets=buckets)


@pytest.fixture(scope="module")
def dedicated(identity: IdentityPlatform) -> Dedicated:
    spec = app_spec(f"d{secrets.token_hex(4)}")
    made = provisioner(identity)
    report = sync_apps(connector(identity.platform.operator_url), [spec], identity=made)
    assert report.ok, report.failed
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT iam_role_id FROM integreat.apps WHERE slug = %s", (spec.slug,))
        (role_id,) = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return Dedicated(spec, dedicated_bucket(TEST_BUCKET, spec.slug), made, str(role_id))


@pytest.fixture
def rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    runtime = identity.runtime()
    yield runtime
    runtime.database.close()


def s3(identity: IdentityPlatform) -> Any:
    return client("s3", identity.settings)


def keys_of(identity: IdentityPlatform, bucket: str, prefix: str = "") -> list[str]:
    found = s3(identity).list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in found)


def indexed(rt: Runtime, slug: str) -> list[str]:
    return [
        str(row[0]) for row in rt.database.read(slug, "SELECT key FROM files WHERE NOT deleted ORDER BY key")
    ]


def audited(identity: IdentityPlatform, subjects: list[str]) -> list[str]:
    """The quarantine reasons the consumer audited for `subjects`."""
    conn = identity.platform.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT reason FROM integreat.audit WHERE kind = 'storage.quarantined'"
                        " AND subject = ANY(%s) ORDER BY reason", (subjects,))  # fmt: skip
            return [str(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()


def post(form: dict[str, Any], body: bytes = b"hello") -> None:
    response = requests.post(form["url"], data=form["fields"], files={"file": ("a.txt", body)}, timeout=10)
    assert response.status_code in (200, 204), response.text


def test_the_app_gets_its_bucket_with_the_shared_buckets_protections(
    identity: IdentityPlatform, dedicated: Dedicated
) -> None:
    s3c, bucket = s3(identity), dedicated.bucket
    assert bucket == f"integreat-test-app-{dedicated.slug}"
    block = s3c.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)  # fmt: skip
    ownership = s3c.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = s3c.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3c.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (queue,) = s3c.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert queue["QueueArn"] == identity.storage.queue_arn
    assert set(queue["Events"]) == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    (cors,) = s3c.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors["AllowedOrigins"] == [ORIGIN]
    assert {"Key": APP_TAG, "Value": dedicated.slug} in s3c.get_bucket_tagging(Bucket=bucket)["TagSet"]


def test_in_aws_the_bucket_refuses_requests_without_tls(identity: IdentityPlatform) -> None:
    spec = app_spec(f"d{secrets.token_hex(4)}")
    provisioner(identity, tls_only=True).provision(spec)
    bucket = dedicated_bucket(TEST_BUCKET, spec.slug)
    (deny,) = json.loads(s3(identity).get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    s3(identity).delete_bucket_policy(Bucket=bucket)
    remove_objects(s3(identity), TEST_BUCKET, spec.slug, spec.storage)


def test_the_role_policy_points_at_the_dedicated_bucket_and_sync_is_idempotent(
    identity: IdentityPlatform, dedicated: Dedicated
) -> None:
    iam = client("iam", identity.settings)
    name = f"integreat-test-app-{dedicated.slug}"
    document = iam.get_role_policy(RoleName=name, PolicyName="integreat-app-storage")["PolicyDocument"]
    assert document == app_storage_policy(dedicated.bucket, dedicated.slug)
    dedicated.provisioner.provision(dedicated.spec)  # again: nothing to create, nothing fails
    report = sync_apps(
        connector(identity.platform.operator_url), [dedicated.spec], identity=dedicated.provisioner
    )
    assert report.ok
    assert report.applied.get("identity") == []


def test_a_bucket_of_another_app_is_never_adopted(identity: IdentityPlatform, dedicated: Dedicated) -> None:
    intruder = app_spec(f"d{secrets.token_hex(4)}")
    taken = dedicated_bucket(TEST_BUCKET, intruder.slug)
    s3(identity).create_bucket(Bucket=taken, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3(identity).put_bucket_tagging(Bucket=taken, Tagging={"TagSet": [{"Key": APP_TAG, "Value": "church"}]})
    with pytest.raises(IdentityProvisioningError, match="belongs to app 'church'"):
        dedicated.provisioner.provision(intruder)


def test_presigned_uploads_land_in_the_dedicated_bucket_and_are_indexed(
    identity: IdentityPlatform, dedicated: Dedicated, rt: Runtime
) -> None:
    record = rt.database.registry.get_active(dedicated.slug)
    store = rt.objects.for_app(dedicated.slug, STORAGE.of(record))
    assert store.bucket == dedicated.bucket
    key = f"{dedicated.slug}/uploads/{secrets.token_hex(4)}.txt"
    actor = Actor(app=dedicated.slug, user_id="u-1", roles=("member",))
    post(store.presigned_post(key, content_type="text/plain", max_size=MB, metadata=upload_metadata(actor)))
    assert key in keys_of(identity, dedicated.bucket)
    assert key not in keys_of(identity, TEST_BUCKET)
    drain(identity, rt)
    assert key in indexed(rt, dedicated.slug)
    assert requests.get(store.presigned_get(key), timeout=10).content == b"hello"


def test_an_event_from_a_bucket_that_is_not_the_apps_placement_is_quarantined(
    identity: IdentityPlatform, dedicated: Dedicated, rt: Runtime
) -> None:
    name = f"{secrets.token_hex(4)}.txt"
    into_shared = f"{dedicated.slug}/uploads/{name}"  # the dedicated app's key, in the shared bucket
    into_own = f"church/uploads/{name}"  # church's key (church is shared), in the dedicated bucket
    s3(identity).put_object(Bucket=TEST_BUCKET, Key=into_shared, Body=b"x", ContentType="text/plain")
    s3(identity).put_object(Bucket=dedicated.bucket, Key=into_own, Body=b"x", ContentType="text/plain")
    drain(identity, rt)
    assert into_shared not in indexed(rt, dedicated.slug)
    assert into_own not in indexed(rt, "church")
    assert keys_of(identity, TEST_BUCKET, into_shared) == []
    assert keys_of(identity, TEST_BUCKET, QUARANTINE_PREFIX + into_shared) == [
        QUARANTINE_PREFIX + into_shared
    ]
    assert keys_of(identity, dedicated.bucket, into_own) == []
    assert keys_of(identity, dedicated.bucket, QUARANTINE_PREFIX + into_own) == [QUARANTINE_PREFIX + into_own]
    assert audited(identity, [into_shared, into_own]) == sorted(
        [f"{dedicated.slug}'s files live in bucket {dedicated.bucket}, not {TEST_BUCKET}",
         f"church's files live in bucket {TEST_BUCKET}, not {dedicated.bucket}"]
    )  # fmt: skip


def test_outputs_name_the_apps_bucket(dedicated: Dedicated, demo_apps: tuple[AppSpec, ...]) -> None:
    values = StageValues("prod", REGION, "pool", "integreat-prod-files-123456789012", "https://api", {})
    own = storage_section(dedicated.spec, values)
    assert own["bucket_name"] == f"integreat-prod-app-{dedicated.slug}-123456789012"
    assert own["buckets"][0]["bucket_name"] == own["bucket_name"]
    assert set(own["buckets"][0]["paths"]) == {f"{dedicated.slug}/uploads/*"}  # keys keep `<slug>/`
    church = next(a for a in demo_apps if a.slug == "church")
    assert storage_section(church, values)["bucket_name"] == "integreat-prod-files-123456789012"


# --- through the local S3 front: each role in its own bucket, notifications and CORS per bucket --


class Front(NamedTuple):
    url: str
    keys: ServiceKeys
    roles: dict[str, str]  # slug -> role id

    def as_role(self, slug: str) -> Any:
        creds = self.keys.issue(self.roles[slug])
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=creds.access_key_id,
                            aws_secret_access_key=creds.secret_access_key, aws_session_token=creds.session_token)  # fmt: skip


@pytest.fixture(scope="module")
def front(identity: IdentityPlatform, dedicated: Dedicated, service_keys: ServiceKeys) -> Iterator[Front]:
    roles = {"church": identity.roles["church"], dedicated.slug: dedicated.role_id}
    documents = {
        roles["church"]: app_storage_policy(TEST_BUCKET, "church"),
        dedicated.role_id: app_storage_policy(dedicated.bucket, dedicated.slug),
    }
    server = s3_front(
        identity.endpoint, service_keys, lambda role_id: [documents[role_id]] if role_id in documents else [],
        region=REGION,
    )  # fmt: skip
    url = server.start()
    try:
        yield Front(url, service_keys, roles)
    finally:
        server.stop()


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_through_the_front_each_role_reaches_only_its_own_bucket(front: Front, dedicated: Dedicated) -> None:
    own, slug = dedicated.bucket, dedicated.slug
    youth, church = front.as_role(slug), front.as_role("church")
    youth.put_object(Bucket=own, Key=f"{slug}/uploads/ok.txt", Body=b"x")
    church.put_object(Bucket=TEST_BUCKET, Key="church/uploads/front-ok.txt", Body=b"x")
    assert (
        denied(lambda: church.put_object(Bucket=own, Key=f"{slug}/uploads/x.txt", Body=b"x"))
        == "AccessDenied"
    )
    assert (
        denied(lambda: church.put_object(Bucket=own, Key="church/uploads/x.txt", Body=b"x")) == "AccessDenied"
    )
    assert denied(lambda: church.get_object(Bucket=own, Key=f"{slug}/uploads/ok.txt")) == "AccessDenied"
    assert denied(lambda: youth.put_object(Bucket=TEST_BUCKET, Key=f"{slug}/uploads/x.txt", Body=b"x")) == "AccessDenied"  # fmt: skip
    assert denied(lambda: youth.get_object(Bucket=TEST_BUCKET, Key="church/uploads/front-ok.txt")) == "AccessDenied"  # fmt: skip
    assert (
        denied(lambda: youth.put_object(Bucket=own, Key="church/uploads/x.txt", Body=b"x")) == "AccessDenied"
    )


def test_the_front_keeps_notifications_and_answers_cors_for_the_dedicated_bucket(
    identity: IdentityPlatform, front: Front, dedicated: Dedicated
) -> None:
    platform = boto3.client("s3", endpoint_url=front.url, region_name=REGION)
    config = {"QueueConfigurations": [{"Id": "integreat-storage-events", "QueueArn": identity.storage.queue_arn,
                                       "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]}  # fmt: skip
    platform.put_bucket_notification_configuration(Bucket=dedicated.bucket, NotificationConfiguration=config)
    (kept,) = platform.get_bucket_notification_configuration(Bucket=dedicated.bucket)["QueueConfigurations"]
    assert kept["QueueArn"] == identity.storage.queue_arn
    preflight = requests.options(
        f"{front.url}/{dedicated.bucket}/{dedicated.slug}/uploads/a.txt",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}, timeout=10,
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = requests.options(
        f"{front.url}/{dedicated.bucket}/{dedicated.slug}/uploads/a.txt",
        headers={"Origin": "https://church.example.org", "Access-Control-Request-Method": "PUT"}, timeout=10,
    )  # fmt: skip
    assert other.status_code == 403


# --- offboarding (last: it deletes the bucket) ---------------------------------------------------


def test_removing_the_app_exports_then_empties_and_deletes_its_bucket(
    identity: IdentityPlatform, dedicated: Dedicated, rt: Runtime, tmp_path: Path
) -> None:
    spec, s3c = dedicated.spec.storage, s3(identity)
    s3c.put_object(Bucket=dedicated.bucket, Key=f"{dedicated.slug}/uploads/kept.txt", Body=b"keep")
    s3c.put_object(
        Bucket=dedicated.bucket, Key=f"{dedicated.slug}/uploads/kept.txt", Body=b"keep 2"
    )  # a version
    count = export_objects(s3c, TEST_BUCKET, dedicated.slug, spec, tmp_path)
    assert count >= 1
    assert (tmp_path / "objects" / dedicated.slug / "uploads" / "kept.txt").read_bytes() == b"keep 2"
    assert json.loads((tmp_path / "objects.json").read_text())["bucket"] == dedicated.bucket
    church_before = keys_of(identity, TEST_BUCKET, "church/")
    removed = remove_objects(s3c, TEST_BUCKET, dedicated.slug, spec)
    assert removed.bucket_deleted
    assert removed.objects >= 2
    with pytest.raises(ClientError):
        s3c.head_bucket(Bucket=dedicated.bucket)
    assert keys_of(identity, TEST_BUCKET, "church/") == church_before  # the shared bucket untouched
    assert remove_objects(s3c, TEST_BUCKET, dedicated.slug, spec).bucket_deleted  # again: idempotent
    drain(identity, rt)


def test_removing_a_shared_app_deletes_its_prefixes_only(identity: IdentityPlatform) -> None:
    slug, s3c = f"s{secrets.token_hex(4)}", s3(identity)
    for key in (f"{slug}/uploads/a.txt", f"{QUARANTINE_PREFIX}{slug}/uploads/b.txt", f"{slug}x/keep.txt"):
        s3c.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"x")
    removed = remove_objects(s3c, TEST_BUCKET, slug, StorageSpec())
    assert (removed.bucket, removed.bucket_deleted) == (TEST_BUCKET, False)
    assert keys_of(identity, TEST_BUCKET, slug) == [f"{slug}x/keep.txt"]
    assert keys_of(identity, TEST_BUCKET, f"{QUARANTINE_PREFIX}{slug}/") == []
    s3c.delete_object(Bucket=TEST_BUCKET, Key=f"{slug}x/keep.txt")
