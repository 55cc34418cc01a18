"""Delivery into apps' inboxes and reading them back, through the tenant helper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.db.tenant import Database
from chalicelib.messaging.envelope import Envelope

# One statement per subscriber per batch; (source, event_id) makes redelivery a no-op.
INSERT = """INSERT INTO inbox (event_id, source, type, time, subject, datacontenttype, data, envelope)
VALUES %s ON CONFLICT (source, event_id) DO NOTHING"""


Row = tuple[Any, ...]


def row(event: Envelope) -> Row:
    """The inbox row of `event`. Its data is serialized once, for the `data` column and inside
    the envelope's text (`Envelope.json_with`), not once for each."""
    data = event.data_json()
    return (
        event.id,
        event.source,
        event.type,
        event.time,
        event.subject,
        event.datacontenttype,
        data,
        event.json_with(data),
    )


def deliver(db: Database, app: str, events: Sequence[Envelope]) -> int:
    """Insert `events` into `app`'s inbox; returns how many were new."""
    return deliver_rows(db, app, [row(e) for e in events])


def deliver_rows(db: Database, app: str, rows: Sequence[Row]) -> int:
    """`deliver` for rows made by `row`: an event fanned out to several apps is one row for all."""
    if not rows:
        return 0
    with db.tenant(app) as cur:
        cur.execute_values(INSERT, rows)
        return max(cur.rowcount, 0)


def read(db: Database, app: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Oldest first, after the cursor `after` (a `seq`)."""
    rows = db.read(
        app,
        "SELECT seq, envelope, received_at, acked_at FROM inbox WHERE seq > %s ORDER BY seq LIMIT %s",
        (after, limit),
    )
    return [
        {
            "seq": seq,
            "event": envelope,
            "received_at": received.isoformat(),
            "acked_at": acked.isoformat() if acked else None,
        }
        for seq, envelope, received, acked in rows
    ]


def ack(db: Database, app: str, seq: int) -> bool:
    """Mark one delivery acknowledged; False when the app has no such delivery."""
    with db.tenant(app) as cur:
        cur.execute("UPDATE inbox SET acked_at = coalesce(acked_at, now()) WHERE seq = %s", (seq,))
        return cur.rowcount == 1
