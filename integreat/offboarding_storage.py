"""Offboarding an app's files: export them, remove them (issue 16, "placement of storage too").

An app's objects are the keys `<slug>/...` of its placement's bucket (chalicelib/storage/placement.py):
the stage's shared bucket, where only that prefix is the app's, or a bucket of its own, which is
emptied (every version and delete marker) and then deleted. The export writes each current object
to `<dir>/objects/<key>` and a summary `<dir>/objects.json`, before anything is removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from chalicelib.storage.model import StorageSpec
from chalicelib.storage.placement import app_bucket
from chalicelib.storage.rules import QUARANTINE_PREFIX
from chalicelib.tenancy.slugs import validate_slug

#: DeleteObjects takes at most 1,000 keys a request.
DELETE_BATCH = 1000


class StorageRemoval(NamedTuple):
    bucket: str
    objects: int  # versions and delete markers removed
    bucket_deleted: bool


def app_prefixes(slug: str) -> tuple[str, str]:
    """The app's keys, and its quarantined ones (`_quarantine/<slug>/...`)."""
    folder = f"{validate_slug(slug)}/"
    return folder, f"{QUARANTINE_PREFIX}{folder}"


def export_objects(s3: Any, shared: str, slug: str, spec: StorageSpec, directory: Path) -> int:
    """Every current object under `<slug>/` of the app's bucket into `directory/objects/`."""
    bucket = app_bucket(shared, slug, spec)
    root = (directory / "objects").resolve()
    count = 0
    for key in _keys(s3, bucket, app_prefixes(slug)[0]):
        target = (root / key).resolve()
        if not target.is_relative_to(root):  # a key with '..' segments stays inside the export
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        count += 1
    summary = {"app": slug, "bucket": bucket, "placement": spec.bucket, "objects": count}
    (directory / "objects.json").write_text(json.dumps(summary, indent=2))
    return count


def remove_objects(s3: Any, shared: str, slug: str, spec: StorageSpec) -> StorageRemoval:
    """The app's objects gone: its prefixes of the shared bucket, or its own bucket entirely."""
    from botocore.exceptions import ClientError

    bucket = app_bucket(shared, slug, spec)
    prefixes = ("",) if spec.dedicated else app_prefixes(slug)
    try:
        removed = sum(_delete_versions(s3, bucket, prefix) for prefix in prefixes)
    except ClientError as exc:
        if spec.dedicated and exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return StorageRemoval(bucket, 0, True)  # removed before: idempotent
        raise
    if spec.dedicated:
        s3.delete_bucket(Bucket=bucket)
    return StorageRemoval(bucket, removed, spec.dedicated)


def _keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (str(item["Key"]) for item in page.get("Contents", []))


def _delete_versions(s3: Any, bucket: str, prefix: str) -> int:
    """Every version and delete marker under `prefix` (an unversioned bucket: version "null")."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                 for v in (*page.get("Versions", []), *page.get("DeleteMarkers", []))]  # fmt: skip
        for start in range(0, len(found), DELETE_BATCH):
            batch = found[start : start + DELETE_BATCH]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            removed += len(batch)
    return removed
