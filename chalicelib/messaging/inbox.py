"""Delivery into apps' inboxes and reading them back, through the tenant helper."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.db.tenant import Database
from chalicelib.messaging.envelope import Envelope

# One statement per subscriber per batch; (source, event_id) makes redelivery a no-op.
INSERT = """INSERT INTO inbox (event_id, source, type, time, subject, datacontenttype, data, envelope)
VALUES %s ON CONFLICT (source, event_id) DO NOTHING"""


def row(event: Envelope) -> tuple[Any, ...]:
    data = None if event.data is None else json.dumps(event.data)
    return (
        event.id,
        event.source,
        event.type,
        event.time,
        event.subject,
        event.datacontenttype,
        data,
        event.to_json(),
    )


def deliver(db: Database, app: str, events: Sequence[Envelope]) -> int:
    """Insert `events` into `app`'s inbox; returns how many were new."""
    if not events:
        return 0
    with db.tenant(app) as cur:
        cur.execute_values(INSERT, [row(e) for e in events])
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
