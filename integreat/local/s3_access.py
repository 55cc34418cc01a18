"""What an S3 request asks IAM for, and the app roles' policies to decide it with.

Each request maps to the IAM actions S3 authorizes it by (S3 user guide, "Actions, resources,
and condition keys for Amazon S3"): GET object is s3:GetObject (with versionId,
s3:GetObjectVersion), a copy also needs s3:GetObject on its source, multipart steps are
s3:PutObject, DeleteObjects is s3:DeleteObject per key, a listing is s3:ListBucket with the
`s3:prefix` condition key. Requests outside that table map to a name no policy of ours allows.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import unquote

from integreat.local.iam_eval import allowed_by_any
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


def authorize(policies: list[dict[str, Any]], wanted: list[Access]) -> None:
    """AccessDenied unless the policies allow every access (an evaluator error denies)."""
    for access in wanted:
        try:
            ok = allowed_by_any(policies, access.action, access.resource, access.context)
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
