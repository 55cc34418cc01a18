"""Event workers for the local platform: poll a queue the way a Lambda event source mapping
does, invoke the real handler with the real SQS event shape, honour partial batch failures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.observability import logger

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """ReceiveMessage results as the Lambda SQS event (AWS Lambda developer guide's shape)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueueWorker:
    """One thread: receive up to 10, run the handler, delete what it did not report as failed
    (a handler that raises fails the whole batch: SQS makes it visible again, then the DLQ).

    `ready()` gates each poll: while a part the handler needs is down (the supervisor restarting
    Postgres), the worker does not receive, so an outage does not burn receives towards the DLQ."""

    def __init__(
        self,
        name: str,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        region: str,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.name = name
        self._sqs, self._url, self._arn, self._handler, self._region = (
            sqs,
            queue_url,
            queue_arn,
            handler,
            region,
        )
        self._ready = ready
        self._stop = threading.Event()
        self._crash = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"worker-{name}", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def crash(self) -> None:
        """Make the thread end at its next turn: a fault the supervisor must notice and repair
        (the chaos tests inject it)."""
        self._crash.set()

    def restarted(self) -> QueueWorker:
        """A new worker on the same queue and handler (a thread cannot be started twice)."""
        return QueueWorker(
            self.name, self._sqs, self._url, self._arn, self._handler, self._region, self._ready
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._crash.is_set():  # the thread ends as an unforeseen error would end it
                logger.error("worker crashed (injected fault)", extra={"worker": self.name})
                return
            if not self._ready():
                self._stop.wait(0.2)
                continue
            try:
                self.poll_once(wait=1)
            except Exception:  # a worker must outlive a bad poll; the message returns to the queue
                logger.exception("worker poll failed", extra={"worker": self.name})
                self._stop.wait(1)

    def poll_once(self, wait: int = 0) -> int:
        found = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=wait
        ).get("Messages", [])
        if not found:
            return 0
        try:
            failures = {
                f["itemIdentifier"]
                for f in self._handler(lambda_event(found, self._arn, self._region))["batchItemFailures"]
            }
        except Exception:
            logger.exception("handler failed the whole batch", extra={"worker": self.name})
            return len(found)
        for message in found:
            if message["MessageId"] not in failures:
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        self.batches += 1
        return len(found)
