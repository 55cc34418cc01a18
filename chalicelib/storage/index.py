"""The app's file index (`app_<slug>.files`), through the tenant helper."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from chalicelib.db.tenant import Database


class FileRow(NamedTuple):
    key: str
    size: int
    etag: str | None
    content_type: str | None
    uploader: str | None
    sequencer: str
    event_time: str
    deleted: bool


# One statement per app per batch. A row only ever yields to an event with a greater sequencer
# (byte order, hence COLLATE "C"): duplicates change nothing, late events change nothing.
UPSERT = """INSERT INTO files (key, size, etag, content_type, uploader, sequencer, event_time, deleted)
VALUES %s
ON CONFLICT (key) DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag,
    content_type = EXCLUDED.content_type, uploader = EXCLUDED.uploader,
    sequencer = EXCLUDED.sequencer, event_time = EXCLUDED.event_time,
    deleted = EXCLUDED.deleted, recorded_at = now()
WHERE files.sequencer COLLATE "C" < EXCLUDED.sequencer COLLATE "C\""""


def latest_per_key(rows: Iterable[FileRow]) -> list[FileRow]:
    """One row per key, the latest by sequencer (one INSERT may not touch a row twice)."""
    latest: dict[str, FileRow] = {}
    for row in rows:
        if row.key not in latest or latest[row.key].sequencer < row.sequencer:
            latest[row.key] = row
    return list(latest.values())


def write_rows(db: Database, app: str, rows: Sequence[FileRow]) -> None:
    if rows:
        with db.tenant(app) as cur:
            cur.execute_values(UPSERT, latest_per_key(rows))


def list_files(db: Database, app: str, prefix: str, after: str, limit: int) -> list[dict[str, Any]]:
    """Live files under `prefix`, in key order, after the cursor `after` (keyset pagination)."""
    rows = db.read(
        app,
        "SELECT key, size, content_type, uploader, event_time FROM files"
        " WHERE NOT deleted AND key LIKE %s AND key > %s ORDER BY key LIMIT %s",
        (_like_prefix(prefix), after, limit),
    )
    return [
        {"key": k, "size": s, "content_type": c, "uploader": u, "uploaded_at": t.isoformat()}
        for k, s, c, u, t in rows
    ]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
