"""The platform's bucket and storage-events queue, for the local platform and the tests.

In production the CDK stack owns these (issue: infrastructure); this mirrors its settings so the
local platform behaves the same: public access blocked, the storage-events queue with a DLQ
(maxReceiveCount 5) and a visibility timeout of at least 6x the consumer's timeout, a queue
policy that admits only this bucket (and the stage's dedicated buckets, `<platform>-<stage>-app-*`,
from this account), and ObjectCreated/ObjectRemoved notifications to the queue.

A bucket of an app's own (`[apps.<slug>.storage] bucket = "dedicated"`) is the provisioner's in
every stage (`ensure_app_bucket`, called from the identity step): the shared bucket's protections
(integreat/infra/data.py), the same notifications, and the CORS rule of that app's origins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.provisioning.queues import ensure_queue
from chalicelib.storage.placement import PlacementError, dedicated_pattern

if TYPE_CHECKING:
    from chalicelib.apps.manifest import AppSpec

#: The tag that says whose bucket a dedicated bucket is; a bucket tagged for another app is refused.
APP_TAG = "integreat:app"
NOTIFICATION_ID = "integreat-storage-events"
EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]


class StorageResources(NamedTuple):
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str


def ensure_storage(s3: Any, sqs: Any, *, bucket: str, queue: str, region: str) -> StorageResources:
    """Idempotent: creates what is missing, re-applies settings to what exists."""
    _ensure_bucket(s3, bucket, region)
    arn = f"arn:aws:sqs:{region}:*:{queue}"  # the policy names its queue; the real ARN is known after
    pair = ensure_queue(sqs, queue, policy=_queue_policy(arn, bucket))
    sqs.set_queue_attributes(
        QueueUrl=pair.url, Attributes={"Policy": json.dumps(_queue_policy(pair.arn, bucket))}
    )
    _notify(s3, bucket, pair.arn)
    return StorageResources(bucket, pair.url, pair.arn, pair.dlq_url)


def _notify(s3: Any, bucket: str, queue_arn: str) -> None:
    config = {"QueueConfigurations": [{"Id": NOTIFICATION_ID, "QueueArn": queue_arn, "Events": EVENTS}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Creates the bucket if it is missing (True: created now) and blocks all public access."""
    from botocore.exceptions import ClientError

    created = False
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        config = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **config)
        created = True
    _block_public(s3, bucket)
    return created


def _block_public(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _queue_policy(queue_arn: str, bucket: str) -> dict[str, Any]:
    """S3 may send for the shared bucket, and for the stage's dedicated buckets of this account
    (bucket names are global: `aws:SourceAccount` keeps another account's look-alike out)."""
    notify = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
              "Resource": queue_arn}  # fmt: skip
    statements = [
        notify
        | {
            "Sid": "BucketNotifications",
            "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
        }
    ]
    account = queue_arn.split(":")[4]
    try:
        pattern = dedicated_pattern(bucket)
    except PlacementError:  # a shared bucket not named for placement: no dedicated buckets
        pattern = None
    if pattern and account != "*":
        condition = {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{pattern}"},
                     "StringEquals": {"aws:SourceAccount": account}}  # fmt: skip
        statements.append(notify | {"Sid": "AppBucketNotifications", "Condition": condition})
    return {"Version": "2012-10-17", "Statement": statements}


class AppBucketSettings(NamedTuple):
    """What a dedicated bucket gets besides its name: the stage's versioning (as the shared
    bucket's, `[stages.<name>] bucket_versioning`) and the storage-events queue to notify."""

    queue_arn: str
    region: str
    versioning: bool = False
    #: The TLS-only bucket policy; off where S3 is served over http (moto, the local platform),
    #: since moto evaluates bucket policies and would deny every request of the emulated stage.
    tls_only: bool = True


@dataclass(frozen=True)
class AppBuckets:
    """What the provisioner needs for apps with a bucket of their own: an S3 client, the stage's
    bucket settings, and whether the apps' local origins (http://localhost) are admitted."""

    s3: Any
    settings: AppBucketSettings
    local: bool = False

    def state(self, bucket: str, app: AppSpec) -> dict[str, Any]:
        """The app's own bucket as it should be (part of the app's identity fingerprint)."""
        from chalicelib.frontends.bucket import cors_rules

        return app_bucket_state(bucket, app.slug, self.settings, cors_rules([app.frontend], local=self.local))

    def ensure(self, want: dict[str, Any]) -> None:
        ensure_app_bucket(self.s3, want, self.settings.region)


def ensure_own_bucket(buckets: AppBuckets | None, want: dict[str, Any] | None) -> None:
    """The provisioner's step for an app whose storage is dedicated; PlacementError if this sync
    makes no buckets (then the app is refused, never left without its bucket)."""
    if buckets is None or want is None:
        raise PlacementError("its storage is dedicated, but this sync makes no buckets"
                             " (it needs INTEGREAT_BUCKET and the storage-events queue)")  # fmt: skip
    buckets.ensure(want)


def app_bucket_state(
    bucket: str, slug: str, settings: AppBucketSettings, cors: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything the bucket should have, as a JSON-able document (part of the app's fingerprint)."""
    return {"name": bucket, "app": slug, "queue": settings.queue_arn, "versioning": settings.versioning,
            "tls_only": settings.tls_only, "cors": cors}  # fmt: skip


def ensure_app_bucket(s3: Any, want: dict[str, Any], region: str) -> None:
    """An app's own bucket, idempotently, with the shared bucket's protections: all public access
    blocked, BucketOwnerEnforced, SSE-S3 by default, a TLS-only bucket policy, the stage's
    versioning, the notifications to the storage-events queue, the app's CORS rule, its tag.

    Raises PlacementError if the bucket exists and belongs to another app (its tag)."""
    bucket = want["name"]
    if not _ensure_bucket(s3, bucket, region):
        _check_owner(s3, bucket, want["app"])
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": APP_TAG, "Value": want["app"]}]})
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    if want["tls_only"]:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
    _versioning(s3, bucket, bool(want["versioning"]))
    _notify(s3, bucket, want["queue"])
    ensure_bucket_cors(s3, bucket, want["cors"])


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """What CDK's `enforce_ssl=True` writes on the shared bucket: deny any request without TLS."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _check_owner(s3: Any, bucket: str, slug: str) -> None:
    from botocore.exceptions import ClientError

    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError:  # NoSuchTagSet: a bucket made by an interrupted first run, adopted
        return
    owner = next((t["Value"] for t in tags if t["Key"] == APP_TAG), slug)
    if owner != slug:
        raise PlacementError(f"bucket {bucket} belongs to app {owner!r}, not {slug!r}; refusing to adopt it")


def _versioning(s3: Any, bucket: str, enabled: bool) -> None:
    """Enabled as the stage says; a bucket once versioned is suspended, never-versioned left alone."""
    current = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    wanted = "Enabled" if enabled else ("Suspended" if current == "Enabled" else current)
    if wanted and wanted != current:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": wanted})


def ensure_bucket_cors(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    """The bucket's CORS configuration set to `rules` (none: removed, so no origin reads it)."""
    if rules:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    else:
        s3.delete_bucket_cors(Bucket=bucket)
