"""Reading the platform audit log (written by the storage and messaging consumers), newest first,
with keyset pagination on the id so a page is stable while new rows arrive."""

from __future__ import annotations

from typing import Any

from chalicelib.db.tenant import Database

_PAGE = """
SELECT id, at, kind, app, subject, reason, detail FROM integreat.audit
WHERE (%(app)s::text IS NULL OR app = %(app)s)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(before)s::bigint IS NULL OR id < %(before)s)
ORDER BY id DESC LIMIT %(limit)s
"""


def page(
    db: Database, *, app: str | None, kind: str | None, before: int | None, limit: int
) -> list[dict[str, Any]]:
    # The runtime role may read the audit log itself (platform migration 0005): no role switch.
    rows = db.platform(_PAGE, {"app": app, "kind": kind, "before": before, "limit": limit})
    return [
        {
            "id": r[0],
            "at": r[1].isoformat(),
            "kind": r[2],
            "app": r[3],
            "subject": r[4],
            "reason": r[5],
            "detail": r[6],
        }
        for r in rows
    ]
