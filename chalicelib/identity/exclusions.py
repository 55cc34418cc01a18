"""Users removed from an app by its admins (integreat.app_exclusions), read on the enrolment path."""

from __future__ import annotations

from chalicelib.db.tenant import Database


class Exclusions:
    def __init__(self, database: Database) -> None:
        self._db = database

    def exclude(self, slug: str, username: str, by: str) -> None:
        self._db.platform(
            "INSERT INTO integreat.app_exclusions (slug, username, excluded_by) VALUES (%s, %s, %s)"
            " ON CONFLICT (slug, username) DO NOTHING",
            (slug, username, by),
        )

    def readmit(self, slug: str, username: str) -> None:
        self._db.platform(
            "DELETE FROM integreat.app_exclusions WHERE slug = %s AND username = %s", (slug, username)
        )

    def is_excluded(self, slug: str, username: str) -> bool:
        rows = self._db.platform(
            "SELECT 1 FROM integreat.app_exclusions WHERE slug = %s AND username = %s", (slug, username)
        )
        return bool(rows)
