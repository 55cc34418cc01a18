"""Dead-letter queue operations for operators: look, move back, empty (CLI: `integreat events dlq`)."""

from __future__ import annotations

from typing import Any, NamedTuple

PEEK_ROUNDS = 5


class DeadLetter(NamedTuple):
    message_id: str
    receive_count: int
    sent_at: str
    body: str


def peek(sqs: Any, dlq_url: str, limit: int = 100) -> list[DeadLetter]:
    """Messages on the DLQ without taking them (visibility timeout 0); up to `limit`."""
    seen: dict[str, DeadLetter] = {}
    for _ in range(PEEK_ROUNDS):
        found = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        for m in found:
            attrs = m.get("Attributes", {})
            seen[m["MessageId"]] = DeadLetter(
                m["MessageId"],
                int(attrs.get("ApproximateReceiveCount", 0)),
                attrs.get("SentTimestamp", ""),
                m["Body"],
            )
        if not found or len(seen) >= limit:
            break
    return list(seen.values())[:limit]


def redrive(sqs: Any, dlq_url: str, queue_url: str, message_ids: set[str] | None = None) -> int:
    """Move messages (all, or those ids) back to the main queue: send first, then delete."""
    moved = 0
    for _ in range(100):
        found = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        chosen = [m for m in found if message_ids is None or m["MessageId"] in message_ids]
        for m in found:
            if m not in chosen:
                sqs.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
        for m in chosen:
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
        if not found or (message_ids is not None and not chosen):
            return moved
    return moved


def purge(sqs: Any, dlq_url: str) -> None:
    sqs.purge_queue(QueueUrl=dlq_url)
