"""S3 event notifications, as they arrive in SQS message bodies, reduced to what we decide on.

Keys in S3 events are URL-encoded (spaces as `+`): they are decoded here exactly once, with
`unquote_plus`, and every later step works on the decoded key (the design's decision 2). S3 sends
`s3:TestEvent` when a notification is configured; it carries no records and is ignored.

Records are read as typed dicts (`S3Record`, the documented notification structure) rather than
through Powertools' `S3Event` view: the view allocates a wrapper per field access (seven per
record), a third of the parse's cost after `json.loads` itself (issue 20, `benchmarks/storage.py`).
Fields S3 or moto may leave out are read with `get`; anything else missing or of the wrong type
makes the message malformed, as the view's properties did.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import NamedTuple, NotRequired, TypedDict
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


class S3Object(TypedDict):
    key: str  # URL-encoded
    size: NotRequired[int]  # absent on removals
    eTag: NotRequired[str]  # absent on removals
    sequencer: NotRequired[str]  # absent from moto's events


class S3Entity(TypedDict):
    bucket: dict[str, str]  # {"name": ..., "arn": ...}
    object: S3Object


class S3Record(TypedDict):
    """One record of an S3 notification, the fields we read ("Event message structure", Amazon
    S3 user guide; recorded: tests/events/sqs_s3_object_created.json)."""

    eventName: str
    eventTime: str
    s3: S3Entity
    userIdentity: NotRequired[dict[str, str]]  # absent from moto's events


def parse_body(body: str) -> list[StorageEvent]:
    """The events in one SQS message body; [] for s3:TestEvent. Raises StorageEventError."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise StorageEventError(f"message body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise StorageEventError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":  # S3's own test message: no Records
        return []
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise StorageEventError("no S3 Records in the message")
    return [_event(record) for record in records]


def _action(name: str) -> str:
    if name.startswith("ObjectCreated:"):
        return CREATED
    if name.startswith("ObjectRemoved:"):
        return REMOVED
    raise StorageEventError(f"unsupported event {name!r}")


def _event(record: S3Record) -> StorageEvent:
    try:
        name = str(record["eventName"])
        s3 = record["s3"]
        obj = s3["object"]
        time = str(record["eventTime"])
        action = _action(name)
        sequencer = obj.get("sequencer")
        principal = (record.get("userIdentity") or {}).get("principalId")
        return StorageEvent(
            action,
            name,
            str(s3["bucket"]["name"]),
            _decode(str(obj["key"])),  # the raw key: decoded here, exactly once
            int(obj.get("size") or 0),
            obj.get("eTag"),
            normalize_sequencer(sequencer) if sequencer else _time_sequencer(time),
            str(principal) if principal else None,
            time,
        )  # positional: on every record, and the fields' order is the NamedTuple's
    except StorageEventError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageEventError(f"malformed S3 record: {exc!r}") from exc
