"""Offboarding: export an app's schema in a restorable form, remove it, restore it.

The export is `pg_dump --format=custom` of the app's schema, with owners and privileges (so a
restore brings back exactly who may do what), plus a JSON summary. pg_dump comes from the
embedded Postgres wheel (or $INTEGREAT_PG_BIN, or PATH): a newer pg_dump reads older servers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg2.extensions

from chalicelib.db.migrate import APP_SET, load_migrations, migrate_target
from chalicelib.db.pool import connector
from chalicelib.db.provision import bootstrap
from chalicelib.provisioning.database import app_target
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import (
    activate_app,
    provision_app,
    provision_in_cell,
    register_app,
    remove_app,
    remove_from_cell,
)
from chalicelib.tenancy.slugs import schema_name, validate_slug
from integreat.local.postgres import EmbeddedPostgresError, binaries


class OffboardingError(RuntimeError):
    """Export, removal or restore could not be done; nothing was removed."""


@dataclass(frozen=True)
class Export:
    dump: Path
    summary: Path
    tables: dict[str, int]


def pg_tool(name: str) -> str:
    """Path of a Postgres client tool: the embedded binaries first, then PATH."""
    try:
        candidate = binaries() / name
        if candidate.exists():
            return str(candidate)
    except EmbeddedPostgresError:
        pass
    found = shutil.which(name)
    if found is None:
        raise OffboardingError(f"{name} not found: install the Postgres client tools or set INTEGREAT_PG_BIN")
    return found


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OffboardingError(f"{Path(argv[0]).name} failed: {result.stderr.strip()}")
    return result.stdout


def _row_counts(conn: psycopg2.extensions.connection, schema: str) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,))
        tables = [str(row[0]) for row in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[table] = int(cur.fetchone()[0])  # type: ignore[index]
    return counts


def export_app(operator_url: str, slug: str, directory: Path) -> Export:
    """Write `app_<slug>.dump` and `app_<slug>.json` into `directory`; verify the dump reads back."""
    schema = schema_name(validate_slug(slug))
    directory.mkdir(parents=True, exist_ok=True)
    dump = directory / f"{schema}.dump"
    _run(
        [
            pg_tool("pg_dump"),
            "--format=custom",
            f"--schema={schema}",
            f"--file={dump}",
            f"--dbname={operator_url}",
        ]
    )
    _run([pg_tool("pg_restore"), "--list", str(dump)])  # an unreadable dump must stop the removal
    conn = connector(operator_url)()
    try:
        tables = _row_counts(conn, schema)
    finally:
        conn.close()
    summary = directory / f"{schema}.json"
    summary.write_text(
        json.dumps(
            {
                "app": slug,
                "schema": schema,
                "exported_at": datetime.now(UTC).isoformat(),
                "format": "pg_dump custom",
                "tables": tables,
                "restore": f"integreat apps restore {slug} --from {directory}",
            },
            indent=2,
        )
    )
    return Export(dump, summary, tables)


def remove(operator_url: str, slug: str, cell_url: str | None = None) -> None:
    """Mark the app removed in the registry (`operator_url`, the home cell) and drop its schema
    and roles where they live (`cell_url`, for an app of another cell)."""
    conn = connector(operator_url)()
    try:
        if cell_url is None:
            remove_app(conn, validate_slug(slug))
            return
        cell = connector(cell_url)()
        try:
            remove_from_cell(conn, cell, validate_slug(slug))
        finally:
            cell.close()
    finally:
        conn.close()


def restore_app(
    operator_url: str, app: AppSpec, directory: Path, cell: str | None = None, cell_url: str | None = None
) -> None:
    """Re-create the app's roles, then its schema from the dump; migrate forward; activate. Into
    `cell` (its operator URL `cell_url`) when that is not the home cell: the registry row stays
    in the home cell and names it."""
    slug = app.slug
    schema = schema_name(slug)
    dump = directory / f"{schema}.dump"
    if not dump.exists():
        raise OffboardingError(f"{dump} not found: give the directory written by `apps remove --export`")
    target_url = operator_url if cell is None else (cell_url or "")
    home = connector(operator_url)()
    conn = home if cell is None else connector(target_url)()
    try:
        bootstrap(conn)
        _refuse_if_has_data(conn, schema)
        if cell is None:
            provision_app(conn, app)
        else:
            provision_in_cell(conn, app)
            register_app(home, app, cell)
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}"')  # the empty one; the dump brings its own
        _run(
            [
                pg_tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={target_url}",
                str(dump),
            ]
        )
        migrate_target(conn, app_target(slug), load_migrations(APP_SET))
        activate_app(home, slug)
    finally:
        conn.close()
        home.close()


def _refuse_if_has_data(conn: psycopg2.extensions.connection, schema: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm') AND c.relname <> 'schema_migrations'",
            (schema,),
        )
        if int(cur.fetchone()[0]):  # type: ignore[index]
            raise OffboardingError(f"{schema} exists and holds tables: remove the app before restoring it")


def announce_removed(operator_url: str, slug: str, url_of: Callable[[str], str]) -> list[str]:
    """`integreat.app.removed` to the apps the removed app named in `consumers` that subscribe
    (the registry keeps its sections); `url_of(app)`: the operator URL of that app's cell."""
    from chalicelib.apps import Database
    from chalicelib.messaging import lifecycle
    from chalicelib.messaging.section import EVENTS
    from chalicelib.provisioning.lifecycle import operator_delivery

    db = Database(operator_url)
    try:
        records = db.registry.all()
    finally:
        db.close()
    specs = {s: EVENTS.of(r) for s, r in records.items() if r.status == "active" or s == slug}
    deliver = operator_delivery(lambda app: connector(url_of(app)))
    return lifecycle.announce(specs, deliver, lifecycle.REMOVED, slug)
