"""SQS consumers that stage per record and write per batch, with partial batch responses.

Powertools' BatchProcessor calls one function per record and reports the records that raised
(DESIGN.md decision 3). Our consumers also batch their database writes: records stage their
rows, `flush()` writes them when the batch ends, and the records of a failed write are turned
into batch item failures, so SQS retries exactly those.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class StagingBatchProcessor(BatchProcessor):
    def __init__(self) -> None:
        super().__init__(event_type=EventType.SQS)

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
        return dict(process_partial_response(event=event, record_handler=self.handle, processor=self))

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self.prepare()

    def _clean(self) -> None:
        self.flush()
        super()._clean()  # type: ignore[no-untyped-call]
