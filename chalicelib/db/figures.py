"""Per-app figures for the admin API: one call to `integreat.app_figures` (platform migration 0005),
which counts inside every app schema in one round trip and hands the runtime numbers, not rows."""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.db.tenant import Database


class AppFigures(NamedTuple):
    files: int
    bytes: int
    inbox_depth: int  # deliveries not yet acknowledged


def app_figures(db: Database, slugs: list[str]) -> dict[str, AppFigures]:
    """Files, bytes and inbox depth of each app in `slugs` (active apps: their schemas exist)."""
    if not slugs:
        return {}
    rows = db.platform("SELECT app, files, bytes, inbox_depth FROM integreat.app_figures(%s)", (slugs,))
    return {str(r[0]): AppFigures(int(r[1]), int(r[2]), int(r[3])) for r in rows}
