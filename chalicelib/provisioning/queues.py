"""A queue with its dead-letter queue, as every Integreat queue is made (design decision 3):
maxReceiveCount 5, a visibility timeout of at least 6x the consumer's timeout, 14 days on the DLQ."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

MAX_RECEIVE_COUNT = 5
CONSUMER_TIMEOUT_SECONDS = 30
VISIBILITY_TIMEOUT_SECONDS = 6 * CONSUMER_TIMEOUT_SECONDS


class QueuePair(NamedTuple):
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


def ensure_queue(
    sqs: Any, name: str, *, policy: dict[str, Any] | None = None, visibility: int = VISIBILITY_TIMEOUT_SECONDS
) -> QueuePair:
    """Idempotent: creates what is missing, re-applies the attributes to what exists."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    dlq_arn = queue_arn(sqs, dlq_url)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = queue_arn(sqs, url)
    attributes = {
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
    }
    if policy is not None:
        attributes["Policy"] = json.dumps(policy)
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return QueuePair(url, arn, dlq_url, dlq_arn)


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
