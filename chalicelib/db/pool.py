"""A small blocking connection pool.

Connections are autocommit at the driver level: transactions are begun explicitly by the tenant
helper so that BEGIN travels in the same round trip as the first statement (psycopg2's implicit
BEGIN would cost one more). In Lambda the pool holds one connection, reused across invocations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

from chalicelib.db.errors import DatabaseUnavailableError

Connection = psycopg2.extensions.connection
Connect = Callable[[], Connection]

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


class Lease:
    """One borrowed connection. `replace()` swaps a broken connection for a fresh one."""

    def __init__(self, conn: Connection, connect: Connect) -> None:
        self.conn = conn
        self._connect = connect

    @property
    def broken(self) -> bool:
        return bool(self.conn.closed)

    def replace(self) -> Connection:
        self.conn.close()
        self.conn = self._connect()
        return self.conn

    @property
    def clean(self) -> bool:
        """Open and outside any transaction: safe to hand to the next tenant."""
        return not self.conn.closed and self.conn.info.transaction_status == _IDLE


class ConnectionPool:
    """At most `size` connections, created lazily; `lease()` blocks while all are in use."""

    def __init__(self, connect: Connect, size: int = 1) -> None:
        self._connect = connect
        self._idle: list[Connection] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        self._slots.acquire()
        lease: Lease | None = None
        try:
            lease = Lease(self._take(), self._connect)
            yield lease
        finally:
            if lease is not None:
                self._give_back(lease)
            self._slots.release()

    def _take(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give_back(self, lease: Lease) -> None:
        # A connection left inside a transaction (or closed) is never reused: its state could
        # belong to the previous tenant.
        if lease.clean:
            with self._lock:
                self._idle.append(lease.conn)
        else:
            lease.conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
