"""S3 event notifications, as they arrive in SQS message bodies, reduced to what we decide on.

Keys in S3 events are URL-encoded (spaces as `+`): they are decoded here exactly once, with
`unquote_plus`, and every later step works on the decoded key (the design's decision 2). S3 sends
`s3:TestEvent` when a notification is configured; it carries no records and is ignored. Records
are read through Powertools' `S3Event` view; the fields S3 or moto may leave out through `get`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

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
    from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event  # with the consumer only

    try:
        message = json.loads(body)
    except ValueError as exc:
        raise StorageEventError(f"message body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise StorageEventError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":  # S3's own test message: no Records, no data class field
        return []
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise StorageEventError("no S3 Records in the message")
    return [_event(record) for record in S3Event(message).records]


def _event(record: S3EventRecord) -> StorageEvent:
    try:
        name = record.event_name
        obj = record.s3.get_object
        time = record.event_time
        action = (
            CREATED
            if name.startswith("ObjectCreated:")
            else REMOVED
            if name.startswith("ObjectRemoved:")
            else None
        )
        if action is None:
            raise StorageEventError(f"unsupported event {name!r}")
        # Read with `get`, not the data class's properties: S3 leaves out `size` and `eTag` on
        # removals, moto leaves out `sequencer` and `userIdentity`, and the properties would
        # raise (size, sequencer, principal) or answer "" for a missing eTag.
        sequencer = obj.get("sequencer")
        principal = (record.get("userIdentity") or {}).get("principalId")
        return StorageEvent(
            action=action,
            name=str(name),
            bucket=str(record.s3.bucket.name),
            key=_decode(str(obj.key)),  # the raw key: decoded here, exactly once
            size=int(obj.get("size") or 0),
            etag=obj.get("eTag"),
            sequencer=normalize_sequencer(sequencer) if sequencer else _time_sequencer(str(time)),
            principal=str(principal) if principal else None,
            time=str(time),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, StorageEventError):
            raise
        raise StorageEventError(f"malformed S3 record: {exc!r}") from exc
