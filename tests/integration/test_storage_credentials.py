"""POST /apps/{app}/storage/credentials end to end (issue 16): the route through the Chalice test
client, STS AssumeRole answered by the local S3 front (integreat/local/aws_front.py) over the
session's moto, and the vended credentials used against the front, which enforces the app role's
policy and the session policy together, as IAM does. Treated as an attack surface: another app's
user, a tampered path, forged, expired and other apps' tokens, tampered and expired sessions,
and the credentials turned against other services."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

import app as chalice_app
from chalicelib.apps import Database
from chalicelib.aws import client
from chalicelib.identity.service_keys import Credentials, ServiceKeys
from chalicelib.identity.services import LocalSigV4
from chalicelib.runtime import Runtime
from chalicelib.settings import Settings
from chalicelib.storage.iam import app_storage_policy
from integreat.local.postgres import free_port
from integreat.local.s3_access import MotoRolePolicies
from integreat.local.s3_auth import SessionKeys
from integreat.local.service_credentials import signed_headers
from tests.conftest import IdentityPlatform, installed
from tests.storage import s3_front
from tests.tokens import Signer, access_claims

BUCKET = "integreat-credentials-test"
REGION = "eu-west-1"
ROUTE = "/apps/{app}/storage/credentials"


class Front(NamedTuple):
    url: str
    settings: Settings
    sessions: SessionKeys
    session_key: bytes


@pytest.fixture(scope="module")
def front(identity: IdentityPlatform, service_keys: ServiceKeys) -> Iterator[Front]:
    slugs = {role: slug for slug, role in identity.roles.items()}

    def policies(role_id: str) -> list[dict[str, Any]]:
        return [app_storage_policy(BUCKET, slugs[role_id])] if role_id in slugs else []

    key = secrets.token_bytes(32)
    sessions = SessionKeys(key)
    iam = boto3.client("iam", endpoint_url=identity.endpoint, region_name=REGION)
    server = s3_front(identity.endpoint, service_keys, policies, sessions=sessions,
                      roles=MotoRolePolicies(iam).role_id, region=REGION)  # fmt: skip
    url = server.start()
    try:
        settings = identity.settings._replace(aws_endpoint_url=url, bucket=BUCKET)
        client("s3", settings).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield Front(url, settings, sessions, key)
    finally:
        server.stop()


def runtime_for(identity: IdentityPlatform, settings: Settings, signer: Signer, keys: ServiceKeys) -> Runtime:
    return Runtime(settings, Database(identity.platform.runtime_url, pool_size=2),
                   jwks_fetch=lambda url: signer.jwks(), service_auth=LocalSigV4(keys, REGION))  # fmt: skip


@pytest.fixture
def api(
    front: Front, identity: IdentityPlatform, signer: Signer, service_keys: ServiceKeys
) -> Iterator[Client]:
    """The Chalice app, its AWS calls (STS) going to the front."""
    with (
        installed(runtime_for(identity, front.settings, signer, service_keys)),
        Client(chalice_app.app) as api,
    ):
        yield api


class Caller(NamedTuple):
    app: str  # the app whose client issued the token
    groups: list[str]
    username: str

    @property
    def sub(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.username))  # tests/tokens.py's sub


ALICE = Caller("church", ["church"], "alice")
BOB = Caller("church", ["church"], "bob")
CHURCH_ADMIN = Caller("church", ["church", "church-admin"], "carol")
TEACHER = Caller("students", ["students", "students-teacher"], "tess")
PUPIL = Caller("students", ["students"], "pete")
ALICE_AT_EVENTS = Caller("events", ["events"], "alice")  # the same person, an events token


def ask(api: Client, identity: IdentityPlatform, signer: Signer, caller: Caller, app: str | None = None,
        body: Any = None, **claims: Any) -> Any:  # fmt: skip
    headers = identity.bearer(signer, caller.app, caller.groups, caller.username, **claims)
    data = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    return api.http.post(
        ROUTE.format(app=app or caller.app), headers=headers | {"Content-Type": "application/json"}, body=data
    )


def vended(api: Client, identity: IdentityPlatform, signer: Signer, caller: Caller) -> dict[str, Any]:
    response = ask(api, identity, signer, caller)
    assert response.status_code == 200, response.body
    answer: dict[str, Any] = response.json_body
    return answer


def s3_with(front: Front, answer: dict[str, Any]) -> Any:
    creds = answer["credentials"]
    return boto3.client("s3", endpoint_url=front.url, region_name=answer["region"], aws_access_key_id=creds["accessKeyId"],
                        aws_secret_access_key=creds["secretAccessKey"], aws_session_token=creds["sessionToken"])  # fmt: skip


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def put(s3: Any, key: str) -> Any:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=b"x", ContentType="application/pdf")


def exists(front: Front, key: str) -> bool:
    try:
        client("s3", front.settings).head_object(Bucket=BUCKET, Key=key)
        return True
    except ClientError:
        return False


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}.pdf"


# --- what the credentials reach --------------------------------------------------------------


def test_a_member_gets_short_lived_credentials_for_their_folders(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    answer = vended(api, identity, signer, ALICE)
    assert set(answer) == {"credentials", "bucket", "region", "prefixes"}
    assert (answer["bucket"], answer["region"]) == (BUCKET, REGION)
    assert answer["prefixes"] == {"church/public/": ["read"], "church/uploads/": ["read", "write"],
                                  f"church/private/{ALICE.sub}/": ["read", "write"]}  # fmt: skip
    expires = datetime.strptime(answer["credentials"]["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 840 <= (expires - datetime.now(UTC)).total_seconds() <= 960  # 900 s by default


def test_the_credentials_put_into_writable_folders_and_nowhere_else(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    s3 = s3_with(front, vended(api, identity, signer, ALICE))
    for key in (unique("church/uploads/"), unique(f"church/private/{ALICE.sub}/")):
        put(s3, key)
        assert exists(front, key)
    for key in (
        unique("church/public/"),  # readable, not writable: admin only
        unique(f"church/private/{BOB.sub}/"),  # another user's own folder
        unique("church/private/"),  # above every user's folder
        unique("events/posters/"),  # another app's folder
        unique("_quarantine/church/uploads/"),
        unique("churchevil/uploads/"),
    ):
        assert denied(lambda key=key: put(s3, key)) == "AccessDenied", key
        assert not exists(front, key)


def test_the_credentials_read_and_list_only_what_the_caller_may_read(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    platform = client("s3", front.settings)
    public, bobs = unique("church/public/"), unique(f"church/private/{BOB.sub}/")
    for key in (public, bobs):
        platform.put_object(Bucket=BUCKET, Key=key, Body=b"secret")
    s3 = s3_with(front, vended(api, identity, signer, ALICE))
    assert s3.get_object(Bucket=BUCKET, Key=public)["Body"].read() == b"secret"
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key=bobs)) == "AccessDenied"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="church/public/")["KeyCount"] >= 1
    s3.list_objects_v2(Bucket=BUCKET, Prefix=f"church/private/{ALICE.sub}/")
    for prefix in (f"church/private/{BOB.sub}/", "church/private/", "church/", "events/posters/", ""):
        assert (
            denied(lambda prefix=prefix: s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)) == "AccessDenied"
        )
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key=public)) == "AccessDenied"


def test_a_multipart_upload_works_in_the_callers_folder_only(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    s3 = s3_with(front, vended(api, identity, signer, ALICE))
    key = unique(f"church/private/{ALICE.sub}/")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 10)["ETag"]
    s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})  # fmt: skip
    assert exists(front, key)
    other = unique(f"church/private/{BOB.sub}/")
    assert denied(lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=other)) == "AccessDenied"


def test_role_holders_get_their_roles_folders(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    put(s3_with(front, vended(api, identity, signer, CHURCH_ADMIN)), unique("church/public/"))
    pupils = unique(f"students/assignments/{PUPIL.sub}/")
    put(s3_with(front, vended(api, identity, signer, PUPIL)), pupils)
    teacher = s3_with(front, vended(api, identity, signer, TEACHER))
    assert teacher.get_object(Bucket=BUCKET, Key=pupils)["Body"].read() == b"x"
    teacher.list_objects_v2(Bucket=BUCKET, Prefix=f"students/assignments/{PUPIL.sub}/")
    assert denied(lambda: put(teacher, unique(f"students/assignments/{PUPIL.sub}/"))) == "AccessDenied"
    put(teacher, unique(f"students/assignments/{TEACHER.sub}/"))
    put(teacher, unique("students/materials/"))


def test_the_same_person_through_another_app_reaches_that_apps_folders_only(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    answer = vended(api, identity, signer, ALICE_AT_EVENTS)
    assert set(answer["prefixes"]) == {"events/posters/", f"events/tickets/{ALICE.sub}/"}
    s3 = s3_with(front, answer)
    put(s3, unique(f"events/tickets/{ALICE.sub}/"))
    for key in (unique(f"church/private/{ALICE.sub}/"), unique("church/uploads/")):
        assert denied(lambda key=key: put(s3, key)) == "AccessDenied"


# --- who the route refuses --------------------------------------------------------------------


def refused(response: Any, status: int) -> str:
    assert response.status_code == status, response.body
    assert set(response.json_body) == {"error"}
    assert set(response.json_body["error"]) == {"code", "message", "request_id"}
    assert b"accessKeyId" not in response.body
    return str(response.json_body["error"]["code"])


def test_a_user_of_another_app_is_refused(api: Client, identity: IdentityPlatform, signer: Signer) -> None:
    refused(ask(api, identity, signer, ALICE_AT_EVENTS, app="church"), 403)  # an events token, church's path
    refused(ask(api, identity, signer, ALICE, app="events"), 403)  # the path's app tampered
    refused(ask(api, identity, signer, ALICE, app="nosuchapp"), 403)
    refused(ask(api, identity, signer, Caller("church", [], "stranger")), 403)  # church's client, no member


def test_forged_expired_and_missing_tokens_are_refused(
    api: Client, identity: IdentityPlatform, signer: Signer
) -> None:
    path = ROUTE.format(app="church")
    refused(ask(api, identity, signer, ALICE, exp=int(time.time()) - 120), 401)
    refused(ask(api, identity, signer, ALICE, **{"integreat:app": "events"}), 401)
    refused(ask(api, identity, signer, ALICE, token_use="id"), 401)
    refused(api.http.post(path), 401)
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{identity.user_pool_id}"
    claims = access_claims(issuer, identity.clients["church"], "alice", ["church"])
    for token in (
        Signer().sign(claims),
        signer.forge_none(claims),
        signer.forge_hs256_with_public_key(claims),
    ):
        refused(api.http.post(path, headers={"Authorization": f"Bearer {token}"}), 401)


def test_the_platform_admin_gets_every_folder_of_the_path_app(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    admin = Caller("church", ["integreat-admin"], "root")
    response = ask(api, identity, signer, admin, app="students")
    assert response.status_code == 200, response.body
    assert response.json_body["prefixes"] == {"students/materials/": ["read", "write"],
                                              "students/assignments/*/": ["read", "write"]}  # fmt: skip
    refused(ask(api, identity, signer, admin, app="nosuchapp"), 404)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"duration_seconds": 899}, "invalid_duration"),
        ({"duration_seconds": 3601}, "invalid_duration"),
        ({"duration_seconds": "900"}, "invalid_duration"),
        ({"duration_seconds": True}, "invalid_duration"),
        ({"prefix": "church/"}, "invalid_request"),
        ([], "invalid_request"),
        ("{", "invalid_json"),
        ('{"duration_seconds": 1e999}', "invalid_json"),
    ],
)
def test_bad_bodies_are_400s(
    api: Client, identity: IdentityPlatform, signer: Signer, body: Any, code: str
) -> None:
    assert refused(ask(api, identity, signer, ALICE, body=body), 400) == code


def test_a_longer_session_may_be_asked_for(api: Client, identity: IdentityPlatform, signer: Signer) -> None:
    response = ask(api, identity, signer, ALICE, body={"duration_seconds": 3600})
    expires = datetime.strptime(response.json_body["credentials"]["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert 3500 <= (expires.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() <= 3660


def test_sts_unavailable_is_a_503_with_retry_after(identity: IdentityPlatform, signer: Signer, service_keys: ServiceKeys, front: Front) -> None:  # fmt: skip
    dead = front.settings._replace(aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with installed(runtime_for(identity, dead, signer, service_keys)), Client(chalice_app.app) as api:
        response = ask(api, identity, signer, ALICE)
    assert refused(response, 503) == "sts_unavailable"
    assert response.headers["Retry-After"] == "2"


# --- the credentials turned against the platform --------------------------------------------


def test_the_credentials_neither_chain_nor_reach_other_services(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    answer = vended(api, identity, signer, ALICE)
    creds = answer["credentials"]
    keys = {"aws_access_key_id": creds["accessKeyId"], "aws_secret_access_key": creds["secretAccessKey"],
            "aws_session_token": creds["sessionToken"], "endpoint_url": front.url, "region_name": REGION}  # fmt: skip
    role = boto3.client("iam", endpoint_url=identity.endpoint, region_name=REGION).get_role(
        RoleName="integreat-test-app-events"
    )
    sts = boto3.client("sts", **keys)
    assert (
        denied(lambda: sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="x@events"))
        == "AccessDenied"
    )
    assert denied(lambda: boto3.client("sqs", **keys).list_queues()) in ("AccessDenied", "403")
    service = Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"], 0, "")
    headers = signed_headers(
        service, REGION, "GET", "http://localhost/service/me", b"", {"Host": "localhost"}
    )
    assert refused(api.http.get("/service/me", headers=headers), 403) == "invalid_signature"


def test_tampered_and_expired_sessions_are_refused_by_the_front(api: Client, identity: IdentityPlatform, signer: Signer, front: Front) -> None:  # fmt: skip
    answer = vended(api, identity, signer, ALICE)
    creds = answer["credentials"]
    prefix, payload, mac = creds["sessionToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["p"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    widened = answer | {"credentials": creds | {"sessionToken": f"{prefix}.{forged}.{mac}"}}
    assert denied(lambda: put(s3_with(front, widened), unique("church/public/"))) == "InvalidToken"
    wrong = answer | {"credentials": creds | {"secretAccessKey": "not-the-secret"}}
    assert denied(lambda: put(s3_with(front, wrong), unique("church/uploads/"))) == "SignatureDoesNotMatch"
    past = SessionKeys(front.session_key, clock=lambda: time.time() - 3600).issue(
        identity.roles["church"], f"{ALICE.sub}@church", None, 900)  # fmt: skip
    expired = {"credentials": {"accessKeyId": past.access_key_id, "secretAccessKey": past.secret_access_key,
                               "sessionToken": past.session_token}, "region": REGION}  # fmt: skip
    assert denied(lambda: put(s3_with(front, expired), unique("church/uploads/"))) == "ExpiredToken"
