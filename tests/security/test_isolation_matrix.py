"""The isolation matrix, as attacks: no app reaches another app's data through Postgres.

For every ordered pair of demo apps (attacker, victim), both through the tenant helper (the
runtime switched to the attacker's role) and through the attacker's own LOGIN role.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest

from chalicelib.apps import Database
from chalicelib.db.errors import TenantSwitchError
from chalicelib.db.pool import connector
from tests.conftest import Platform
from tests.isolation import ATTACKS, DENIED

DEMO = ("church", "events", "students")
PAIRS = list(itertools.permutations(DEMO, 2))


@pytest.fixture(scope="module")
def seeded(platform: Platform) -> Platform:
    """Every app holds a marker row; `public.platform_secret` exists, owned by the operator."""
    conn = platform.connect()
    with conn.cursor() as cur:
        for slug in DEMO:
            cur.execute(
                f"INSERT INTO app_{slug}.settings (key, value) VALUES ('marker', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (f'"{slug}"',),
            )
        cur.execute("CREATE TABLE IF NOT EXISTS public.platform_secret (s text)")
    conn.close()
    return platform


@pytest.fixture(scope="module")
def db(seeded: Platform) -> Iterator[Database]:
    database = Database(seeded.runtime_url)
    yield database
    database.close()


def _markers(conn: psycopg2.extensions.connection) -> dict[str, object]:
    with conn.cursor() as cur:
        found = {}
        for slug in DEMO:
            cur.execute(
                f"SELECT value, (SELECT count(*) FROM app_{slug}.settings) FROM app_{slug}.settings"
                " WHERE key = 'marker'"
            )
            found[slug] = cur.fetchone()
        return found


@pytest.fixture
def unchanged(seeded: Platform) -> Iterator[None]:
    """After each attack, every app's data is exactly as before."""
    conn = seeded.connect()
    before = _markers(conn)
    yield
    assert _markers(conn) == before
    conn.close()


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_app_role_via_helper_is_denied(db: Database, attacker: str, victim: str, attack: str) -> None:
    # Given the runtime switched to the attacker's role, When it touches the victim, Then denied.
    with pytest.raises(DENIED), db.tenant(attacker) as cur:
        cur.execute(ATTACKS[attack].format(v=victim))


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_app_login_role_is_denied(seeded: Platform, attacker: str, victim: str, attack: str) -> None:
    conn = connector(seeded.login_url(attacker))()
    try:
        with pytest.raises(DENIED), conn.cursor() as cur:
            cur.execute(ATTACKS[attack].format(v=victim))
    finally:
        conn.close()


@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
def test_app_login_role_cannot_become_another_app(seeded: Platform, attacker: str, victim: str) -> None:
    conn = connector(seeded.login_url(attacker))()
    try:
        for target in (f"app_{victim}", "integreat_runtime", "integreat_admin", "postgres"):
            with pytest.raises(DENIED), conn.cursor() as cur:
                cur.execute(f"SET ROLE {target}")
    finally:
        conn.close()


@pytest.mark.parametrize("slug", DEMO)
def test_app_reaches_its_own_data(db: Database, seeded: Platform, slug: str) -> None:
    # The control for every denial above: the same reads succeed on the app's own schema.
    assert db.read(slug, "SELECT value FROM settings WHERE key = 'marker'") == [(slug,)]
    conn = connector(seeded.login_url(slug))()
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM settings WHERE key = 'marker'")  # its search_path is its schema
        assert cur.fetchall() == [(slug,)]
        cur.execute("CREATE TABLE IF NOT EXISTS team_table (x int)")  # the team's own DDL works
    conn.close()
    # ...and what the team created is usable by the runtime through the app role (default privileges)
    assert db.read(slug, "SELECT count(*) FROM team_table") == [(0,)]


@pytest.mark.parametrize("slug", DEMO)
def test_runtime_after_reset_role_has_no_privilege(db: Database, slug: str) -> None:
    # NOINHERIT: leaving the app role (RESET ROLE) leaves the runtime with nothing.
    with pytest.raises(DENIED), db.tenant("church") as cur:
        cur.execute("RESET ROLE")
        cur.execute(f"SELECT * FROM app_{slug}.settings")


@pytest.mark.parametrize("slug", DEMO)
def test_runtime_login_without_switch_has_no_privilege(seeded: Platform, slug: str) -> None:
    conn = connector(seeded.runtime_url)()
    try:
        with pytest.raises(DENIED), conn.cursor() as cur:
            cur.execute(f"SELECT * FROM app_{slug}.settings")
    finally:
        conn.close()


def test_runtime_cannot_become_admin(seeded: Platform) -> None:
    conn = connector(seeded.runtime_url)()
    try:
        with pytest.raises(DENIED), conn.cursor() as cur:
            cur.execute("SET ROLE integreat_admin")
    finally:
        conn.close()


def test_admin_sees_every_app(db: Database, seeded: Platform) -> None:
    # The runtime is not a member of integreat_admin: admin work needs the operator's connection.
    admin = Database(seeded.operator_url)
    try:
        with admin.admin() as cur:
            cur.execute(
                " UNION ALL ".join(
                    f"SELECT '{s}', value FROM app_{s}.settings WHERE key = 'marker'" for s in DEMO
                )
            )
            assert sorted(cur.fetchall()) == sorted((s, s) for s in DEMO)
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("integreat_admin",)
    finally:
        admin.close()
    with pytest.raises(TenantSwitchError), db.admin() as cur:
        cur.execute("SELECT 1")
