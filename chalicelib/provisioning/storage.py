"""The platform's bucket and storage-events queue, for the local platform and the tests.

In production the CDK stack owns these (issue: infrastructure); this mirrors its settings so the
local platform behaves the same: public access blocked, the storage-events queue with a DLQ
(maxReceiveCount 5) and a visibility timeout of at least 6x the consumer's timeout, a queue
policy that admits only this bucket, and ObjectCreated/ObjectRemoved notifications to the queue.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from chalicelib.provisioning.queues import ensure_queue


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
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "integreat-storage-events",
                    "QueueArn": pair.arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    return StorageResources(bucket, pair.url, pair.arn, pair.dlq_url)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        config = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **config)
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
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }


def ensure_bucket_cors(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    """The bucket's CORS configuration set to `rules` (none: removed, so no origin reads it)."""
    if rules:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    else:
        s3.delete_bucket_cors(Bucket=bucket)
