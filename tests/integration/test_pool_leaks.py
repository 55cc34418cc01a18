"""No tenant state leaks through pooling: our pool, and a real PgBouncer in transaction mode.

Each test has a control that runs the forbidden pattern (session-level SET) through the same
detector and must see leaks: a detector that cannot fail would prove nothing.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import psycopg2
import pytest

from chalicelib.apps import Database
from chalicelib.db.pool import ConnectionPool, connector
from chalicelib.db.provision import role_password
from chalicelib.db.tenant import LOGIN_SEARCH_PATH, RUNTIME_ROLE
from tests.conftest import Platform
from tests.pgbouncer import require_pgbouncer, running_pgbouncer, through

APPS = ("church", "events", "students")
PROBE = "SELECT current_user, current_schema(), (SELECT value FROM settings WHERE key = 'owner')"


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def owners(platform: Platform) -> Platform:
    conn = platform.connect()
    with conn.cursor() as cur:
        for slug in APPS:
            cur.execute(
                f"INSERT INTO app_{slug}.settings (key, value) VALUES ('owner', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (f'"{slug}"',),
            )
    conn.close()
    return platform


def _one_call(db: Database, slug: str, mode: int) -> tuple[object, ...] | None:
    """One tenant call in one of four shapes, including ones that fail halfway."""
    if mode == 0:
        return db.read(slug, PROBE)[0]
    if mode == 1:
        with db.tenant(slug) as cur:
            cur.execute("UPDATE settings SET updated_at = now() WHERE key = 'owner'")
            cur.execute(PROBE)
            return cur.fetchone()
    if mode == 2:
        with pytest.raises(Boom), db.tenant(slug) as cur:
            cur.execute(PROBE)
            raise Boom  # application error mid-transaction: must roll back, connection reused clean
        return None
    with pytest.raises(psycopg2.errors.UndefinedTable):
        db.read(slug, "SELECT * FROM no_such_table")  # SQL error inside the implicit transaction
    return None


def hammer(db: Database, threads: int = 8, calls: int = 150) -> list[str]:
    """Many threads alternating apps through one small pool; returns every leak seen."""
    leaks: list[str] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(calls):
                slug = rng.choice(APPS)
                seen = _one_call(db, slug, rng.randrange(4))
                expected = (f"app_{slug}", f"app_{slug}", slug)
                if seen is not None and tuple(seen) != expected:
                    leaks.append(f"{slug}: saw {seen}")
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[:3]
    return leaks


def test_no_leak_through_our_pool(owners: Platform) -> None:
    db = Database(owners.runtime_url, pool_size=3)
    try:
        assert hammer(db) == []
        # and the pooled connections are back to the bare runtime role, default search_path
        for _ in range(3):
            with db._pool.lease() as conn, conn.cursor() as cur:
                cur.execute("SELECT current_user, current_setting('search_path')")
                assert cur.fetchone() == (RUNTIME_ROLE, LOGIN_SEARCH_PATH)
    finally:
        db.close()


def test_control_session_set_leaks_through_a_pool(owners: Platform) -> None:
    # The forbidden pattern: session-level SET ROLE, and a code path that fails before RESET.
    pool = ConnectionPool(connector(owners.runtime_url), size=1)
    with pool.lease() as conn, conn.cursor() as cur:
        cur.execute("SET ROLE app_church; SET search_path = app_church")
    with pool.lease() as conn, conn.cursor() as cur:  # "events" gets the same connection
        cur.execute(PROBE)
        assert cur.fetchone() == ("app_church", "app_church", "church")  # leaked: the detector sees it
    pool.close()


@pytest.fixture(scope="module")
def bouncer(owners: Platform) -> Iterator[str]:
    require_pgbouncer()
    conn = owners.connect()
    password = role_password(conn, RUNTIME_ROLE)
    conn.close()
    assert password is not None
    with running_pgbouncer(owners.operator_url, {RUNTIME_ROLE: password}, pool_size=2) as address:
        yield through(owners.runtime_url, address)


@pytest.mark.pgbouncer
def test_no_leak_through_pgbouncer_transaction_mode(bouncer: str) -> None:
    # 8 threads, a client pool of 6, PgBouncer's server pool of 2: server connections are shared.
    db = Database(bouncer, pool_size=6)
    try:
        assert hammer(db, threads=8, calls=100) == []
    finally:
        db.close()


@pytest.mark.pgbouncer
def test_control_session_set_leaks_through_pgbouncer(bouncer: str) -> None:
    # Why decision 1 forbids session SET: in transaction mode it reaches other clients.
    clients = [connector(bouncer)() for _ in range(4)]
    try:
        with clients[0].cursor() as cur:
            cur.execute("SET search_path = app_church")
        seen = set()
        for client in clients[1:] * 3:
            with client.cursor() as cur:
                cur.execute("SHOW search_path")
                seen.add(cur.fetchone()[0])  # type: ignore[index]
        assert "app_church" in seen
    finally:
        for client in clients:
            client.close()
