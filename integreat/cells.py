"""Cells for the operator (issue 16): each cell's operator URL, and `integreat apps move`.

A cell's operator URL is read from the variable its `[cells.<name>]` names (`url_env`; the home
cell: `INTEGREAT_DATABASE_URL` unless it names another). The registry (home cell) names every
app's cell, None for home.

Moving an app (`move_app`): the registry marks it `moving` (the runtime refuses its writes with
503 + Retry-After and serves its reads from the source); every table of its schema in the source
is locked against writes (EXCLUSIVE: reads and pg_dump go on), so a runtime whose registry copy
is older than the mark waits instead of writing into a copy being made; the schema is dumped
(`integreat.offboarding.export_app`), its roles made in the target (same LOGIN password), the
dump restored, the row counts of every table compared; then the registry names the target and
the app is `active` again, and the source schema and roles are dropped under the same locks (a
writer that waited there fails rather than writing into a schema about to vanish). Any failure
before the registry switch drops what was made in the target, releases the locks and puts the app
back to `active` where it was.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from chalicelib.cells.model import CellsSpec
from chalicelib.db.credentials import scram_verifier
from chalicelib.db.pool import Connect, Connection, connector
from chalicelib.db.provision import app_roles_sql, bootstrap, drop_app_sql, ensure_credentials, role_password
from chalicelib.db.tenant import PLATFORM_SCHEMA
from chalicelib.tenancy.errors import TenancyError
from chalicelib.tenancy.register import app_cell
from chalicelib.tenancy.slugs import login_role, schema_name, validate_slug
from integreat import offboarding

Checkpoint = Callable[[str], None]  # called with each phase's name: tests inject a failure there


class CellError(TenancyError):
    """A cell cannot be reached: the manifest does not declare it, or its URL's variable is unset."""


class MoveError(CellError):
    """The move did not happen; the message says where the app is."""


def cell_urls(spec: CellsSpec, home_url: str, env: Mapping[str, str] | None = None) -> dict[str | None, str]:
    """registry key -> operator URL, for every declared cell (None: home, `home_url`)."""
    env = os.environ if env is None else env
    urls: dict[str | None, str] = {None: home_url}
    for cell in spec.cells:
        if cell.home:
            continue
        url = env.get(cell.url_env)
        if not url:
            raise CellError(f"cell {cell.name!r}: {cell.url_env} is not set (its operator URL)")
        urls[cell.name] = url
    return urls


def url_of(spec: CellsSpec, home_url: str, cell: str | None, env: Mapping[str, str] | None = None) -> str:
    """The operator URL of the cell the registry names (None: home); a clear error if the
    manifest no longer declares it or its variable is unset."""
    if cell is None:
        return home_url
    declared = spec.named(cell)
    if declared is None or declared.home:
        raise CellError(
            f"the registry places it in cell {cell!r}, which the manifest does not declare:"
            f" add [cells.{cell}] (with its url_env) back"
        )
    return cell_urls(CellsSpec((declared,)), home_url, env)[cell]


def app_url(spec: CellsSpec, home_url: str, slug: str) -> tuple[str | None, str]:
    """(the app's cell, that cell's operator URL), from the registry in the home cell."""
    conn = connector(home_url)()
    try:
        _known, cell = app_cell(conn, slug)
    finally:
        conn.close()
    return cell, url_of(spec, home_url, cell)


def cell_connects(urls: Mapping[str | None, str]) -> dict[str, Connect]:
    """The operator connection factory of every cell but home, as `sync_apps` takes them."""
    return {name: connector(url) for name, url in urls.items() if name is not None}


@dataclass(frozen=True)
class MoveReport:
    slug: str
    source: str | None
    target: str | None
    tables: dict[str, int]
    seconds: float
    leftovers: str | None = None  # the source could not be dropped (the app has moved all the same)


def move_app(
    urls: Mapping[str | None, str],
    slug: str,
    target: str | None,
    *,
    checkpoint: Checkpoint | None = None,
) -> MoveReport:
    """Move `slug` to cell `target` (None: home); see the module's docstring."""
    started, mark = time.perf_counter(), checkpoint or (lambda phase: None)
    validate_slug(slug)
    if target not in urls:
        raise MoveError(f"unknown cell {target!r}; cells: {', '.join(str(k or 'home') for k in urls)}")
    home = connector(urls[None])()
    try:
        source = _begin(home, slug, target)
        made = False
        try:
            lock = connector(urls[source])()
        except BaseException:
            _undo(home, None, None, slug)
            raise
        try:
            _lock_schema(lock, slug)
            mark("locked")
            with tempfile.TemporaryDirectory(prefix=f"integreat-move-{slug}-") as folder:
                export = offboarding.export_app(urls[source], slug, Path(folder))
                mark("exported")
                made = True
                _restore(urls[target], lock, slug, export.dump)
            mark("restored")
            _verify(urls[target], slug, export.tables)
            mark("verified")
            _switch(home, slug, target)
        except BaseException as exc:
            _undo(home, lock, urls[target] if made else None, slug)
            where = "home" if source is None else source
            raise MoveError(f"moving {slug!r} failed, it stays in cell {where!r} and works: {exc}") from exc
        leftovers = _drop_source(lock, slug)
        mark("dropped")
    finally:
        home.close()
    return MoveReport(slug, source, target, export.tables, time.perf_counter() - started, leftovers)


def _begin(home: Connection, slug: str, target: str | None) -> str | None:
    """Mark the app `moving`; answers its current cell. Only an active app moves."""
    with home.cursor() as cur:
        cur.execute(f"SELECT status, cell FROM {PLATFORM_SCHEMA}.apps WHERE slug = %s", (slug,))
        row = cur.fetchone()
        if row is None or row[0] != "active":
            raise MoveError(
                f"app {slug!r} is {'not registered' if row is None else row[0]}: only an active app moves"
            )
        if row[1] == target:
            raise MoveError(f"app {slug!r} is already in cell {target or 'home'!r}")
        cur.execute(
            f"UPDATE {PLATFORM_SCHEMA}.apps SET status = 'moving', updated_at = now()"
            " WHERE slug = %s AND status = 'active'",
            (slug,),
        )
        return None if row[1] is None else str(row[1])


def _lock_schema(lock: Connection, slug: str) -> None:
    """Open the transaction that holds every table of the app against writes until the end."""
    with lock.cursor() as cur:
        cur.execute("BEGIN; SET LOCAL lock_timeout = '10s'")
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema_name(slug),))
        tables = [f'"{schema_name(slug)}"."{row[0]}"' for row in cur.fetchall()]
        if tables:
            cur.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")


def _restore(target_url: str, source: Connection, slug: str, dump: Path) -> None:
    """The app's roles in the target (its LOGIN role keeps its password), then the dump."""
    schema, login = schema_name(slug), login_role(slug)
    conn = connector(target_url)()
    try:
        bootstrap(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if cur.fetchone() is not None:
                raise MoveError(f"{schema} already exists in the target cell: remove it first")
            cur.execute("BEGIN;" + app_roles_sql(slug) + f'DROP SCHEMA "{schema}"; COMMIT')
        password = role_password(source, login)
        if password is not None:
            with conn.cursor() as cur:
                cur.execute(f'ALTER ROLE "{login}" PASSWORD %s', (scram_verifier(password),))
                cur.execute(
                    f"INSERT INTO {PLATFORM_SCHEMA}.role_credentials (role_name, password) VALUES (%s, %s)"
                    " ON CONFLICT (role_name) DO UPDATE SET password = EXCLUDED.password",
                    (login, password),
                )
        ensure_credentials(conn, login)
    finally:
        conn.close()
    offboarding._run(
        [
            offboarding.pg_tool("pg_restore"),
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target_url}",
            str(dump),
        ]
    )


def _verify(target_url: str, slug: str, expected: dict[str, int]) -> None:
    schema = schema_name(slug)
    conn = connector(target_url)()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
            found = {}
            for (table,) in cur.fetchall():
                cur.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
                found[str(table)] = int(cur.fetchone()[0])  # type: ignore[index]
    finally:
        conn.close()
    if found != expected:
        differ = sorted(t for t in set(found) | set(expected) if found.get(t) != expected.get(t))
        raise MoveError(f"row counts differ after the restore in {', '.join(differ)}")


def _switch(home: Connection, slug: str, target: str | None) -> None:
    with home.cursor() as cur:
        cur.execute(
            f"UPDATE {PLATFORM_SCHEMA}.apps SET cell = %s, status = 'active', updated_at = now()"
            " WHERE slug = %s AND status = 'moving'",
            (target, slug),
        )
        if cur.rowcount != 1:
            raise MoveError(f"app {slug!r} was no longer `moving` at the switch")


def _undo(home: Connection, lock: Connection | None, target_url: str | None, slug: str) -> None:
    """Put everything back: the target's copy dropped, the locks released, the app active."""
    try:
        if lock is not None and not lock.closed:
            with lock.cursor() as cur:
                cur.execute("ROLLBACK")
        if target_url is not None:
            conn = connector(target_url)()
            try:
                with conn.cursor() as cur:
                    cur.execute(drop_app_sql(slug), {"login": login_role(slug)})
            finally:
                conn.close()
    finally:
        with home.cursor() as cur:
            cur.execute(
                f"UPDATE {PLATFORM_SCHEMA}.apps SET status = 'active', updated_at = now()"
                " WHERE slug = %s AND status = 'moving'",
                (slug,),
            )
        if lock is not None:
            lock.close()


def _drop_source(lock: Connection, slug: str) -> str | None:
    """Drop the source schema and roles inside the locking transaction; the reason if it failed."""
    try:
        with lock.cursor() as cur:
            cur.execute(drop_app_sql(slug, begin=False), {"login": login_role(slug)})
        return None
    except psycopg2.Error as exc:
        return f"the app moved, but its source schema and roles remain ({exc}); drop them by hand"
    finally:
        lock.close()
