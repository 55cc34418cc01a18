"""Loading the registry's rows (`integreat.apps`, `integreat.app_clients`), as the runtime does
(`chalicelib.tenancy.register` writes them, for provisioning).

An app's sections are one JSON document (`apps.sections`, platform migration 0008), decoded by
section name; the core columns are named once, in `_COLUMNS`, which builds both the query and the
mapping of each row, so no row is ever decoded by position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chalicelib.db.tenant import PLATFORM_SCHEMA, Params, Row
from chalicelib.tenancy.registry import AppRecord
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
)
_NAMES = tuple(name for name, _ in _COLUMNS)
LOAD_SQL = (
    f"SELECT {', '.join(sql for _, sql in _COLUMNS)}"
    f" FROM {PLATFORM_SCHEMA}.apps a LEFT JOIN {PLATFORM_SCHEMA}.app_clients c USING (slug) GROUP BY a.slug"
)

Platform = Callable[[str, Params], list[Row]]


def loader(platform: Platform, sections: Sequence[AppSection[Any]]) -> Callable[[], dict[str, AppRecord]]:
    """The registry's loader over `Database.platform` (the runtime may read these two tables),
    decoding the sections it is given; a stored section no one claims is left alone."""
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
    )
