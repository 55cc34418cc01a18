"""S3 event notifications, as they arrive in SQS message bodies, reduced to what we decide on.

Keys in S3 events are URL-encoded (spaces as `+`): they are decoded here exactly once, with
`unquote_plus`, and every later step works on the decoded key (DESIGN.md decision 2). S3 sends
`s3:TestEvent` when a notification is configured; it carries no records and is ignored.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

CREATED = "created"
REMOVED = "removed"
SEQUENCER_WIDTH = 32  # S3 sequencers are hex strings of varying length; compare them left-padded


class StorageEventError(ValueError):
    """A message that is not an S3 notification we understand (a permanent error)."""


class StorageEvent(NamedTuple):
    action: str  # CREATED or REMOVED
    name: str  # the S3 event name, e.g. "ObjectCreated:Post"
    bucket: str
    key: str  # decoded
    size: int
    etag: str | None
    sequencer: str  # normalized: upper-case hex, left-padded to SEQUENCER_WIDTH
    principal: str | None  # userIdentity.principalId, e.g. "AWS:AROA...:session"
    time: str  # ISO-8601


_HEX = re.compile(r"[0-9A-F]{1,32}")


def normalize_sequencer(sequencer: str) -> str:
    """Left-pad with zeros so that string order is event order (AWS: compare after padding)."""
    value = sequencer.strip().upper()
    if not _HEX.fullmatch(value):
        raise StorageEventError(f"malformed sequencer {sequencer!r}")
    return value.rjust(SEQUENCER_WIDTH, "0")


def _time_sequencer(event_time: str) -> str:
    """Only for emulators that omit `sequencer` (moto): order by event time, to the microsecond."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    return normalize_sequencer(f"{int(moment.timestamp() * 1_000_000):X}")


def _decode(raw_key: str) -> str:
    """URL-decode exactly once (`+` is a space); most keys have nothing to decode."""
    return unquote_plus(raw_key) if "%" in raw_key or "+" in raw_key else raw_key


def parse_body(body: str) -> list[StorageEvent]:
    """The events in one SQS message body; [] for s3:TestEvent. Raises StorageEventError."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise StorageEventError(f"message body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise StorageEventError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise StorageEventError("no S3 Records in the message")
    return [_event(record) for record in records]


def _event(record: Any) -> StorageEvent:
    try:
        name = str(record["eventName"])
        s3 = record["s3"]
        obj = s3["object"]
        raw_key = str(obj["key"])
        time = str(record["eventTime"])
        sequencer = obj.get("sequencer")
        principal = (record.get("userIdentity") or {}).get("principalId")
        action = (
            CREATED
            if name.startswith("ObjectCreated:")
            else REMOVED
            if name.startswith("ObjectRemoved:")
            else None
        )
        if action is None:
            raise StorageEventError(f"unsupported event {name!r}")
        return StorageEvent(
            action=action,
            name=name,
            bucket=str(s3["bucket"]["name"]),
            key=_decode(raw_key),
            size=int(obj.get("size") or 0),
            etag=obj.get("eTag"),
            sequencer=normalize_sequencer(sequencer) if sequencer else _time_sequencer(time),
            principal=str(principal) if principal else None,
            time=time,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, StorageEventError):
            raise
        raise StorageEventError(f"malformed S3 record: {exc!r}") from exc
