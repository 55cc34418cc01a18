"""Direct storage access without the identity pool's ceiling (issue 16): credentials the API vends.

A frontend's direct S3 access (Amplify Storage) went through the Cognito identity pool, one role
mapping per app client: at most 10 per identity pool, far under 1,000 apps. Instead the API
assumes the app's own IAM role for the caller (STS AssumeRole) with a session policy compiled
from the app's folder rules for *this* caller. A session's permissions are the intersection of
the role's policy (`iam.app_storage_policy`: the folder `<slug>/`) and the session policy (IAM
user guide, "Session policies"), so the credentials reach what the rule engine lets this caller
write and read, and nothing else: deny by default.

The rule engine decides, asked once per folder: `access.refusal` for writes (the principals half
of `rules.judge_write`: content types and sizes have no IAM condition keys, so the storage
consumer still decides every created object) and `rules.decide_read` for reads (with its owner
rule). A `{user}` folder is asked twice: for the caller's own folder, and for anyone's (`*`: a
role that reads every user's folder, or the platform admin).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import combinations
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.storage.access import Actor, Place, refusal, who
from chalicelib.storage.errors import StorageError, StorageRefusal
from chalicelib.storage.iam import MAX_SESSION_POLICY_CHARS, bound_policy, packed, session_policy
from chalicelib.storage.model import USER, FolderRule, StorageSpec, principals
from chalicelib.storage.rules import decide_read
from chalicelib.storage.spec import MEMBERS, OWNER

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

DEFAULT_SECONDS = 900  # STS's minimum: a browser refreshes through the provider when they expire
#: A role session started by another role's session (the API's) lasts at most an hour (IAM user
#: guide, "Role chaining"), whatever the role's MaxSessionDuration says.
MAX_SECONDS = 3600
#: A `{user}` segment standing for every user: an IAM wildcard, and an owner nobody is (a
#: Cognito sub never contains '*').
ANY_USER = "*"
#: Cognito subs are UUIDs. A sub becomes a key segment, an IAM resource and the session name,
#: so anything but these characters (IAM wildcards, '/', '$' of policy variables) is refused.
SUB = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.=,+-]{0,35}")
MAX_SUB = 36
MAX_COMBINED_ROLES = 12  # 4,096 role combinations to ask the rule engine about, at most
LONGEST_BUCKET = "b" * 63  # S3 bucket names have 3 to 63 characters
MAX_SESSION_NAME = 64  # STS RoleSessionName: 2 to 64 of [\w+=,.@-]
_PROBE = "probe"  # a file name inside a folder, for asking `decide_read` about the folder
_TRANSIENT = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable",
                        "InternalFailure", "InternalError", "IDPCommunicationError"})  # fmt: skip


class CredentialsError(StorageError):
    """Base of the errors of vending storage credentials."""


class SessionPolicyTooLargeError(CredentialsError):
    """The app's folders need a session policy over IAM's limit (a manifest problem: 409)."""


class StsUnavailableError(CredentialsError):
    """STS is unreachable, throttling or failing: retry shortly (503)."""


class StsRefusedError(CredentialsError):
    """STS refused the platform itself (its permissions, the role's trust): an operator's fix."""


class Grant(NamedTuple):
    """A key prefix of the app and what the caller may do under it."""

    prefix: str  # "church/uploads/", "church/private/<sub>/", "students/assignments/*/"
    read: bool
    write: bool

    @property
    def rights(self) -> list[str]:
        return [name for name, ok in (("read", self.read), ("write", self.write)) if ok]


def grants(app: str, spec: StorageSpec, actor: Actor) -> list[Grant]:
    """What `actor` may do in each folder of `app`, as key prefixes; folders they have no right
    in are left out. The caller's own `{user}` folder keeps only what anyone's does not give."""
    storage = {app: spec}
    found: list[Grant] = []
    for folder in spec.folders:
        anyone = _grant(app, folder, ANY_USER if folder.per_user else None, actor, storage)
        found.append(anyone)
        if folder.per_user and actor.user_id is not None:
            own = _grant(app, folder, actor.user_id, actor, storage)
            found.append(
                own._replace(read=own.read and not anyone.read, write=own.write and not anyone.write)
            )
    return [grant for grant in found if grant.read or grant.write]


def _grant(
    app: str, folder: FolderRule, owner: str | None, actor: Actor, storage: dict[str, StorageSpec]
) -> Grant:
    prefix = f"{app}/{folder.path.replace(USER, owner) if owner else folder.path}"
    write = refusal("write", folder.write, actor, Place(app, folder.path, owner)) is None
    verdict = decide_read(f"{prefix}{_PROBE}", actor=actor, storage=storage)
    return Grant(prefix, verdict.allowed and verdict.folder == folder, write)


def policy_for(bucket: str, found: list[Grant]) -> str:
    """The packed session policy of `found` (see `iam.session_policy`)."""
    writes = [grant.prefix for grant in found if grant.write]
    return packed(session_policy(bucket, writes, [grant.prefix for grant in found if grant.read]))


def largest_policy(app: str, spec: StorageSpec, bucket: str = LONGEST_BUCKET) -> str:
    """The longest session policy any caller of `app` can get, for checking a manifest before a
    caller meets the limit: the rule engine asked for every combination of the roles its folders
    name, and for the platform admin, with the longest sub. Past MAX_COMBINED_ROLES named roles,
    a bound instead: every prefix (own and anyone's) in each of the three object statements."""
    named = {p for f in spec.folders for right in (f.write, f.read) for p in principals(right)}
    roles = sorted(named - {MEMBERS, OWNER} | {"member"})
    user = "u" * MAX_SUB
    if len(roles) > MAX_COMBINED_ROLES:
        every = [f"{app}/{f.path.replace(USER, owner)}" for f in spec.folders for owner in (user, ANY_USER)]
        return packed(bound_policy(bucket, every))
    callers = [Actor(app, user, combo) for n in range(1, len(roles) + 1) for combo in combinations(roles, n)]
    policies = [policy_for(bucket, found) for a in [*callers, Actor(app, user, (), is_admin=True)]
                if (found := grants(app, spec, a))]  # fmt: skip
    return max(policies, key=len, default="")


def size_problem(app: str, spec: StorageSpec, bucket: str = LONGEST_BUCKET) -> str | None:
    """Why `app`'s folders may not fit a session policy, or None: for the manifest's checks."""
    size = len(largest_policy(app, spec, bucket))
    return _too_large(app, size) if size > MAX_SESSION_POLICY_CHARS else None


def session_name(app: str, user_id: str) -> str:
    """`<sub>@<app>`, within STS's 64 characters: a long slug is cut (the role's unique id in the
    principal names the app exactly; the name is for people reading CloudTrail and S3 events).

    >>> session_name("church", "7d2c8a4e-93f1-4a55-b1de-0f3c9e8a1b20")
    '7d2c8a4e-93f1-4a55-b1de-0f3c9e8a1b20@church'
    """
    return f"{user_id}@{app}"[:MAX_SESSION_NAME]


def vend(
    sts: Any, tenant: AppRecord, actor: Actor, *, bucket: str, region: str, seconds: int
) -> dict[str, Any]:
    """Credentials of `tenant`'s role for `actor`, narrowed to their folders, in the shape an
    Amplify JS v6 credentials provider returns (`expiration` as ISO 8601 UTC). `bucket` is the
    stage's shared bucket; the session policy and the answer name the app's placement's bucket.

    StorageRefusal: the caller may use no folder, or is not a user with a Cognito sub.
    SessionPolicyTooLargeError, StsUnavailableError, StsRefusedError: see each.
    """
    from chalicelib.storage.section import STORAGE

    if actor.user_id is None or not SUB.fullmatch(actor.user_id):
        raise StorageRefusal(f"storage credentials are for users with a Cognito sub; got {actor.user_id!r}")
    if not tenant.iam_role_arn:
        raise StsRefusedError(f"app {tenant.slug} has no IAM role yet: provision it (integreat apps sync)")
    from chalicelib.storage.placement import app_bucket

    spec = STORAGE.of(tenant)
    bucket = app_bucket(bucket, tenant.slug, spec)
    found = grants(tenant.slug, spec, actor)
    if not found:
        raise StorageRefusal(f"{who(actor)} may neither write nor read any folder of {tenant.slug}")
    policy = policy_for(bucket, found)
    if len(policy) > MAX_SESSION_POLICY_CHARS:
        raise SessionPolicyTooLargeError(_too_large(tenant.slug, len(policy)))
    name = session_name(tenant.slug, actor.user_id)
    answer = _assume(sts, tenant, name, policy, seconds)
    issued = answer["Credentials"]
    return {
        "credentials": {
            "accessKeyId": issued["AccessKeyId"],
            "secretAccessKey": issued["SecretAccessKey"],
            "sessionToken": issued["SessionToken"],
            "expiration": _iso(issued["Expiration"]),
        },
        "bucket": bucket,
        "region": region,
        "prefixes": {grant.prefix: grant.rights for grant in found},
    }


def _assume(sts: Any, tenant: AppRecord, name: str, policy: str, seconds: int) -> dict[str, Any]:
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        answer: dict[str, Any] = sts.assume_role(
            RoleArn=tenant.iam_role_arn, RoleSessionName=name, Policy=policy, DurationSeconds=seconds
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code == "PackedPolicyTooLarge":
            raise SessionPolicyTooLargeError(
                _too_large(tenant.slug, len(policy), packed_by_sts=True)
            ) from exc
        if code in _TRANSIENT or status >= 500:
            raise StsUnavailableError("STS is failing or throttling; retry shortly") from exc
        raise StsRefusedError(f"STS refused AssumeRole of {tenant.iam_role_arn}: {code}") from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise StsUnavailableError("STS is unreachable; retry shortly") from exc
    _warn_when_nearly_full(answer, tenant.slug)
    return answer


def _warn_when_nearly_full(answer: dict[str, Any], app: str) -> None:
    used = answer.get("PackedPolicySize")
    if isinstance(used, int) and used >= 90:
        from chalicelib.observability import logger

        logger.warning("session policy nearly fills STS's packed limit", extra={"app": app, "percent": used})


def _too_large(app: str, size: int, *, packed_by_sts: bool = False) -> str:
    measured = "STS found its packed form over its limit" if packed_by_sts else (
        f"it is {size:,} characters; IAM allows {MAX_SESSION_POLICY_CHARS:,}")  # fmt: skip
    return (
        f"the folders of {app} need a session policy too large for STS ({measured}): shorten the"
        f" folder paths or declare fewer folders in [apps.{app}.storage], or use the files API"
        f" (POST /apps/{app}/files/uploads), which needs no session policy"
    )


def _iso(when: datetime | str) -> str:
    if isinstance(when, str):
        return when
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
