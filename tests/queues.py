"""Polling an SQS queue (moto) the way a Lambda event source mapping does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.aws import client
from chalicelib.settings import Settings


def lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """SQS ReceiveMessage results wrapped as the Lambda SQS event (shape: tests/events/)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
            for m in messages
        ]
    }


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
        failed = [f["itemIdentifier"] for f in handler(lambda_event(found, queue_arn))["batchItemFailures"]]
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
