"""The local S3 front as an attacker meets it: signatures, the app role's IAM policy, upload
forms checked against their policy, and event notifications naming who wrote, decided by the real
storage consumer. Runs the front (integreat/local/aws_front.py) over the session's moto, with a
bucket and queue of its own configured through the front (so moto itself sends no notification)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.apps import Database
from chalicelib.aws import client
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.provisioning.storage import StorageResources, ensure_storage
from chalicelib.runtime import Runtime
from chalicelib.settings import Settings
from chalicelib.storage.consumer import process
from chalicelib.storage.iam import app_storage_policy
from chalicelib.storage.objects import ObjectStore
from tests.conftest import IdentityPlatform
from tests.queues import depth, poll
from tests.storage import s3_front

BUCKET = "integreat-front-test"
QUEUE = "integreat-front-test-events"
REGION = "eu-west-1"
META = {"app": "church", "uploader": "u-forged", "roles": "admin", "admin": "true"}


class Front(NamedTuple):
    url: str
    settings: Settings
    storage: StorageResources
    keys: ServiceKeys
    roles: dict[str, str]

    def s3(self) -> Any:
        """The platform's own S3 client (the API's role)."""
        return client("s3", self.settings)

    def as_role(self, app: str, secret: str | None = None) -> Any:
        creds = self.keys.issue(self.roles[app])
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=creds.access_key_id,
                            aws_secret_access_key=secret or creds.secret_access_key,
                            aws_session_token=creds.session_token)  # fmt: skip


@pytest.fixture(scope="module")
def front(identity: IdentityPlatform, service_keys: ServiceKeys) -> Iterator[Front]:
    slugs = {role: slug for slug, role in identity.roles.items()}

    def policies(role_id: str) -> list[dict[str, Any]]:
        # The documents the provisioner generates, for this module's bucket.
        return [app_storage_policy(BUCKET, slugs[role_id])] if role_id in slugs else []

    server = s3_front(identity.endpoint, service_keys, policies, region=REGION)
    url = server.start()
    try:
        settings = identity.settings._replace(aws_endpoint_url=url, bucket=BUCKET, storage_queue=QUEUE)
        storage = ensure_storage(client("s3", settings), client("sqs", settings), bucket=BUCKET, queue=QUEUE, region=REGION)  # fmt: skip
        yield Front(url, settings, storage, service_keys, identity.roles)
    finally:
        server.stop()


@pytest.fixture
def rt(front: Front, identity: IdentityPlatform) -> Iterator[Runtime]:
    runtime = Runtime(front.settings, Database(identity.platform.runtime_url, pool_size=2))
    yield runtime
    runtime.database.close()


def drain(front: Front, rt: Runtime) -> None:
    """Every queued notification through the real consumer, which is never told to trust
    metadata without a principal: the front names one on every event."""
    deps = rt.storage_deps()._replace(trust_metadata_without_principal=False)
    for _ in range(20):
        if depth(front.settings, front.storage.queue_url) == 0:
            return
        poll(front.settings, front.storage.queue_url, front.storage.queue_arn, lambda e: process(e, deps))


def indexed(rt: Runtime, key: str) -> list[tuple[Any, ...]]:
    return rt.database.read(
        "church", "SELECT key, uploader FROM files WHERE key = %s AND NOT deleted", (key,)
    )


def exists(front: Front, key: str) -> bool:
    try:
        front.s3().head_object(Bucket=BUCKET, Key=key)
        return True
    except ClientError:
        return False


def code(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def unique(folder: str) -> str:
    return f"{folder}{secrets.token_hex(4)}.txt"


# --- IAM: an app's role reaches its own folder only ------------------------------------------


@pytest.mark.parametrize(
    "key", ["events/posters/x.png", "churchevil/x.txt", "_quarantine/church/x.txt", "x.txt"]
)
def test_church_backend_writing_outside_its_folder_is_refused(front: Front, key: str) -> None:
    church = front.as_role("church")
    assert code(lambda: church.put_object(Bucket=BUCKET, Key=key, Body=b"x")) == "AccessDenied"
    assert not exists(front, key)
    assert code(lambda: church.list_objects_v2(Bucket=BUCKET, Prefix="events/")) == "AccessDenied"


def test_church_backend_upload_into_its_own_folder_is_indexed_as_the_app(front: Front, rt: Runtime) -> None:
    key = unique("church/uploads/")
    front.as_role("church").put_object(Bucket=BUCKET, Key=key, Body=b"hello", ContentType="text/plain")
    drain(front, rt)
    assert indexed(rt, key) == [(key, f"AWS:{front.roles['church']}:integreat-service")]
    assert front.as_role("church").list_objects_v2(Bucket=BUCKET, Prefix="church/")["KeyCount"] >= 1


def test_forged_metadata_from_a_non_api_principal_is_not_trusted(front: Front, rt: Runtime) -> None:
    key = unique("church/public/")  # admin-only: the forged metadata claims an admin
    front.as_role("church").put_object(
        Bucket=BUCKET, Key=key, Body=b"x", ContentType="image/png", Metadata=META
    )
    drain(front, rt)
    assert indexed(rt, key) == []
    assert exists(front, f"_quarantine/{key}")
    assert not exists(front, key)


def test_the_notification_names_the_writer_in_s3s_shape(front: Front, rt: Runtime) -> None:
    drain(front, rt)
    key = f"church/uploads/{secrets.token_hex(3)} a+b.txt"
    front.as_role("church").put_object(Bucket=BUCKET, Key=key, Body=b"abc", ContentType="text/plain")
    sqs = client("sqs", front.settings)
    message = sqs.receive_message(QueueUrl=front.storage.queue_url, MaxNumberOfMessages=1)["Messages"][0]
    record = json.loads(message["Body"])["Records"][0]
    assert record["userIdentity"]["principalId"] == f"AWS:{front.roles['church']}:integreat-service"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == key.replace("+", "%2B").replace(" ", "+")
    assert record["s3"]["object"]["size"] == 3
    assert int(record["s3"]["object"]["sequencer"], 16) > 0
    drain(front, rt)


# --- presigned POST forms ----------------------------------------------------------------------


def signed_form(front: Front, key: str, max_size: int = 10) -> dict[str, Any]:
    metadata = {"app": "church", "uploader": "u-1", "roles": "member", "admin": "false"}
    store = ObjectStore(front.s3(), BUCKET)
    return store.presigned_post(key, content_type="text/plain", max_size=max_size, metadata=metadata)


def post(form: dict[str, Any], fields: dict[str, str], content: bytes = b"hello") -> requests.Response:
    return requests.post(form["url"], data=fields, files={"file": ("a.txt", content)}, timeout=10)


def test_the_apis_presigned_post_is_accepted_and_indexed(front: Front, rt: Runtime) -> None:
    key = unique("church/uploads/")
    form = signed_form(front, key)
    assert post(form, form["fields"]).status_code == 204
    drain(front, rt)
    assert indexed(rt, key) == [(key, "u-1")]


@pytest.mark.parametrize(
    ("change", "content", "status", "fragment"),
    [
        ({"key": "church/public/forged.txt"}, b"hello", 403, "Policy Condition failed"),
        ({"Content-Type": "text/html"}, b"hello", 403, "Policy Condition failed"),
        ({"x-amz-meta-admin": "true"}, b"hello", 403, "Policy Condition failed"),
        ({"x-amz-meta-extra": "1"}, b"hello", 403, "Extra input fields: x-amz-meta-extra"),
        ({}, b"x" * 11, 400, "EntityTooLarge"),
        ({"policy": "e30="}, b"hello", 403, "SignatureDoesNotMatch"),
    ],
)
def test_a_tampered_form_is_refused_and_nothing_lands(
    front: Front, change: dict[str, str], content: bytes, status: int, fragment: str
) -> None:
    key = unique("church/uploads/")
    form = signed_form(front, key)
    answer = post(form, {**form["fields"], **change}, content)
    assert (answer.status_code, fragment in answer.text) == (status, True), answer.text
    assert not exists(front, key)
    assert not exists(front, change.get("key", key))


# --- signatures and pass-through -------------------------------------------------------------


def test_a_bad_signature_or_an_unknown_key_is_refused(front: Front) -> None:
    wrong = front.as_role("church", secret="not-the-secret")
    assert code(lambda: wrong.put_object(Bucket=BUCKET, Key=unique("church/uploads/"), Body=b"x")) == "SignatureDoesNotMatch"  # fmt: skip
    stranger = boto3.client("s3", endpoint_url=front.url, region_name=REGION,
                            aws_access_key_id="AKIASTRANGER", aws_secret_access_key="x")  # fmt: skip
    assert code(lambda: stranger.list_objects_v2(Bucket=BUCKET)) == "InvalidAccessKeyId"
    anonymous = requests.get(f"{front.url}/{BUCKET}/church/uploads/x.txt", timeout=10)
    assert anonymous.status_code == 403
    assert "<Code>AccessDenied</Code>" in anonymous.text


def test_presigned_downloads_verify(front: Front) -> None:
    key = unique("church/uploads/")
    front.s3().put_object(Bucket=BUCKET, Key=key, Body=b"hello")
    url = ObjectStore(front.s3(), BUCKET).presigned_get(key)
    assert requests.get(url, timeout=10).content == b"hello"
    assert requests.get(url.replace(key, unique("church/uploads/")), timeout=10).status_code == 403


def test_non_s3_calls_pass_through_unchanged(front: Front, identity: IdentityPlatform) -> None:
    direct = {"endpoint_url": identity.endpoint, "region_name": REGION}
    fronted = {"endpoint_url": front.url, "region_name": REGION}

    def names(endpoint: dict[str, str]) -> list[str]:
        # moto builds queue URLs from the Host it was sent: compare names, not URLs.
        return [url.rsplit("/", 1)[1] for url in boto3.client("sqs", **endpoint).list_queues()["QueueUrls"]]

    assert names(fronted) == names(direct)
    role = "integreat-test-app-church"
    assert boto3.client("iam", **fronted).get_role(RoleName=role)["Role"]["RoleId"] == front.roles["church"]
