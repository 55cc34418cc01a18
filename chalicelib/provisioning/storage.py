"""The platform's bucket and storage-events queue, for the local platform and the tests.

In production the CDK stack owns these (issue: infrastructure); this mirrors its settings so the
local platform behaves the same: public access blocked, the storage-events queue with a DLQ
(maxReceiveCount 5) and a visibility timeout of at least 6x the consumer's timeout, a queue
policy that admits only this bucket, and ObjectCreated/ObjectRemoved notifications to the queue.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

MAX_RECEIVE_COUNT = 5
CONSUMER_TIMEOUT_SECONDS = 30
VISIBILITY_TIMEOUT_SECONDS = 6 * CONSUMER_TIMEOUT_SECONDS


class StorageResources(NamedTuple):
    bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str


def ensure_storage(s3: Any, sqs: Any, *, bucket: str, queue: str, region: str) -> StorageResources:
    """Idempotent: creates what is missing, re-applies settings to what exists."""
    _ensure_bucket(s3, bucket, region)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    dlq_arn = _arn(sqs, dlq_url)
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = _arn(sqs, queue_url)
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
            "Policy": json.dumps(_queue_policy(queue_arn, bucket)),
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "integreat-storage-events",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    return StorageResources(bucket, queue_url, queue_arn, dlq_url)


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


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


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
