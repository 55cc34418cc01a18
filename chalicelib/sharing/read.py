"""Reading one page of a shared dataset: as the owner's role, read-only, under a statement
timeout, ordered and paged by the dataset's key column (keyset pagination, no OFFSET)."""

from __future__ import annotations

from typing import Any

import psycopg2.errors

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.db.tenant import Database
from chalicelib.sharing.model import DatasetSpec
from chalicelib.tenancy.slugs import schema_name

STATEMENT_TIMEOUT_MS = 5000  # well inside API Gateway's 29 s; a slow view fails fast and clearly


class DatasetError(Exception):
    """The page could not be read; `code` says why (bad cursor, view missing, too slow)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def page_sql(owner: str, dataset: DatasetSpec, *, after: bool) -> str:
    # Qualified with the owner's schema: an unqualified name would also find pg_catalog's views.
    # Every identifier here was validated (slug rules; the manifest's identifier rule).
    # The page is encoded to JSON by Postgres as one array (json_agg): decoding and re-encoding
    # each row in Python cost more than the query itself (benchmarks/gateway.py).
    view, key = f'"{schema_name(owner)}"."{dataset.view}"', f'"{dataset.key}"'
    where = f"WHERE v.{key} > %s " if after else ""
    return (
        f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}; "
        f"SELECT coalesce(json_agg(row_to_json(p) ORDER BY p.{key}), '[]')::text, max(p.{key})::text, count(*)"
        f" FROM (SELECT * FROM {view} v {where}ORDER BY v.{key} LIMIT %s) p"
    )


def read_page(
    db: Database, owner: str, dataset: DatasetSpec, after: str | None, limit: int
) -> tuple[str, str | None]:
    """Up to `limit` rows after the key `after` as a JSON array (text), and the cursor of the next
    page (None: this is the last)."""
    params: tuple[Any, ...] = (limit,) if after is None else (after, limit)
    try:
        rows = db.read(owner, page_sql(owner, dataset, after=after is not None), params)
    except DatabaseUnavailableError as exc:
        # The helper reports every OperationalError as the database being away; a cancelled
        # statement (our timeout) is one of them, and it is the view's fault, not the database's.
        if isinstance(exc.__cause__, psycopg2.errors.QueryCanceled):
            message = f"reading the dataset took over {STATEMENT_TIMEOUT_MS} ms"
            raise DatasetError("dataset_timeout", message) from exc
        raise
    except psycopg2.errors.DataError as exc:
        raise DatasetError("invalid_cursor", "cursor must be the next_cursor of the previous page") from exc
    except psycopg2.errors.ReadOnlySqlTransaction as exc:
        raise DatasetError(
            "dataset_unavailable", f"the view {dataset.view!r} writes; datasets are read-only"
        ) from exc
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn) as exc:
        raise DatasetError(
            "dataset_unavailable",
            f"the owner's view {dataset.view!r} (key {dataset.key!r}) does not exist yet in its schema",
        ) from exc
    page, last, count = rows[0]
    return page, (str(last) if count == limit else None)
