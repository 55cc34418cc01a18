"""The storage-events consumer as a Chalice SQS handler. Thin: the raw event to `process`.

The queue is fed by the bucket's notification (DESIGN.md decision 2: S3 -> SQS -> Lambda).
Its name is fixed at deploy time; partial batch responses need ReportBatchItemFailures on the
event source mapping (set by the CDK stack; see docs/architecture.md for `chalice deploy`).
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.observability import start_invocation
from chalicelib.runtime import runtime

STORAGE_QUEUE_ENV = "INTEGREAT_STORAGE_QUEUE"
DEFAULT_STORAGE_QUEUE = "integreat-storage-events"

storage_events = Blueprint(__name__)


@storage_events.on_sqs_message(queue=os.environ.get(STORAGE_QUEUE_ENV, DEFAULT_STORAGE_QUEUE), batch_size=10)
def on_storage_event(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.storage.consumer import process  # imported here: off the API's cold start

    raw = event.to_dict()
    start_invocation(str(raw.get("Records", [{}])[0].get("messageId", "")) or None)
    return process(raw, runtime().storage_deps())
