"""The cross-app consumer as a Chalice SQS handler. Thin: the raw event to `process`."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.observability import start_invocation
from chalicelib.runtime import runtime

EVENTS_QUEUE_ENV = "INTEGREAT_EVENTS_QUEUE"
DEFAULT_EVENTS_QUEUE = "integreat-events"

cross_app_events = Blueprint(__name__)


@cross_app_events.on_sqs_message(queue=os.environ.get(EVENTS_QUEUE_ENV, DEFAULT_EVENTS_QUEUE), batch_size=10)
def on_cross_app_event(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.messaging.consumer import process  # imported here: off the API's cold start

    raw = event.to_dict()
    start_invocation(str(raw.get("Records", [{}])[0].get("messageId", "")) or None)
    return process(raw, runtime().messaging_deps())
