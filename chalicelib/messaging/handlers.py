"""The cross-app consumer as a Chalice SQS handler. Thin: the raw event to `process`."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.observability import start_invocation
from chalicelib.runtime import runtime
from chalicelib.settings import Settings

cross_app_events = Blueprint(__name__)


@cross_app_events.on_sqs_message(queue=Settings.events_queue.read(os.environ), batch_size=10)
def on_cross_app_event(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.batching import first_message_id
    from chalicelib.messaging.consumer import process  # imported here: off the API's cold start

    raw = event.to_dict()
    start_invocation(first_message_id(raw))
    return process(raw, runtime().messaging_deps())
