"""A small blocking connection pool.

Connections are autocommit at the driver level: transactions are begun explicitly by the tenant
helper so that BEGIN travels in the same round trip as the first statement (psycopg2's implicit
BEGIN would cost one more). In Lambda the pool holds one connection, reused across invocations.

The pool sits on every query's path, so it is built on `queue.SimpleQueue` (implemented in C):
the queue holds one token per slot, either an idle connection or None for "open a new one".
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions

from chalicelib.db.errors import DatabaseUnavailableError

Connection = psycopg2.extensions.connection
Connect = Callable[[], Connection]
T = TypeVar("T")

#: What psycopg2 raises when the connection (not the statement) failed.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE


def connector(dsn: str, *, connect_timeout: int = 5, application_name: str = "integreat") -> Connect:
    """A factory of autocommit connections to `dsn`, with TCP keepalives for long-lived Lambdas."""

    def connect() -> Connection:
        try:
            conn = psycopg2.connect(
                dsn,
                connect_timeout=connect_timeout,
                application_name=application_name,
                keepalives=1,
                keepalives_idle=30,
            )
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailableError(f"cannot connect to the database: {exc}".strip()) from exc
        conn.autocommit = True
        return conn

    return connect


def is_clean(conn: Connection) -> bool:
    """Open and outside any transaction: safe to hand to the next tenant."""
    return not conn.closed and conn.get_transaction_status() == _IDLE


class ConnectionPool:
    """At most `size` connections, created lazily; `take()` blocks while all are in use."""

    def __init__(self, connect: Connect, size: int = 1) -> None:
        self.connect = connect
        self._tokens: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        for _ in range(size):
            self._tokens.put(None)

    def take(self) -> Connection:
        conn = self._tokens.get()
        if conn is not None:
            return conn
        try:
            return self.connect()
        except BaseException:
            self._tokens.put(None)  # the slot stays free for the next caller
            raise

    def give(self, conn: Connection) -> None:
        """Return a connection. One left inside a transaction, or closed, is never reused: its
        state could belong to the previous tenant."""
        if is_clean(conn):
            self._tokens.put(conn)
        else:
            conn.close()
            self._tokens.put(None)

    def replace(self, conn: Connection) -> Connection:
        """A fresh connection for a broken one (the caller keeps holding the slot)."""
        conn.close()
        return self.connect()

    @contextmanager
    def lease(self) -> Iterator[Connection]:
        conn = self.take()
        try:
            yield conn
        finally:
            self.give(conn)

    def close(self) -> None:
        """Close the idle connections; the pool stays usable and reconnects lazily."""
        drained = 0
        while True:
            try:
                conn = self._tokens.get_nowait()
            except queue.Empty:
                break
            drained += 1
            if conn is not None:
                conn.close()
        for _ in range(drained):
            self._tokens.put(None)


def unavailable(exc: psycopg2.Error) -> DatabaseUnavailableError:
    """The driver's error as ours. Its text can name the server: callers log it, never show it."""
    return DatabaseUnavailableError(str(exc).strip())


class Lease:
    """One pooled connection for one unit of work, given back to the pool when the unit ends.

    `first(run)` sends the unit's first statement. A pooled connection can be found dead by it
    (Lambda frozen past a proxy's idle timeout, the server restarted): the connection is replaced
    once and the statement sent again. That is safe because every unit's first statement is
    read-only, carries its own BEGIN, or is idempotent (see `Database`); `then(run)`, for the
    statements after it, never re-sends. Connection errors leave as DatabaseUnavailableError.

        with Lease(pool) as lease:
            rows = lease.first(lambda conn: fetch(conn, "SELECT 1"))
    """

    __slots__ = ("_pool", "connection")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __enter__(self) -> Lease:
        self.connection = self._pool.take()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.give(self.connection)

    def first(self, run: Callable[..., T], *args: Any) -> T:
        """`run(connection, *args)`: arguments, not a closure, on this per-request path."""
        try:
            return run(self.connection, *args)
        except CONNECTION_ERRORS as exc:
            if not self.connection.closed:
                raise unavailable(exc) from exc  # a live connection refused it: not a dead socket
        self.connection = self._pool.replace(self.connection)
        return self.then(run, *args)

    def then(self, run: Callable[..., T], *args: Any) -> T:
        try:
            return run(self.connection, *args)
        except CONNECTION_ERRORS as exc:
            raise unavailable(exc) from exc
