"""SQS consumers that stage per record and write per batch, with partial batch responses.

Powertools' BatchProcessor calls one function per record and reports the records that raised
(design decision 3). Our consumers also batch their database writes: records stage their
rows, `flush()` writes them when the batch ends, and the records of a failed write are turned
into batch item failures, so SQS retries exactly those.

A record reported as failed is left alone by Lambda: it becomes visible again only when the
queue's visibility timeout (180 s) runs out ("Handling errors for an SQS event source in Lambda",
AWS Lambda developer guide). A database blip would delay it by that much, so records that failed
transiently (`DatabaseUnavailableError`) are made visible again sooner with
ChangeMessageVisibilityBatch (`retry_delay`), while still being reported: the receive count
still grows, so the DLQ after 5 receives works as before (issue 14, item 8).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.observability import logger

#: The longest retry delay: the queues' own visibility timeout (provisioning.queues), so a
#: shortened retry never waits longer than an untouched one would.
RETRY_CAP_SECONDS = 180
_BATCH_LIMIT = 10  # entries per ChangeMessageVisibilityBatch (SQS API reference)


#: By how many times a record was received: at once after the first (a blip), then 10 s, 60 s.
_RETRY_DELAYS = {1: 0, 2: 10, 3: 60}


def retry_delay(receive_count: int) -> int:
    """Seconds until a transiently failed record is received again (its ApproximateReceiveCount
    picks the step); from the fourth receive on, the cap."""
    return _RETRY_DELAYS.get(max(receive_count, 1), RETRY_CAP_SECONDS)


class Retries(Protocol):
    def soon(self, records: Sequence[SQSRecord]) -> None:
        """Make `records` visible again after `retry_delay`; never raises (best effort)."""


class SqsRetries:
    """`Retries` on the real queue. `sqs` is a factory: the client (and boto3) is created only
    when a record first fails, off the consumers' cold start."""

    def __init__(self, sqs: Callable[[], Any]) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}  # queue ARN -> URL, looked up once per container

    def soon(self, records: Sequence[SQSRecord]) -> None:
        by_queue: dict[str, list[SQSRecord]] = {}
        for record in records:
            by_queue.setdefault(record.event_source_arn, []).append(record)
        for arn, group in by_queue.items():
            for start in range(0, len(group), _BATCH_LIMIT):
                self._change(arn, group[start : start + _BATCH_LIMIT])

    def _change(self, arn: str, records: Sequence[SQSRecord]) -> None:
        entries = [
            {"Id": str(n), "ReceiptHandle": r.receipt_handle, "VisibilityTimeout": retry_delay(_receives(r))}
            for n, r in enumerate(records)
        ]
        try:
            result = self._sqs().change_message_visibility_batch(QueueUrl=self._url(arn), Entries=entries)
        except Exception:  # the records still come back, after the queue's full timeout
            logger.warning("could not shorten the retry delay", extra={"queue": arn}, exc_info=True)
            return
        for failed in result.get("Failed", []):
            logger.warning("could not shorten the retry delay", extra={"queue": arn, "failed": failed})

    def _url(self, arn: str) -> str:
        url = self._urls.get(arn)
        if url is None:
            _, _, _, _, account, name = arn.split(":", 5)
            found = self._sqs().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            url = self._urls[arn] = str(found["QueueUrl"])
        return url


def _receives(record: SQSRecord) -> int:
    return int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)


def _transient(exc_info: Any) -> bool:
    return isinstance(exc_info[1], DatabaseUnavailableError)


class StagingBatchProcessor(BatchProcessor):
    def __init__(self, retries: Retries | None = None) -> None:
        super().__init__(event_type=EventType.SQS)
        self._retries = retries

    def prepare(self) -> None:
        """Before the batch: refresh what the records will be decided against."""

    def flush(self) -> None:
        """After the batch: write what the records staged; call `fail` for what did not land."""

    def handle(self, record: SQSRecord) -> None:
        raise NotImplementedError

    def fail(self, raws: Iterable[dict[str, Any]]) -> None:
        """Turn records that had succeeded into failures (their writes did not land)."""
        for raw in raws:
            if raw in self.success_messages:
                # Powertools keeps the raw record dicts here, though the list is typed as records.
                self.success_messages.remove(raw)  # type: ignore[arg-type]
                self.fail_messages.append(SQSRecord(raw))
                self.exceptions.append(sys.exc_info())

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        """Process one Lambda SQS event; returns {"batchItemFailures": [...]}."""
        try:
            return dict(process_partial_response(event=event, record_handler=self.handle, processor=self))
        except DatabaseUnavailableError:
            # `prepare` could not read the registry: the whole batch fails, and is retried soon.
            self._retry([SQSRecord(raw) for raw in event.get("Records", [])])
            raise

    def _retry(self, records: Sequence[SQSRecord]) -> None:
        if self._retries is not None and records:
            self._retries.soon(records)

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self.prepare()

    def _clean(self) -> None:
        self.flush()
        # Before Powertools builds the response (it raises when every record failed). Only
        # transient failures: a bug or a broken table keeps the full delay between its receives.
        failed = zip(self.fail_messages, self.exceptions, strict=False)
        self._retry([r for r, exc in failed if isinstance(r, SQSRecord) and _transient(exc)])
        super()._clean()  # type: ignore[no-untyped-call]


def first_message_id(event: dict[str, Any]) -> str | None:
    """The id of the batch's first record, read through Powertools' `SQSEvent` view: the
    invocation's correlation id on every log line."""
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent

    first = next(SQSEvent(event).records, None)
    return first.message_id if first is not None else None
