"""The one chokepoint that switches tenant in Postgres (DESIGN.md decision 1).

Every tenant operation runs inside a transaction that begins with
`SET LOCAL ROLE app_<slug>; SET LOCAL search_path = app_<slug>, pg_temp`, sent in the same
round trip as the first statement. Nothing here ever issues a session-level SET: behind
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from chalicelib.db.errors import DatabaseUnavailableError, TenantSwitchError
from chalicelib.db.pool import ConnectionPool, Lease, connector
from chalicelib.settings import Settings, get_settings
from chalicelib.tenancy.errors import AppRemovedError, NoTenantError
from chalicelib.tenancy.registry import AppRecord, Registry
from chalicelib.tenancy.slugs import app_role

ADMIN_ROLE = "integreat_admin"
RUNTIME_ROLE = "integreat_runtime"
PLATFORM_SCHEMA = "integreat"

Params = Sequence[Any] | dict[str, Any] | None
Row = tuple[Any, ...]

_CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
_IN_TRANSACTION = (
    psycopg2.extensions.TRANSACTION_STATUS_INTRANS,
    psycopg2.extensions.TRANSACTION_STATUS_INERROR,
)


def switch_sql(role: str, schema: str, *, begin: bool, read_only: bool = False) -> str:
    """The statements that open a tenant scope, to be prefixed to the first real statement.

    `role` and `schema` come only from `chalicelib.tenancy.slugs` (validated identifiers) or
    the platform constants above, so quoting them is enough.
    """
    parts = ["BEGIN"] if begin else []
    parts += [f'SET LOCAL ROLE "{role}"', f'SET LOCAL search_path = "{schema}", pg_temp']
    if read_only:
        parts.append("SET LOCAL transaction_read_only = on")
    return "; ".join(parts) + "; "


class TenantCursor:
    """A cursor whose first statement carries the tenant switch. Only reachable inside a scope."""

    def __init__(self, lease: Lease, preamble: str, *, explicit: bool, retry_safe: bool) -> None:
        self._lease = lease
        self._cur = lease.conn.cursor()
        self._preamble: str | None = preamble
        self._explicit = explicit
        self._retry_safe = retry_safe

    @property
    def started(self) -> bool:
        return self._preamble is None

    @property
    def connection(self) -> psycopg2.extensions.connection:
        return self._lease.conn

    def execute(self, sql: str | bytes, params: Params = None) -> None:
        if self._preamble is None:
            self._run(sql, params)
        else:
            self._first(sql, params)
        if self._explicit and self._lease.conn.info.transaction_status not in _IN_TRANSACTION:
            # A COMMIT/ROLLBACK inside the scope would end the role switch; refuse to go on.
            raise TenantSwitchError(
                "the transaction was ended inside a tenant scope; statements after it refused"
            )

    def _first(self, sql: str | bytes, params: Params) -> None:
        assert self._preamble is not None
        head = self._preamble
        full: str | bytes = head + sql if isinstance(sql, str) else head.encode() + sql
        try:
            self._cur.execute(full, params)
        except _CONNECTION_ERRORS as exc:
            if not (self._retry_safe and self._lease.broken):
                raise DatabaseUnavailableError(str(exc).strip()) from exc
            # A pooled connection can die while Lambda is frozen. Nothing was applied on it,
            # so the statement is sent once more on a fresh connection.
            self._cur = self._lease.replace().cursor()
            self._run(full, params)
        except (psycopg2.errors.InvalidParameterValue, psycopg2.errors.InsufficientPrivilege) as exc:
            switch = _switch_error(exc)
            if switch is None:
                raise  # the caller's own statement was refused, not the switch
            raise switch from exc
        self._preamble = None

    def _run(self, sql: str | bytes, params: Params) -> None:
        try:
            self._cur.execute(sql, params)
        except _CONNECTION_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc).strip()) from exc

    def mogrify(self, sql: str | bytes, params: Params = None) -> bytes:
        return self._cur.mogrify(sql, params)

    def execute_values(
        self, sql: str, rows: Sequence[Sequence[Any]], template: str | None = None, page_size: int = 1000
    ) -> list[Row]:
        """Many rows in one statement per page (`INSERT ... VALUES %s`), as psycopg2.extras does."""
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
        """COMMIT or ROLLBACK an explicit transaction that was started."""
        if self.started and self._explicit and not self._lease.broken:
            self._run(statement, None)

    def _abandon(self) -> None:
        with contextlib.suppress(DatabaseUnavailableError):  # the pool discards an unclean connection
            self._end("ROLLBACK")


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


class Database:
    """Pooled connections plus the registry: the only way runtime code reaches Postgres."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 1,
        connect_timeout: int = 5,
        registry_ttl_seconds: float = 30.0,
        registry: Registry | None = None,
    ) -> None:
        self._pool = ConnectionPool(connector(dsn, connect_timeout=connect_timeout), pool_size)
        self.registry = registry or Registry(self._load_registry, ttl_seconds=registry_ttl_seconds)

    @classmethod
    def from_settings(cls, settings: Settings, dsn: str | None = None) -> Database:
        return cls(
            dsn or settings.require_runtime_database_url(),
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout,
            registry_ttl_seconds=settings.registry_ttl_seconds,
        )

    @contextmanager
    def tenant(self, slug: str | None) -> Iterator[TenantCursor]:
        """An explicit transaction as the app's role, in the app's schema; commits on success."""
        role = self._active_role(slug)
        with self._scope(switch_sql(role, role, begin=True), explicit=True, retry_safe=True) as cur:
            yield cur

    def read(self, slug: str | None, sql: str, params: Params = None) -> list[Row]:
        """One read-only statement as the app's role, in one round trip (an implicit transaction)."""
        role = self._active_role(slug)
        preamble = switch_sql(role, role, begin=False, read_only=True)
        with self._scope(preamble, explicit=False, retry_safe=True) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    @contextmanager
    def admin(self) -> Iterator[TenantCursor]:
        """An explicit transaction as `integreat_admin`, for cross-app platform work."""
        preamble = switch_sql(ADMIN_ROLE, PLATFORM_SCHEMA, begin=True)
        with self._scope(preamble, explicit=True, retry_safe=True) as cur:
            yield cur

    def close(self) -> None:
        self._pool.close()

    def _active_role(self, slug: str | None) -> str:
        if not slug:
            raise NoTenantError("tenant-scoped database work needs an app slug; none was given")
        self.registry.get_active(slug)
        return app_role(slug)

    @contextmanager
    def _scope(self, preamble: str, *, explicit: bool, retry_safe: bool) -> Iterator[TenantCursor]:
        with self._pool.lease() as lease:
            cur = TenantCursor(lease, preamble, explicit=explicit, retry_safe=retry_safe)
            try:
                yield cur
            except BaseException:
                cur._abandon()
                raise
            cur._end("COMMIT")

    def _load_registry(self) -> dict[str, AppRecord]:
        # Read as the login role itself (the runtime has SELECT on this one table): no switch.
        with self._pool.lease() as lease, lease.conn.cursor() as cur:
            try:
                cur.execute(f"SELECT slug, status, name, created_at, updated_at FROM {PLATFORM_SCHEMA}.apps")
            except _CONNECTION_ERRORS:
                if not lease.broken:
                    raise
                cur = lease.replace().cursor()
                cur.execute(f"SELECT slug, status, name, created_at, updated_at FROM {PLATFORM_SCHEMA}.apps")
            return {row[0]: AppRecord(*row) for row in cur.fetchall()}


_default: Database | None = None


def get_database() -> Database:
    """The process-wide runtime Database (Lambda: created on first use, reused while warm)."""
    global _default
    if _default is None:
        _default = Database.from_settings(get_settings())
    return _default


def tenant_transaction(slug: str | None) -> Any:
    """`with tenant_transaction("church") as cur:` on the process-wide Database."""
    return get_database().tenant(slug)


def tenant_read(slug: str | None, sql: str, params: Params = None) -> list[Row]:
    return get_database().read(slug, sql, params)


def admin_transaction() -> Any:
    return get_database().admin()
