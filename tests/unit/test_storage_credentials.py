"""Storage credentials vended by the API (issue 16): every generated session policy, evaluated.

Each session policy of the shipped apps is evaluated with our IAM evaluator, together with the
app role's own policy (IAM grants a session what both allow), against the rule engine itself as
the oracle: a key may be put iff `decide_write` admits the caller (with a type and size the folder
accepts), read and listed iff `decide_read` does. Then what no session may ever do, the size
limit, the session name, the STS wrapper (an in-memory STS), and the local STS's pieces
(session credentials, AssumeRole's decision, the intersection in the S3 front).
"""

from __future__ import annotations

import json
import secrets
import uuid
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.sigv4 import SignatureError
from chalicelib.storage.credentials import (
    MAX_SECONDS,
    SessionPolicyTooLargeError,
    StsRefusedError,
    StsUnavailableError,
    grants,
    largest_policy,
    policy_for,
    session_name,
    size_problem,
    vend,
)
from chalicelib.storage.errors import StorageRefusal
from chalicelib.storage.iam import MAX_SESSION_POLICY_CHARS, app_storage_policy
from chalicelib.storage.rules import Actor, decide_read, decide_write
from chalicelib.storage.section import STORAGE
from chalicelib.storage.spec import USER, FolderRule, StorageSpec
from chalicelib.tenancy.manifest import AppSpec, load_manifest
from chalicelib.tenancy.registry import AppRecord
from chalicelib.tenancy.sections import Sections
from integreat.local.s3_access import Access, assume_role, authorize
from integreat.local.s3_auth import Keyring, Principal, SessionKeys
from integreat.local.s3_errors import S3Error
from tests.conftest import ROOT
from tests.iam_eval import allowed

BUCKET = "integreat-prod-files"
ME = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
APPS = {app.slug: app for app in load_manifest(ROOT / "integreat.toml").apps}
NEVER = ["s3:DeleteObject", "s3:PutObjectAcl", "s3:GetObjectAcl", "s3:PutBucketPolicy", "s3:*",
         "s3:GetObjectVersion", "s3:ListAllMyBuckets", "execute-api:Invoke", "sts:AssumeRole", "iam:PassRole"]  # fmt: skip


def callers(app: AppSpec) -> dict[str, Actor]:
    """A member, each role's holder, and the platform admin (acting with another app's token)."""
    found = {"member": Actor(app.slug, ME, ("member",))}
    found |= {role: Actor(app.slug, ME, ("member", role)) for role in app.roles if role != "member"}
    return found | {"platform admin": Actor("church", ME, ("member",), is_admin=True)}


CASES = [(slug, name) for slug, app in APPS.items() for name in callers(app)]


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


class Session:
    """A caller's session: what the role's policy and the session policy both allow."""

    def __init__(self, app: str, actor: Actor) -> None:
        self.app, self.actor = app, actor
        self.policy = json.loads(policy_for(BUCKET, grants(app, APPS[app].storage, actor)))
        self.role = app_storage_policy(BUCKET, app)

    def may(self, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
        return allowed(self.role, action, resource, context) and allowed(
            self.policy, action, resource, context
        )

    def lists(self, prefix: str | None) -> bool:
        return self.may(
            "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {} if prefix is None else {"s3:prefix": prefix}
        )


def concrete_type(folder: FolderRule) -> str:
    """A media type the folder accepts: the rule engine is asked about the caller, not the file."""
    accepted = folder.content_types[0]
    return "application/x-probe" if accepted == "*/*" else accepted.replace("/*", "/x-probe")


def places(app: str, folder: FolderRule) -> list[str]:
    """The folder's directories: a shared folder's, or the caller's own and another user's."""
    if not folder.per_user:
        return [f"{app}/{folder.path}"]
    return [f"{app}/{folder.path.replace(USER, owner)}" for owner in (ME, OTHER)]


@pytest.mark.parametrize(("app", "caller"), CASES)
def test_each_session_may_exactly_what_the_rule_engine_decides(app: str, caller: str) -> None:
    actor = callers(APPS[app])[caller]
    session = Session(app, actor)
    storage = {app: APPS[app].storage}
    checked = 0
    for folder in APPS[app].storage.folders:
        for directory in places(app, folder):
            key = f"{directory}photo.bin"
            may_write = decide_write(
                key, size=1, content_type=concrete_type(folder), actor=actor, storage=storage
            )
            may_read = decide_read(key, actor=actor, storage=storage).allowed
            assert session.may("s3:PutObject", obj(key)) == may_write.allowed, (key, may_write.reason)
            assert session.may("s3:AbortMultipartUpload", obj(key)) == may_write.allowed, key
            assert session.may("s3:ListMultipartUploadParts", obj(key)) == may_write.allowed, key
            assert session.may("s3:GetObject", obj(key)) == may_read, key
            assert session.lists(directory) == may_read, directory
            assert session.lists(f"{directory}sub/") == may_read, directory
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(("app", "caller"), CASES)
def test_no_session_reaches_outside_its_folders(app: str, caller: str) -> None:
    session = Session(app, callers(APPS[app])[caller])
    others = [slug for slug in APPS if slug != app]
    keys = [
        f"{other}/{folder.path.replace(USER, ME)}x"
        for other in others
        for folder in APPS[other].storage.folders
    ]
    keys += [f"_quarantine/{app}/uploads/x", f"{app}evil/uploads/x", f"{app}/not-a-folder/x", f"{app}/x", "x"]
    for key in keys:
        for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"):
            assert not session.may(action, obj(key)), (action, key)
    for prefix in (None, "", f"{app}/", f"{app}", "_quarantine/", *(f"{other}/" for other in others)):
        assert not session.lists(prefix), prefix
    for folder in APPS[app].storage.folders:
        if folder.per_user:  # the folder above every user's folder is never listed whole
            assert not session.lists(f"{app}/{folder.path.split(USER)[0]}"), folder.path


@pytest.mark.parametrize(("app", "caller"), CASES)
def test_no_session_may_delete_administer_or_call_another_service(app: str, caller: str) -> None:
    session = Session(app, callers(APPS[app])[caller])
    for action in NEVER:
        for resource in (obj(f"{app}/uploads/x"), f"arn:aws:s3:::{BUCKET}", "*"):
            assert not allowed(session.policy, action, resource), (action, resource)


def test_a_users_own_folder_is_theirs_and_never_another_users() -> None:
    church = Session("church", Actor("church", ME, ("member",)))
    assert church.may("s3:PutObject", obj(f"church/private/{ME}/a.pdf"))
    assert not church.may("s3:PutObject", obj(f"church/private/{OTHER}/a.pdf"))
    assert not church.may("s3:GetObject", obj(f"church/private/{OTHER}/a.pdf"))
    assert not church.lists(f"church/private/{OTHER}/")
    assert not church.may("s3:PutObject", obj(f"church/private/{ME}x/a.pdf"))  # a sub sharing my prefix


def test_a_teacher_reads_every_assignment_and_writes_only_their_own() -> None:
    teacher = Session("students", Actor("students", ME, ("member", "teacher")))
    assert teacher.may("s3:GetObject", obj(f"students/assignments/{OTHER}/essay.pdf"))
    assert teacher.lists(f"students/assignments/{OTHER}/")
    assert not teacher.lists("students/assignments/")  # one user's folder at a time, as the files API
    assert not teacher.may("s3:PutObject", obj(f"students/assignments/{OTHER}/essay.pdf"))
    assert teacher.may("s3:PutObject", obj(f"students/assignments/{ME}/essay.pdf"))
    found = {
        grant.prefix: grant.rights for grant in grants("students", APPS["students"].storage, teacher.actor)
    }
    assert found == {
        "students/materials/": ["read", "write"],
        "students/assignments/*/": ["read"],
        f"students/assignments/{ME}/": ["write"],
    }


def test_a_folder_without_rights_is_absent_and_nobody_gets_an_empty_policy() -> None:
    member = Actor("church", ME, ("member",))
    found = {grant.prefix for grant in grants("church", APPS["church"].storage, member)}
    assert found == {"church/public/", "church/uploads/", f"church/private/{ME}/"}
    write_only = StorageSpec((FolderRule("drop/", "members", "admin", ("*/*",), 10),))
    assert [grant.rights for grant in grants("church", write_only, member)] == [["write"]]
    policy = json.loads(policy_for(BUCKET, grants("church", write_only, member)))
    assert not allowed(policy, "s3:GetObject", obj("church/drop/x"))
    assert not allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "church/drop/"})
    assert grants("church", StorageSpec(), member) == []
    assert (
        grants("church", APPS["church"].storage, Actor("events", ME, ("member",))) == []
    )  # another app's user


# --- the size limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(APPS))
def test_the_shipped_apps_fit_even_with_the_longest_bucket_name(slug: str) -> None:
    largest = largest_policy(slug, APPS[slug].storage)
    print(
        f"\n{slug}: largest session policy {len(largest)} characters, {len(zlib.compress(largest.encode(), 9))} compressed"
    )
    assert 0 < len(largest) <= MAX_SESSION_POLICY_CHARS * 0.5  # room for the manifest to grow
    assert size_problem(slug, APPS[slug].storage) is None
    for caller in callers(APPS[slug]).values():
        assert len(policy_for("b" * 63, grants(slug, APPS[slug].storage, caller))) <= len(largest)


def many_folders(count: int, length: int = 40) -> StorageSpec:
    rules = [FolderRule(f"f{i:02d}{'x' * (length - 5)}/" + (USER + "/" if i % 2 else ""), "members", "members",
                        ("*/*",), 10) for i in range(count)]  # fmt: skip
    return StorageSpec(tuple(rules))


def test_a_worst_case_that_does_not_fit_is_refused_with_what_to_do() -> None:
    assert size_problem("church", many_folders(6)) is None
    problem = size_problem("church", many_folders(12))
    assert problem is not None
    assert "shorten the folder paths or declare fewer folders in [apps.church.storage]" in problem
    sts = FakeSts()
    with pytest.raises(SessionPolicyTooLargeError, match="2,048"):
        vend(
            sts,
            record(many_folders(12)),
            Actor("church", ME, ("member",)),
            bucket="b" * 63,
            region="eu-west-1",
            seconds=900,
        )
    assert sts.calls == []  # refused before STS is asked


def test_the_bound_past_many_roles_is_never_smaller_than_a_real_policy() -> None:
    roles = tuple(f"r{i}" for i in range(14))
    spec = StorageSpec(tuple(FolderRule(f"{role}/", role, "members", ("*/*",), 10) for role in roles))
    everything = Actor("church", "u" * 36, ("member", *roles))
    assert len(largest_policy("church", spec)) >= len(
        policy_for("b" * 63, grants("church", spec, everything))
    )


# --- the session name ----------------------------------------------------------------------------


def test_the_session_name_names_the_user_and_the_app_within_stss_rules() -> None:
    assert session_name("church", ME) == f"{ME}@church"
    long = session_name("s" * 40, ME)
    assert len(long) == 64
    assert long.startswith(f"{ME}@sss")
    for name in (long, session_name("church", ME)):
        assert 2 <= len(name) <= 64
        assert all(c.isalnum() or c in "_+=,.@-" for c in name)


# --- vend, with an in-memory STS -----------------------------------------------------------------


class FakeSts:
    """STS AssumeRole in memory: records each call; answers like boto3, or raises `failure`."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failure = failure

    def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.failure is not None:
            raise self.failure
        from datetime import UTC, datetime, timedelta

        expires = datetime.now(UTC) + timedelta(seconds=params["DurationSeconds"])
        credentials = {
            "AccessKeyId": "ASIAFAKE",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": expires,
        }
        return {"Credentials": credentials, "PackedPolicySize": 30}


ROLE_ARN = "arn:aws:iam::123456789012:role/integreat/integreat-test-app-church"


def record(spec: StorageSpec, arn: str | None = ROLE_ARN) -> AppRecord:
    return AppRecord(
        "church", "active", "Grace Church", iam_role_arn=arn, sections=Sections([(STORAGE, spec)])
    )


def sts_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AssumeRole",
    )


def test_vend_assumes_the_apps_role_with_the_callers_policy_and_answers_amplifys_shape() -> None:
    sts = FakeSts()
    member = Actor("church", ME, ("member",))
    answer = vend(sts, record(APPS["church"].storage), member, bucket=BUCKET, region="eu-west-1", seconds=900)
    (call,) = sts.calls
    assert call == {"RoleArn": ROLE_ARN, "RoleSessionName": f"{ME}@church", "DurationSeconds": 900,
                    "Policy": policy_for(BUCKET, grants("church", APPS["church"].storage, member))}  # fmt: skip
    assert set(answer) == {"credentials", "bucket", "region", "prefixes"}
    assert set(answer["credentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}
    assert answer["credentials"]["expiration"].endswith("Z")
    assert answer["prefixes"] == {"church/public/": ["read"], "church/uploads/": ["read", "write"],
                                  f"church/private/{ME}/": ["read", "write"]}  # fmt: skip
    json.dumps(answer)  # a JSON body as it is


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (sts_error("Throttling"), StsUnavailableError),
        (sts_error("ServiceUnavailable", 503), StsUnavailableError),
        (sts_error("InternalFailure", 500), StsUnavailableError),
        (EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com"), StsUnavailableError),
        (sts_error("PackedPolicyTooLarge"), SessionPolicyTooLargeError),
        (sts_error("AccessDenied", 403), StsRefusedError),
        (sts_error("RegionDisabledException", 403), StsRefusedError),
    ],
)
def test_sts_failures_are_named(failure: Exception, error: type[Exception]) -> None:
    with pytest.raises(error):
        vend(FakeSts(failure), record(APPS["church"].storage), Actor("church", ME, ("member",)),
             bucket=BUCKET, region="eu-west-1", seconds=900)  # fmt: skip


@pytest.mark.parametrize("sub", ["*", "a*", "u/../x", "${aws:username}", "", "x" * 37, "é"])
def test_a_sub_that_could_widen_a_policy_is_refused(sub: str) -> None:
    sts = FakeSts()
    with pytest.raises(StorageRefusal, match="Cognito sub"):
        vend(
            sts,
            record(APPS["church"].storage),
            Actor("church", sub, ("member",)),
            bucket=BUCKET,
            region="r",
            seconds=900,
        )
    assert sts.calls == []


def test_no_folder_no_role_no_credentials() -> None:
    with pytest.raises(StorageRefusal, match="may neither write nor read any folder of church"):
        vend(
            FakeSts(),
            record(StorageSpec()),
            Actor("church", ME, ("member",)),
            bucket=BUCKET,
            region="r",
            seconds=900,
        )
    with pytest.raises(StsRefusedError, match="no IAM role"):
        vend(FakeSts(), record(APPS["church"].storage, arn=None), Actor("church", ME, ("member",)),
             bucket=BUCKET, region="r", seconds=900)  # fmt: skip
    assert MAX_SECONDS == 3600


# --- the local STS: session credentials, AssumeRole, the intersection ----------------------------


@pytest.fixture
def sessions() -> SessionKeys:
    return SessionKeys(secrets.token_bytes(32))


def test_session_credentials_carry_their_policy_and_open_only_as_issued(sessions: SessionKeys) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    issued = sessions.issue("AROACHURCH", f"{ME}@church", policy, 900)
    opened = sessions.open(issued.access_key_id, issued.session_token)
    assert (opened.role_id, opened.name, opened.policy, opened.secret_access_key) == (
        "AROACHURCH", f"{ME}@church", policy, issued.secret_access_key)  # fmt: skip
    payload = issued.session_token.split(".")[1]
    widened = payload.replace(payload[10:14], "AAAA")  # any change to the claims breaks the MAC
    for key, token in [("ASIAOTHER", issued.session_token), (issued.access_key_id, issued.session_token.replace(payload, widened)),
                       (issued.access_key_id, "sts.e30.AAAA")]:  # fmt: skip
        with pytest.raises(SignatureError):
            sessions.open(key, token)
    with pytest.raises(SignatureError):
        SessionKeys(secrets.token_bytes(32)).open(
            issued.access_key_id, issued.session_token
        )  # another platform's


def test_expired_sessions_and_service_tokens_never_open_as_each_other(sessions: SessionKeys) -> None:
    key = secrets.token_bytes(32)
    past = SessionKeys(key, clock=lambda: 0.0).issue("AROACHURCH", "u@church", None, 900)
    keyring = Keyring({"local": "secret"}, "AWS:AIDAPLATFORM", ServiceKeys(key), SessionKeys(key))
    with pytest.raises(S3Error, match="expired") as expired:
        keyring.open(past.access_key_id, past.session_token)
    assert expired.value.code == "ExpiredToken"
    service = ServiceKeys(key).issue("AROACHURCH")
    session = SessionKeys(key).issue("AROACHURCH", "u@church", None, 900)
    with pytest.raises(SignatureError):
        ServiceKeys(key).open(session.access_key_id, session.session_token)  # /service routes refuse sessions
    with pytest.raises(S3Error):
        keyring.open(service.access_key_id, "sts." + service.session_token)
    assert keyring.open(session.access_key_id, session.session_token)[1] == Principal(
        "AWS:AROACHURCH:u@church", "AROACHURCH", None)  # fmt: skip


PLATFORM = Principal("AWS:AIDAPLATFORM", None)
PARAMS = {
    "Action": "AssumeRole",
    "Version": "2011-06-15",
    "RoleArn": ROLE_ARN,
    "RoleSessionName": f"{ME}@church",
}


def lookup(arn: str) -> str | None:
    return "AROACHURCH" if arn == ROLE_ARN else None


def test_only_the_platform_key_may_assume_a_role(sessions: SessionKeys) -> None:
    session, arn = assume_role(PARAMS | {"DurationSeconds": "900"}, PLATFORM, lookup, sessions)
    assert arn == f"arn:aws:sts::123456789012:assumed-role/integreat-test-app-church/{ME}@church"
    assert session.policy is None
    for caller in (Principal("AWS:AROACHURCH:integreat-service", "AROACHURCH"),
                   Principal(f"AWS:AROACHURCH:{ME}@church", "AROACHURCH", {"Statement": []})):  # fmt: skip
        with pytest.raises(S3Error, match="not authorized to perform: sts:AssumeRole"):
            assume_role(PARAMS, caller, lookup, sessions)
    with pytest.raises(S3Error, match="not authorized"):
        assume_role(PARAMS | {"RoleArn": ROLE_ARN + "x"}, PLATFORM, lookup, sessions)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"RoleSessionName": "a"}, "ValidationError"),
        ({"RoleSessionName": "a" * 65}, "ValidationError"),
        ({"RoleSessionName": "u/1"}, "ValidationError"),
        ({"DurationSeconds": "899"}, "ValidationError"),
        ({"DurationSeconds": "3601"}, "ValidationError"),
        ({"DurationSeconds": "x"}, "ValidationError"),
        ({"Policy": "not json"}, "MalformedPolicyDocument"),
        (
            {"Policy": '{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}'},
            "MalformedPolicyDocument",
        ),
        ({"Policy": " " * 2049}, "ValidationError"),
        ({"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "ValidationError"),
        ({"Tags.member.1.Key": "k"}, "ValidationError"),
    ],
)
def test_assume_role_checks_its_parameters_as_sts_does(
    sessions: SessionKeys, change: dict[str, str], code: str
) -> None:
    with pytest.raises(S3Error) as refused:
        assume_role(PARAMS | change, PLATFORM, lookup, sessions)
    assert (refused.value.code, refused.value.status) == (code, 400)


def test_the_front_allows_only_what_the_role_and_the_session_policy_both_allow() -> None:
    role = [app_storage_policy(BUCKET, "church")]
    session = json.loads(
        policy_for(BUCKET, grants("church", APPS["church"].storage, Actor("church", ME, ("member",))))
    )
    broad = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    authorize(role, [Access("s3:PutObject", obj("church/uploads/x"), {})], session)
    for policies, session_policy, key in [
        (role, session, "church/public/x"),  # the role allows it, the session does not
        (role, broad, "events/posters/x"),  # the session allows it, the role does not
        ([], broad, "church/uploads/x"),  # no role policy: nothing
    ]:
        with pytest.raises(S3Error, match="Access Denied"):
            authorize(policies, [Access("s3:PutObject", obj(key), {})], session_policy)
    with pytest.raises(S3Error):  # a session policy the evaluator cannot read denies
        authorize(
            role, [Access("s3:PutObject", obj("church/uploads/x"), {})], {"Statement": [{"Effect": "Allow"}]}
        )
