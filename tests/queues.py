"""Polling an SQS queue (moto) the way a Lambda event source mapping does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.aws import client
from chalicelib.settings import Settings
from integreat.local.workers import lambda_event


def poll(
    settings: Settings,
    queue_url: str,
    queue_arn: str,
    handler: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    visibility: int | None = None,
    delete: bool = True,
) -> tuple[int, list[str]]:
    """Receive up to 10 messages, run `handler` on them as one Lambda event, delete the ones it
    did not report as failed (unless `delete` is False: a crash before the delete).
    Returns (messages received, ids reported failed). A handler that raises fails all of them."""
    sqs = client("sqs", settings)
    extra = {} if visibility is None else {"VisibilityTimeout": visibility}
    found = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0, **extra
    ).get("Messages", [])
    if not found:
        return 0, []
    try:
        failed = [
            f["itemIdentifier"]
            for f in handler(lambda_event(found, queue_arn, settings.region))["batchItemFailures"]
        ]
    except Exception:
        failed = [m["MessageId"] for m in found]
    if delete:
        for message in found:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(found), failed


def depth(settings: Settings, queue_url: str) -> int:
    attrs = client("sqs", settings).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
