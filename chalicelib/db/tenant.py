"""The one chokepoint that switches tenant in Postgres (design decision 1).

Every tenant operation runs in a transaction that begins with `SET LOCAL ROLE app_<slug>`, sent
in the same round trip as the first statement. The schema follows the role: the runtime login role's
search_path is `"$user", pg_temp` and each app's schema is named like its role, so `$user`
resolves to the app's schema for exactly as long as the role is switched (one SET instead of two,
measured in benchmarks/db_overhead.py). Nothing here ever issues a session-level SET: behind
PgBouncer in transaction mode (Neon's pooled endpoint) a session SET leaks to other clients.

    with db.tenant("church") as cur:          # explicit transaction: BEGIN+switch+1st statement, COMMIT
        cur.execute("INSERT INTO settings VALUES (%s, %s)", ("k", '"v"'))
    rows = db.read("church", "SELECT value FROM settings WHERE key = %s", ("k",))   # one round trip

The role boundary is what protects data: the runtime login role is NOINHERIT, so outside a
switched transaction it can read no app's tables. The helper guards against platform bugs
(wrong schema, a forgotten filter); it is not a sandbox for client-supplied SQL, which must
never be passed to it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from chalicelib.db.errors import DatabaseUnavailableError, TenantSwitchError
from chalicelib.db.pool import Connection, ConnectionPool, Lease, connector
from chalicelib.settings import SettingsError
from chalicelib.tenancy.errors import AppRemovedError, NoTenantError
from chalicelib.tenancy.slugs import app_role

ADMIN_ROLE = "integreat_admin"
RUNTIME_ROLE = "integreat_runtime"
PLATFORM_SCHEMA = "integreat"
#: The runtime login role's search_path (set once by provisioning with ALTER ROLE, never by a SET).
LOGIN_SEARCH_PATH = '"$user", pg_temp'

Params = Sequence[Any] | dict[str, Any] | None
Row = tuple[Any, ...]

_SWITCH_ERRORS = (psycopg2.errors.InvalidParameterValue, psycopg2.errors.InsufficientPrivilege)
_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
_READ_ONLY = "SET LOCAL transaction_read_only = on; "


def switch_sql(role: str, schema: str | None = None, *, begin: bool, read_only: bool = False) -> str:
    """The statements that open a tenant scope, to be prefixed to the first real statement.

    `schema` None: the schema follows the role through `$user`. `role` and `schema` come only from
    `chalicelib.tenancy.slugs` (validated identifiers) or the constants above, so quoting suffices.
    """
    parts = ["BEGIN"] if begin else []
    parts.append(f'SET LOCAL ROLE "{role}"')
    if schema is not None:
        parts.append(f'SET LOCAL search_path = "{schema}", pg_temp')
    if read_only:
        parts.append(_READ_ONLY.rstrip("; "))
    return "; ".join(parts) + "; "


def _switch_error(exc: psycopg2.Error) -> Exception | None:
    """Translate a failed SET ROLE; None when the error came from the caller's own SQL."""
    message = exc.diag.message_primary or ""
    if message.startswith("role ") and message.endswith("does not exist"):
        role = message.split('"')[1] if '"' in message else "?"
        return AppRemovedError(role.removeprefix("app_"))
    if message.startswith("permission denied to set role"):
        return TenantSwitchError(
            f"{message}: this login role is not granted that role; run `integreat apps sync`"
        )
    return None


def _raise_switch_error(exc: psycopg2.Error) -> None:
    switch = _switch_error(exc)
    if switch is not None:
        raise switch from exc


class TenantCursor:
    """An explicit transaction and its cursor: `with db.tenant(slug) as cur:`.

    Entering takes a pooled connection; the first statement carries BEGIN and the switch;
    leaving commits (or rolls back on any exception) and returns the connection, which the pool
    drops unless it is idle. A plain class, not a generator: this is on every write's path.
    """

    def __init__(self, pool: ConnectionPool, preamble: str) -> None:
        self._lease = Lease(pool)
        self._preamble: str | None = preamble

    def __enter__(self) -> TenantCursor:
        self._cur = self._lease.__enter__().connection.cursor()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if exc_type is None:
                self._end("COMMIT")
            else:
                with contextlib.suppress(DatabaseUnavailableError):
                    self._end("ROLLBACK")
        finally:
            self._lease.__exit__()

    @property
    def connection(self) -> Connection:
        return self._lease.connection

    @property
    def started(self) -> bool:
        return self._preamble is None

    def execute(self, sql: str | bytes, params: Params = None) -> None:
        if self._preamble is None:
            self._run(sql, params)
        else:
            self._first(sql, params)
        if self.connection.get_transaction_status() == _IDLE:
            # A COMMIT/ROLLBACK inside the scope would end the role switch; refuse to go on.
            raise TenantSwitchError(
                "the transaction was ended inside a tenant scope; statements after it refused"
            )

    def _first(self, sql: str | bytes, params: Params) -> None:
        assert self._preamble is not None
        head = self._preamble
        full: str | bytes = head + sql if isinstance(sql, str) else head.encode() + sql
        try:
            # The transaction begins with this statement, so on a dead connection nothing was
            # applied and the lease may send it again on a fresh one.
            self._lease.first(lambda conn: self._cursor_on(conn).execute(full, params))
        except _SWITCH_ERRORS as exc:
            _raise_switch_error(exc)
            raise  # the caller's own statement was refused, not the switch
        self._preamble = None

    def _cursor_on(self, conn: Connection) -> Any:
        if self._cur.connection is not conn:  # the lease replaced a dead connection
            self._cur = conn.cursor()
        return self._cur

    def _run(self, sql: str | bytes, params: Params) -> None:
        self._lease.then(lambda conn: self._cur.execute(sql, params))

    def mogrify(self, sql: str | bytes, params: Params = None) -> bytes:
        return self._cur.mogrify(sql, params)

    def execute_values(
        self, sql: str, rows: Sequence[Sequence[Any]], template: str | None = None, page_size: int = 1000
    ) -> list[Row]:
        """Many rows in one statement per page (`INSERT ... VALUES %s`), as psycopg2.extras does."""
        import psycopg2.extras  # lazy: only batch writers need it

        result = psycopg2.extras.execute_values(
            self,  # duck-typed: needs execute, mogrify, connection, fetchall
            sql,
            rows,
            template=template,
            page_size=page_size,
            fetch="RETURNING" in sql.upper(),
        )
        return list(result or [])

    def fetchone(self) -> Row | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[Row]:
        return self._cur.fetchall()

    def fetchmany(self, size: int) -> list[Row]:
        return self._cur.fetchmany(size)

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self) -> Any:
        return self._cur.description

    def _end(self, statement: str) -> None:
        """COMMIT or ROLLBACK, if the transaction was begun."""
        if self.started and not self.connection.closed:
            self._run(statement, None)


#: The gate: (slug, writing) -> the cell to run in (None: the home cell), raising for an app that
#: may not be served, or not written.
Gate = Callable[[str, bool], str | None]
#: A cell's name -> the URL the runtime logs in with there (raises when none is configured).
CellUrl = Callable[[str], str]


class Database:
    """Pooled connections and the tenant switch: the only way runtime code reaches Postgres.

    `gate(slug, writing)` is asked before every switch: it raises for an app that may not be served
    (`chalicelib.tenancy.database.Database` asks its registry) and answers the app's cell, the
    database that holds its schema and roles (issue 16). The home cell is `dsn`; another cell's
    pool is opened on first use from `cell_url(name)`. The chokepoint knows no registry, only that
    a slug must pass the gate before it reaches SQL, and in which database.
    """

    def __init__(
        self,
        dsn: str,
        *,
        gate: Gate,
        pool_size: int = 1,
        connect_timeout: int = 5,
        cell_url: CellUrl | None = None,
    ) -> None:
        self._pool_size, self._connect_timeout = pool_size, connect_timeout
        self._pool = ConnectionPool(connector(dsn, connect_timeout=connect_timeout), pool_size)
        self._pools: dict[str | None, ConnectionPool] = {None: self._pool}  # cell -> pool
        self._cell_url = cell_url
        self._lock = threading.Lock()
        self._gate = gate
        self._switches: dict[str, str] = {}  # slug -> 'SET LOCAL ROLE "app_<slug>"; '

    def read(self, slug: str | None, sql: str, params: Params = None) -> list[Row]:
        """One read-only statement as the app's role, in one round trip (an implicit transaction),
        in the app's cell.

        Read-only is what makes re-sending on a fresh connection safe if the pooled one was dead.
        """
        pool, switch = self._switch(slug, False)
        try:
            with Lease(pool) as lease:
                return lease.first(_fetch, switch + _READ_ONLY + sql, params)
        except _SWITCH_ERRORS as exc:
            _raise_switch_error(exc)
            raise

    def tenant(self, slug: str | None) -> TenantCursor:
        """An explicit transaction as the app's role, in the app's schema and cell; commits on success."""
        pool, switch = self._switch(slug, True)
        return TenantCursor(pool, "BEGIN; " + switch)

    def admin(self) -> TenantCursor:
        """An explicit transaction as `integreat_admin` in the home cell, for cross-app platform work."""
        return TenantCursor(self._pool, switch_sql(ADMIN_ROLE, PLATFORM_SCHEMA, begin=True))

    def platform(self, sql: str, params: Params = None) -> list[Row]:
        """One statement as the login role itself in the home cell, no switch: only for the few
        platform tables the runtime is granted (registry reads, the sign-up record, the audit log).
        Never for app data.

        Re-sent once if the pooled connection was found dead, like every path here: platform
        statements are reads or idempotent writes (`ON CONFLICT DO NOTHING`, deletes); the
        integrations rate counter would at worst count one call twice (it errs towards refusing).
        """
        return self._one(sql, params, self._pool)

    def _one(self, sql: str, params: Params, pool: ConnectionPool) -> list[Row]:
        """One statement on a pooled connection; the one place reads and platform statements
        get the dead-connection replacement (`Lease.first`)."""
        with Lease(pool) as lease:
            return lease.first(_fetch, sql, params)

    def close(self) -> None:
        for pool in list(self._pools.values()):
            pool.close()

    def _switch(self, slug: str | None, writing: bool) -> tuple[ConnectionPool, str]:
        if not slug:
            raise NoTenantError("tenant-scoped database work needs an app slug; none was given")
        cell = self._gate(slug, writing)  # validates the slug before anything reaches SQL
        pool = self._pools.get(cell) or self._cell_pool(cell)
        switch = self._switches.get(slug)
        if switch is None:
            switch = self._switches[slug] = switch_sql(app_role(slug), begin=False)
        return pool, switch

    def _cell_pool(self, cell: str | None) -> ConnectionPool:
        """The pool of another cell, created on first use (connections themselves open lazily)."""
        assert cell is not None  # the home cell's pool always exists
        with self._lock:
            pool = self._pools.get(cell)
            if pool is None:
                if self._cell_url is None:
                    raise DatabaseUnavailableError(f"cell {cell!r}: this runtime knows no cell but home")
                try:
                    url = self._cell_url(cell)
                except SettingsError as exc:  # a stage not told this cell's URL: logged, a 503
                    raise DatabaseUnavailableError(str(exc)) from exc
                pool = self._pools[cell] = ConnectionPool(
                    connector(url, connect_timeout=self._connect_timeout), self._pool_size
                )
            return pool


def _fetch(conn: Connection, sql: str, params: Params) -> list[Row]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []
