"""Where an app's objects live (issue 16, "placement of storage too"): a folder `<slug>/` of the
stage's shared bucket, or a bucket of the app's own.

The dedicated bucket's name is derived, never configured: from the shared bucket's name
`<platform>-<stage>-files<tail>` (the CDK stack names it `<prefix>-files-<account id>`; the local
platform `integreat-local-files`) it is `<platform>-<stage>-app-<slug><tail>`, e.g.
`integreat-prod-app-church-123456789012`. The runtime therefore needs no setting beyond the one it
has (`INTEGREAT_BUCKET`), and IAM can name every dedicated bucket of a stage with one pattern,
`<platform>-<stage>-app-*`. Keys keep `<slug>/<folder>/...` in either placement, so every rule,
index row and event reads the same.

Bucket names take 3 to 63 of a-z, 0-9, '-' and '.' and end with a letter or digit (S3 user guide,
"General purpose bucket naming rules"). A slug's '_' becomes '-' (slugs have no '-', so the map is
one-to-one). When the name would be longer than 63 characters, or end with '-', the slug part is
cut and followed by 8 hex digits of the slug's sha256: `<platform>-<stage>-app-<cut>-<hash><tail>`.
The provisioner tags each bucket with its app and refuses to adopt one tagged for another.
"""

from __future__ import annotations

from chalicelib.storage.model import DEDICATED, SHARED, StorageSpec

MAX_BUCKET_NAME = 63
SHARED_MARK = "-files"
APP_MARK = "-app-"
HASH_DIGITS = 8


class PlacementError(ValueError):
    """The shared bucket's name does not say where dedicated buckets go, or a placement is unknown."""


def stage_prefix(shared: str) -> tuple[str, str]:
    """('<platform>-<stage>', '<tail>') from the shared bucket's name.

    >>> stage_prefix("integreat-prod-files-123456789012"), stage_prefix("integreat-local-files")
    (('integreat-prod', '-123456789012'), ('integreat-local', ''))
    """
    head, mark, tail = shared.rpartition(SHARED_MARK)
    if not mark or not head or (tail and not tail.startswith("-")):
        raise PlacementError(
            f"shared bucket {shared!r} is not named <platform>-<stage>-files[-<suffix>]: "
            "the names of dedicated buckets derive from it"
        )
    return head, tail


def dedicated_bucket(shared: str, slug: str) -> str:
    """The bucket of `slug`'s own, in the stage whose shared bucket is `shared`.

    >>> dedicated_bucket("integreat-prod-files-123456789012", "church")
    'integreat-prod-app-church-123456789012'
    """
    head, tail = stage_prefix(shared)
    part = slug.replace("_", "-")
    name = f"{head}{APP_MARK}{part}{tail}"
    if len(name) <= MAX_BUCKET_NAME and not name.endswith("-"):
        return name
    import hashlib

    digest = hashlib.sha256(slug.encode()).hexdigest()[:HASH_DIGITS]
    room = MAX_BUCKET_NAME - len(head) - len(APP_MARK) - len(tail) - HASH_DIGITS - 1
    if room < 1:
        raise PlacementError(f"shared bucket {shared!r} leaves no room for an app's name in 63 characters")
    return f"{head}{APP_MARK}{part[:room].rstrip('-') or part[0]}-{digest}{tail}"


def app_bucket(shared: str, slug: str, spec: StorageSpec) -> str:
    """The bucket that holds `slug`'s objects (keys `<slug>/...` in either placement)."""
    if spec.bucket == SHARED:
        return shared
    if spec.bucket == DEDICATED:
        return dedicated_bucket(shared, slug)
    raise PlacementError(f"app {slug!r}: unknown storage placement {spec.bucket!r}")


def dedicated_pattern(shared: str) -> str:
    """Every dedicated bucket of the stage, as IAM and a queue policy's `aws:SourceArn` match it.

    >>> dedicated_pattern("integreat-local-files")
    'integreat-local-app-*'
    """
    return f"{stage_prefix(shared)[0]}{APP_MARK}*"
