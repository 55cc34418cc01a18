"""Messaging test helpers: CloudEvents, SQS records in the recorded Lambda shape, queue polling."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from chalicelib.messaging.consumer import process
from chalicelib.runtime import Runtime
from tests.conftest import IdentityPlatform, load_event
from tests.queues import depth, poll


def cloud_event(
    producer: str,
    event_type: str,
    *,
    event_id: str | None = None,
    data: Any = None,
    source: str | None = None,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source or f"/apps/{producer}",
        "type": event_type,
        "time": "2026-11-27T10:00:00Z",
        "datacontenttype": "application/json",
        "data": data if data is not None else {"n": 1},
    }


def sqs_record(body: dict[str, Any] | str, *, sender: str, message_id: str | None = None) -> dict[str, Any]:
    """One record of the recorded Lambda SQS event, carrying `body` from `sender` (its SenderId)."""
    record = copy.deepcopy(load_event("sqs_s3_object_created")["Records"][0])
    record["body"] = body if isinstance(body, str) else json.dumps(body)
    record["attributes"]["SenderId"] = sender
    record["messageId"] = message_id or str(uuid.uuid4())
    return record


def sqs_batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def consume(identity: IdentityPlatform, rt: Runtime, **options: Any) -> tuple[int, list[str]]:
    """One poll of the cross-app queue through the real consumer."""
    return poll(
        identity.settings,
        identity.events.url,
        identity.events.arn,
        lambda e: process(e, rt.messaging_deps()),
        **options,
    )


def drain(identity: IdentityPlatform, rt: Runtime, rounds: int = 20) -> None:
    for _ in range(rounds):
        if depth(identity.settings, identity.events.url) == 0:
            return
        consume(identity, rt, visibility=0)


def inbox(rt: Runtime, app: str, event_id: str) -> list[tuple[Any, ...]]:
    return rt.database.read(app, "SELECT source, type FROM inbox WHERE event_id = %s", (event_id,))
