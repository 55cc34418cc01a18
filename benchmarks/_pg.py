"""A Postgres for one benchmark: a throwaway embedded cluster, or INTEGREAT_DATABASE_URL's server.

    with fresh_database() as bench:
        conn = psycopg2.connect(bench.url)    # operator (may CREATE ROLE) in an empty database

Whatever is started here is stopped here (try/finally), so a crashed benchmark leaves no server.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors

from chalicelib.db.pool import connector
from integreat.context import with_database
from integreat.local.postgres import throwaway_cluster

DATABASE_URL_ENV = "INTEGREAT_DATABASE_URL"
BENCH_DATABASE = "integreat_bench"

#: server_version of every server a benchmark ran against in this process, for results.json.
versions_seen: set[str] = set()


@dataclass
class BenchDatabase:
    """An empty database for one benchmark, reached as the operator."""

    url: str
    server_url: str
    external: bool
    # Roles are cluster-wide: on a shared server they outlive the database, so a benchmark that
    # creates many lists them here to be dropped afterwards (a throwaway cluster just goes away).
    leftover_roles: list[str] = field(default_factory=list)


@contextmanager
def fresh_database() -> Iterator[BenchDatabase]:
    """A new, empty `integreat_bench` database, dropped (and its server stopped) on exit."""
    with _server() as (server_url, external):
        _recreate(server_url)
        bench = BenchDatabase(with_database(server_url, BENCH_DATABASE), server_url, external)
        try:
            versions_seen.add(server_version(bench.url))
            yield bench
        finally:
            _drop(server_url)
            if external:
                _drop_roles(server_url, bench.leftover_roles)


@contextmanager
def _server() -> Iterator[tuple[str, bool]]:
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        yield external, True
        return
    with throwaway_cluster("integreat-bench-pg-") as url:
        yield url, False


@contextmanager
def _admin(server_url: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on a short-lived autocommit connection to the server's maintenance database."""
    conn = connector(server_url, application_name="integreat-bench")()
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _recreate(server_url: str) -> None:
    with _admin(server_url) as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {BENCH_DATABASE}")


def _drop(server_url: str) -> None:
    with _admin(server_url) as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def _drop_roles(server_url: str, roles: list[str]) -> None:
    with _admin(server_url) as cur:
        for role in roles:
            # Still used by another database on this server: not ours to remove.
            with contextlib.suppress(psycopg2.errors.DependentObjectsStillExist):
                cur.execute(f'DROP ROLE IF EXISTS "{role}"')


def server_version(url: str) -> str:
    with _admin(url) as cur:
        cur.execute("SHOW server_version")
        row = cur.fetchone()
    return str(row[0]) if row else "unknown"


def backend_pid(conn: psycopg2.extensions.connection) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def one_cpu(bench: BenchDatabase, backend_pids: Iterable[int]) -> Iterator[bool]:
    """Pin this process and the given server backends to one CPU while timing; yields whether it did.

    On a small VM the scheduler flips between running client and backend on the same CPU
    (a loopback round trip of ~80 µs here) and on two CPUs (~150 µs, the cross-CPU wake-up),
    and the flips last seconds: two variants timed a few seconds apart can land in different
    modes and their ratio then says nothing about the code. One CPU keeps every variant in the
    same mode. Only a local (embedded) server's processes can be pinned.
    """
    if bench.external or not hasattr(os, "sched_setaffinity"):
        yield False
        return
    mine = os.sched_getaffinity(0)
    cpu = {min(mine)}
    try:
        for pid in (0, *backend_pids):
            os.sched_setaffinity(pid, cpu)
    except OSError:  # not allowed to pin the server's processes: time unpinned
        os.sched_setaffinity(0, mine)
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setaffinity(0, mine)  # the backends end with their connections


@contextmanager
def cell_database(prefix: str = "integreat-bench-cell-") -> Iterator[str]:
    """A cell: a throwaway cluster of its own (roles are per cluster, as on a Neon branch, so two
    cells never share one) with an empty `integreat_cell` database; yields its operator URL."""
    with throwaway_cluster(prefix) as url:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE integreat_cell")
        conn.close()
        yield with_database(url, "integreat_cell")
