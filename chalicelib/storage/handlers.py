"""The storage-events consumer as a Chalice SQS handler. Thin: the raw event to `process`.

The queue is fed by the bucket's notification (design decision 2: S3 -> SQS -> Lambda).
Its name is fixed at deploy time; partial batch responses need ReportBatchItemFailures on the
event source mapping (set by the CDK stack; see docs/architecture.md for `chalice deploy`).
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.observability import start_invocation
from chalicelib.runtime import runtime
from chalicelib.settings import Settings

storage_events = Blueprint(__name__)


@storage_events.on_sqs_message(queue=Settings.storage_queue.read(os.environ), batch_size=10)
def on_storage_event(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.batching import first_message_id
    from chalicelib.storage.consumer import process  # imported here: off the API's cold start

    raw = event.to_dict()
    start_invocation(first_message_id(raw))
    return process(raw, runtime().storage_deps())
