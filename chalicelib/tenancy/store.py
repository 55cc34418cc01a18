"""Loading the registry's rows (`integreat.apps`, `integreat.app_clients`), as the runtime does
(`chalicelib.tenancy.register` writes them, for provisioning).

An app's sections are one JSON document (`apps.sections`, platform migration 0008), decoded by
section name; the core columns are named once, in `_COLUMNS`, which builds both the query and the
mapping of each row, so no row is ever decoded by position.

The registry's `source` reads in one statement (one snapshot) where the table stands, its `Mark`,
then the apps: all of them, or those changed since a mark (platform migration 0010). A change is
a row whose last write the mark's snapshot could not see; the index on `version_xact` bounds the
scan to transactions at or after that snapshot's oldest running one, so a refresh with nothing
changed reads no app row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chalicelib.db.tenant import PLATFORM_SCHEMA, Params, Row
from chalicelib.tenancy.registry import AppRecord, Batch, Mark, Source
from chalicelib.tenancy.sections import AppSection, decode_document

#: (field of AppRecord, the SQL that reads it): the registry query, by name.
_COLUMNS = (
    ("slug", "a.slug"),
    ("status", "a.status"),
    ("name", "a.name"),
    ("created_at", "a.created_at"),
    ("updated_at", "a.updated_at"),
    ("enrollment", "a.enrollment"),
    ("roles", "a.roles"),
    ("iam_role_arn", "a.iam_role_arn"),
    ("iam_role_id", "a.iam_role_id"),
    (
        "clients",
        "coalesce(array_agg(c.client_id ORDER BY c.client_id) FILTER (WHERE c.client_id IS NOT NULL), '{}')",
    ),
    ("sections", "a.sections"),
    ("cell", "a.cell"),
)
_NAMES = tuple(name for name, _ in _COLUMNS)
_FROM = f" FROM {PLATFORM_SCHEMA}.apps a LEFT JOIN {PLATFORM_SCHEMA}.app_clients c USING (slug)"
_SELECT = f"SELECT {', '.join(f'{sql} AS {name}' for name, sql in _COLUMNS)}{_FROM}"
LOAD_SQL = f"{_SELECT} GROUP BY a.slug"

#: (field of Mark, the SQL that reads it), `s` being the statement's own snapshot.
_MARK = (
    ("snapshot", "s::text"),
    ("xmax", "pg_snapshot_xmax(s)::text::bigint"),
    ("version", f"(SELECT coalesce(max(version), 0) FROM {PLATFORM_SCHEMA}.apps)"),
    ("rows", f"(SELECT count(*) FROM {PLATFORM_SCHEMA}.apps)"),
)
_MARK_NAMES = tuple(name for name, _ in _MARK)
_SINCE = (
    " WHERE a.version_xact >= pg_snapshot_xmin(%(seen)s::pg_snapshot)"
    " AND NOT pg_visible_in_snapshot(a.version_xact, %(seen)s::pg_snapshot)"
)


def _batch_sql(where: str) -> str:
    # One row even when no app changed (the mark's), hence the outer join.
    return (
        f"WITH changed AS ({_SELECT}{where} GROUP BY a.slug)"
        f" SELECT {', '.join(f'{sql} AS mark_{name}' for name, sql in _MARK)}, changed.* FROM pg_current_snapshot() AS s LEFT JOIN changed ON true"
    )


FULL_SQL = _batch_sql("")
SINCE_SQL = _batch_sql(_SINCE)

Platform = Callable[[str, Params], list[Row]]


def source(platform: Platform, sections: Sequence[AppSection[Any]]) -> Source:
    """The registry's source over `Database.platform` (the runtime may read these two tables),
    decoding the sections it is given; a stored section no one claims is left alone."""
    known = tuple(sections)

    def read(sql: str, params: Params) -> Batch:
        rows = [dict(zip(_MARK_NAMES + _NAMES, row, strict=True)) for row in platform(sql, params)]
        apps = {str(row["slug"]): record(row, known) for row in rows if row["slug"] is not None}
        return Batch(apps, Mark(**{name: rows[0][name] for name in _MARK_NAMES}))

    return Source(
        full=lambda: read(FULL_SQL, None), since=lambda mark: read(SINCE_SQL, {"seen": mark.snapshot})
    )


def loader(platform: Platform, sections: Sequence[AppSection[Any]]) -> Callable[[], dict[str, AppRecord]]:
    """Every app, with no watermark (`LOAD_SQL`): for a reader that keeps no copy."""
    known = tuple(sections)

    def load() -> dict[str, AppRecord]:
        return {
            str(row[0]): record(dict(zip(_NAMES, row, strict=True)), known)
            for row in platform(LOAD_SQL, None)
        }

    return load


def record(row: dict[str, Any], sections: Iterable[AppSection[Any]]) -> AppRecord:
    return AppRecord(
        slug=row["slug"],
        status=row["status"],
        name=row["name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        enrollment=row["enrollment"],
        roles=tuple(row["roles"]),
        iam_role_arn=row["iam_role_arn"],
        iam_role_id=row["iam_role_id"],
        clients=tuple(row["clients"]),
        sections=decode_document(sections, row["sections"]),
        cell=row["cell"],
    )
