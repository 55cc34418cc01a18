"""What an S3 request asks IAM for, and the app roles' policies to decide it with.

Each request maps to the IAM actions S3 authorizes it by (S3 user guide, "Actions, resources,
and condition keys for Amazon S3"): GET object is s3:GetObject (with versionId,
s3:GetObjectVersion), a copy also needs s3:GetObject on its source, multipart steps are
s3:PutObject, DeleteObjects is s3:DeleteObject per key, a listing is s3:ListBucket with the
`s3:prefix` condition key. Requests outside that table map to a name no policy of ours allows.

A role session started with a session policy (the API's storage credentials, issue 16) gets what
both the role's policies and the session policy allow (IAM user guide, "Session policies"); the
local STS's AssumeRole is decided here too (`assume_role`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from integreat.local.iam_eval import allowed, allowed_by_any
from integreat.local.s3_auth import Principal, Session, SessionKeys
from integreat.local.s3_errors import S3Error, access_denied

#: (method, sub-resource or "") -> action, for requests on an object.
OBJECT_ACTIONS = {
    ("GET", ""): "s3:GetObject", ("HEAD", ""): "s3:GetObject", ("PUT", ""): "s3:PutObject",
    ("DELETE", ""): "s3:DeleteObject", ("POST", "uploads"): "s3:PutObject",
    ("POST", "uploadId"): "s3:PutObject", ("PUT", "uploadId"): "s3:PutObject",
    ("DELETE", "uploadId"): "s3:AbortMultipartUpload", ("GET", "uploadId"): "s3:ListMultipartUploadParts",
    ("GET", "versionId"): "s3:GetObjectVersion", ("HEAD", "versionId"): "s3:GetObjectVersion",
    ("DELETE", "versionId"): "s3:DeleteObjectVersion", ("GET", "tagging"): "s3:GetObjectTagging",
    ("PUT", "tagging"): "s3:PutObjectTagging", ("GET", "acl"): "s3:GetObjectAcl", ("PUT", "acl"): "s3:PutObjectAcl",
}  # fmt: skip
#: Sub-resources that decide the action, in precedence order (uploadId before versionId...).
SUB_RESOURCES = ("uploads", "uploadId", "tagging", "acl", "versionId", "retention", "legal-hold",
                 "attributes", "restore", "select", "torrent")  # fmt: skip
LISTING = "s3:ListBucket"


class Access(NamedTuple):
    action: str
    resource: str
    context: dict[str, str]


def accesses(method: str, bucket: str, key: str, query: Mapping[str, str], headers: Message, body: bytes) -> list[Access]:  # fmt: skip
    """The IAM requests one S3 request makes (path-style: /bucket/key)."""
    if not bucket:
        return [Access("s3:ListAllMyBuckets", "*", {})]
    if not key:
        return _bucket_accesses(method, bucket, query, body)
    sub = next((name for name in SUB_RESOURCES if name in query), "")
    action = OBJECT_ACTIONS.get((method, sub), f"s3:Unsupported{method.title()}Object:{sub}")
    found = [Access(action, f"arn:aws:s3:::{bucket}/{key}", {})]
    source = headers.get("x-amz-copy-source")
    if source and method == "PUT":
        found.append(_copy_source(str(source)))
    return found


def _bucket_accesses(method: str, bucket: str, query: Mapping[str, str], body: bytes) -> list[Access]:
    arn = f"arn:aws:s3:::{bucket}"
    if method == "POST" and "delete" in query:
        return [Access("s3:DeleteObject", f"{arn}/{key}", {}) for key in _deleted_keys(body)]
    listing = method in ("GET", "HEAD") and not (set(query) - {"list-type", "prefix", "delimiter",
                  "max-keys", "continuation-token", "start-after", "marker", "encoding-type", "fetch-owner"})  # fmt: skip
    if listing:
        context = {"s3:prefix": query["prefix"]} if "prefix" in query else {}
        return [Access(LISTING, arn, context)]
    sub = next(iter(sorted(query)), "")
    return [Access(f"s3:Unsupported{method.title()}Bucket:{sub}", arn, {})]


def _copy_source(source: str) -> Access:
    path, _, version = unquote(source).lstrip("/").partition("?versionId=")
    return Access("s3:GetObjectVersion" if version else "s3:GetObject", f"arn:aws:s3:::{path}", {})


def _deleted_keys(body: bytes) -> list[str]:
    try:
        root = ET.fromstring(body)  # noqa: S314 (our own clients' request bodies, on loopback)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


#: role unique id (AROA...) -> the role's identity policies (documents).
PolicySource = Callable[[str], list[dict[str, Any]]]


def authorize(policies: list[dict[str, Any]], wanted: list[Access], session: dict[str, Any] | None = None) -> None:  # fmt: skip
    """AccessDenied unless the role's policies allow every access and so does the session policy,
    when there is one (their intersection; an evaluator error denies)."""
    for access in wanted:
        try:
            ok = allowed_by_any(policies, access.action, access.resource, access.context) and (
                session is None or allowed(session, access.action, access.resource, access.context)
            )
        except (ValueError, KeyError, TypeError):
            ok = False  # a document the evaluator does not understand never allows
        if not ok:
            raise access_denied()


class MotoRolePolicies:
    """The documents the provisioner put on each role in moto's IAM (inline and attached),
    looked up by the role's unique id and cached briefly (provisioning may change them)."""

    def __init__(self, iam: Any, ttl_seconds: float = 5.0) -> None:
        self._iam = iam
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def __call__(self, role_id: str) -> list[dict[str, Any]]:
        with self._lock:
            cached = self._cache.get(role_id)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        documents = self._load(role_id)
        with self._lock:
            self._cache[role_id] = (time.monotonic(), documents)
        return documents

    def role_id(self, arn: str) -> str | None:
        """The unique id of the role `arn` names, or None (no such role)."""
        try:
            role = self._iam.get_role(RoleName=arn.rpartition("/")[2])["Role"]
        except self._iam.exceptions.NoSuchEntityException:
            return None
        return str(role["RoleId"]) if role["Arn"] == arn else None

    def _load(self, role_id: str) -> list[dict[str, Any]]:
        pages = self._iam.get_paginator("list_roles").paginate()
        name = next((r["RoleName"] for p in pages for r in p["Roles"] if r["RoleId"] == role_id), None)
        if name is None:
            return []  # no such role: nothing is allowed
        inline = self._iam.list_role_policies(RoleName=name)["PolicyNames"]
        documents = [self._iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"] for p in inline]
        for attached in self._iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            policy = self._iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = self._iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )
            documents.append(version["PolicyVersion"]["Document"])
        return [_statements_listed(json.loads(unquote(d)) if isinstance(d, str) else d) for d in documents]


def _statements_listed(document: dict[str, Any]) -> dict[str, Any]:
    statement = document.get("Statement", [])
    return {**document, "Statement": [statement] if isinstance(statement, dict) else list(statement)}


# --- the local STS's AssumeRole (issue 16) ------------------------------------------------------

#: role ARN -> the role's unique id, or None when there is no such role.
RoleLookup = Callable[[str], str | None]
#: What our callers send; anything else (PolicyArns, Tags, SourceIdentity...) is refused rather
#: than ignored: ignoring PolicyArns would grant more than AWS does.
ASSUME_ROLE_PARAMS = frozenset(
    {"Action", "Version", "RoleArn", "RoleSessionName", "DurationSeconds", "Policy"}
)
MAX_POLICY_CHARS = 2048
#: The platform key stands for the API's role: a session it starts is role chaining, at most 1 hour.
MAX_CHAINED_SECONDS = 3600
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_POLICY_CHARS = re.compile(r"[\t\n\r\u0020-\u00ff]+")
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})")


def assume_role(params: Mapping[str, str], caller: Principal, roles: RoleLookup, sessions: SessionKeys | None) -> tuple[Session, str]:  # fmt: skip
    """STS AssumeRole as AWS decides it for our platform: only the platform's key (the API's role)
    may assume a role (app roles grant no sts:AssumeRole, so neither their backends nor their
    sessions can chain); the session name, duration and policy are checked as STS checks them.
    Returns the session and its assumed-role ARN; S3Error (rendered as STS's error) otherwise."""
    arn = params.get("RoleArn", "")
    unknown = sorted(set(params) - ASSUME_ROLE_PARAMS)
    if unknown:
        raise _invalid(f"the local STS does not emulate AssumeRole's {', '.join(unknown)}")
    shape = _ROLE_ARN.fullmatch(arn)
    role_id = roles(arn) if shape else None
    if caller.role_id is not None or role_id is None or shape is None or sessions is None:
        raise access_denied(
            f"User: {caller.principal_id} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
    name = params.get("RoleSessionName", "")
    if not _SESSION_NAME.fullmatch(name):
        raise _invalid(f"Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2 to 64")  # fmt: skip
    session = sessions.issue(
        role_id, name, _policy(params.get("Policy")), _seconds(params.get("DurationSeconds", "3600"))
    )
    return session, f"arn:aws:sts::{shape[1]}:assumed-role/{shape[2]}/{name}"


def _seconds(text: str) -> int:
    if not text.isdigit() or int(text) < 900:
        raise _invalid(f"Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")  # fmt: skip
    if int(text) > MAX_CHAINED_SECONDS:
        raise _invalid(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )
    return int(text)


def _policy(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    if len(text) > MAX_POLICY_CHARS or not _POLICY_CHARS.fullmatch(text):
        raise _invalid(f"Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {MAX_POLICY_CHARS} of [\\u0009\\u000A\\u000D\\u0020-\\u00FF]")  # fmt: skip
    try:
        policy = _statements_listed(json.loads(text))
        allowed(policy, "s3:GetObject", "arn:aws:s3:::probe/probe")  # a document the evaluator reads
    except (ValueError, KeyError, TypeError, AttributeError):
        raise S3Error(400, "MalformedPolicyDocument", "The policy is not in the valid JSON format or uses what the local evaluator does not support.") from None  # fmt: skip
    return policy


def _invalid(message: str) -> S3Error:
    return S3Error(400, "ValidationError", f"1 validation error detected: {message}")


def sts_params(content_type: str, body: bytes, query: str) -> dict[str, str]:
    """The query protocol's parameters: the form body (botocore sends one) or the query string."""
    form = content_type.startswith("application/x-www-form-urlencoded")
    pairs = parse_qsl(body.decode("utf-8", "replace") if form else query, keep_blank_values=True)
    if len({name for name, _ in pairs}) != len(pairs):
        raise _invalid("a parameter is given more than once")
    return dict(pairs)


def assumed(session: Session, arn: str) -> str:
    """AssumeRoleResult, as STS answers it."""
    expires = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    size = len(json.dumps(session.policy, separators=(",", ":"))) if session.policy else 0
    return (
        f"<AssumeRoleResult><Credentials><AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{session.secret_access_key}</SecretAccessKey><SessionToken>{session.session_token}"
        f"</SessionToken><Expiration>{expires}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>"
        f"{session.role_id}:{escape(session.name)}</AssumedRoleId><Arn>{escape(arn)}</Arn></AssumedRoleUser>"
        # Not STS's packing (unpublished): the share of the plaintext limit, as an approximation.
        f"<PackedPolicySize>{-(-100 * size // MAX_POLICY_CHARS)}</PackedPolicySize></AssumeRoleResult>"
    )


def sts_error(refusal: S3Error) -> str:
    code = "InvalidClientTokenId" if refusal.code == "InvalidAccessKeyId" else refusal.code
    return f"<Error><Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(refusal.message)}</Message></Error>"


def sts_document(root: str, inner: str) -> bytes:
    request_id = f"<RequestId>{secrets.token_hex(16)}</RequestId>"
    meta = request_id if root == "ErrorResponse" else f"<ResponseMetadata>{request_id}</ResponseMetadata>"
    return f'<{root} xmlns="https://sts.amazonaws.com/doc/2011-06-15/">{inner}{meta}</{root}>'.encode()
