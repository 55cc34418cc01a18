"""Storage test helpers: SQS messages as Lambda delivers them, and S3 events in the AWS shape."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_plus

from chalicelib.aws import client
from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process
from tests.conftest import IdentityPlatform, load_event


def lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """SQS ReceiveMessage results wrapped as the Lambda SQS event (the shape in tests/events/)."""
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


def deliver(identity: IdentityPlatform, rt: Runtime) -> list[dict[str, Any]]:
    """One poll of the storage-events queue through the real consumer, as the Lambda event source
    mapping does: failed records stay on the queue, the rest are deleted. Returns the failures."""
    queue = client("sqs", identity.settings)
    found = queue.receive_message(
        QueueUrl=identity.storage.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", [])
    if not found:
        return []
    response = process(lambda_event(found, identity.storage.queue_arn), rt.storage_deps())
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for message in found:
        if message["MessageId"] not in failed:
            queue.delete_message(QueueUrl=identity.storage.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return list(response["batchItemFailures"])


def drain(identity: IdentityPlatform, rt: Runtime, rounds: int = 20) -> None:
    for _ in range(rounds):
        attrs = client("sqs", identity.settings).get_queue_attributes(
            QueueUrl=identity.storage.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if attrs["ApproximateNumberOfMessages"] == "0":
            return
        deliver(identity, rt)


def s3_event(key: str, *, name: str = "ObjectCreated:Post", size: int = 10, sequencer: str = "0055AED6DCD90281E5",
             principal: str | None = "AWS:AROAEXAMPLEPRESIGNER:integreat-dev-api", bucket: str = "integreat-test-files",
             message_id: str = "m-1") -> dict[str, Any]:  # fmt: skip
    """The recorded SQS-wrapped S3 event, for `key` (URL-encoded here, as S3 does)."""
    event = copy.deepcopy(load_event("sqs_s3_object_created"))
    record = event["Records"][0]
    body = json.loads(record["body"])
    s3 = body["Records"][0]
    s3["eventName"] = name
    s3["s3"]["bucket"]["name"] = bucket
    s3["s3"]["object"] |= {"key": quote_plus(key, safe="/"), "size": size, "sequencer": sequencer}
    if principal is None:
        s3.pop("userIdentity")
    else:
        s3["userIdentity"]["principalId"] = principal
    record["body"] = json.dumps(body)
    record["messageId"] = message_id
    return event


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [record for event in events for record in event["Records"]]}
