"""Per-app figures for the admin API: one call to `integreat.app_figures` (platform migration 0005),
which counts inside every app schema in one round trip and hands the runtime numbers, not rows."""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.db.tenant import Database


class AppFigures(NamedTuple):
    files: int
    bytes: int
    inbox_depth: int  # deliveries not yet acknowledged


#: The same figures inside one app's schema, through the tenant switch (an app of another cell,
#: whose database has no platform schema and so no `integreat.app_figures`).
_ONE_APP = (
    "SELECT (SELECT count(*) FROM files WHERE NOT deleted),"
    " (SELECT coalesce(sum(size), 0)::bigint FROM files WHERE NOT deleted),"
    " (SELECT count(*) FROM inbox WHERE acked_at IS NULL)"
)


def app_figures(db: Database, slugs: list[str], elsewhere: list[str] | None = None) -> dict[str, AppFigures]:
    """Files, bytes and inbox depth of each app in `slugs` (active apps of the home cell: one round
    trip) and in `elsewhere` (active apps of other cells: one read each, in the app's own cell)."""
    found: dict[str, AppFigures] = {}
    if slugs:
        rows = db.platform("SELECT app, files, bytes, inbox_depth FROM integreat.app_figures(%s)", (slugs,))
        found = {str(r[0]): AppFigures(int(r[1]), int(r[2]), int(r[3])) for r in rows}
    for slug in elsewhere or ():
        ((files, size, depth),) = db.read(slug, _ONE_APP)
        found[slug] = AppFigures(int(files), int(size), int(depth))
    return found
