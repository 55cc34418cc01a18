"""The platform audit log (`integreat.audit`, platform migration 0003): the one module that writes
it (every feature: rejected uploads and events, integration calls) and reads it (the admin API).

The runtime login role may append to it and read it (platform migration 0005), so neither path
switches role. Rows hold no secrets: callers put identifiers, reasons and figures in `detail`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.db.tenant import Database


def write(
    db: Database,
    *,
    kind: str,
    app: str | None,
    subject: str,
    reason: str,
    detail: dict[str, Any],
    dedupe: str,
) -> None:
    """Append to the platform audit log once per `dedupe` (a redelivered event logs nothing new)."""
    db.platform(
        "INSERT INTO integreat.audit (kind, app, subject, reason, detail, dedupe_key)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (kind, app, subject, reason, json.dumps(detail), dedupe),
    )


_PAGE = """
SELECT id, at, kind, app, subject, reason, detail FROM integreat.audit
WHERE (%(app)s::text IS NULL OR app = %(app)s)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(before)s::bigint IS NULL OR id < %(before)s)
ORDER BY id DESC LIMIT %(limit)s
"""
_FIELDS = ("id", "at", "kind", "app", "subject", "reason", "detail")


def page(
    db: Database, *, app: str | None, kind: str | None, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """Entries newest first, keyset-paginated on the id so a page is stable while rows arrive."""
    rows = db.platform(_PAGE, {"app": app, "kind": kind, "before": before, "limit": limit})
    entries = [dict(zip(_FIELDS, row, strict=True)) for row in rows]
    for entry in entries:
        entry["at"] = entry["at"].isoformat()
    return entries
