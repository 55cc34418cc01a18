"""The isolation matrix across cells: every attack of tests/isolation.py, for apps placed in two
clusters (one app in the home cell, two in cell b), through the tenant helper (the runtime in the
attacker's cell switched to its role) and through the attacker's own LOGIN role.

Within a cell the denial is Postgres's privilege check, exactly as in one cell. Across cells the
victim's schema does not exist where the attacker is: the statement fails on a missing object
and, as everywhere, the victim's rows are unchanged afterwards in both clusters.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest

from chalicelib.apps import Database
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.slugs import schema_name
from tests.cells.conftest import Cells
from tests.isolation import ATTACKS, DENIED

SUFFIX = secrets.token_hex(2)
HOME, B_ONE, B_TWO = f"xh{SUFFIX}", f"xb{SUFFIX}", f"xc{SUFFIX}"
CELL = {HOME: None, B_ONE: "b", B_TWO: "b"}
PAIRS = [(HOME, B_ONE), (B_ONE, HOME), (B_ONE, B_TWO), (B_TWO, B_ONE)]
#: What an attack on an app of another cluster meets: nothing of the victim's exists there.
ABSENT = (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName)


@pytest.fixture(scope="module")
def placed(cells: Cells) -> Cells:
    """The three apps synced into their cells, each holding a marker row; `public.platform_secret`
    in both clusters, owned by their operators."""
    report = cells.sync(
        [AppSpec(slug, slug.title(), "invite", ("member",), cell=CELL[slug]) for slug in CELL]
    )
    assert report.cells == CELL
    for slug, cell in CELL.items():
        conn = psycopg2.connect(cells.urls[cell])
        with conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO {schema_name(slug)}.settings (key, value) VALUES ('marker', %s)", (f'"{slug}"',)
            )
            cur.execute("CREATE TABLE IF NOT EXISTS public.platform_secret (s text)")
        conn.close()
    return cells


@pytest.fixture(scope="module")
def db(placed: Cells) -> Iterator[Database]:
    database = placed.database()
    yield database
    database.close()


def _markers(cells: Cells) -> dict[str, object]:
    found = {}
    for slug, cell in CELL.items():
        conn = psycopg2.connect(cells.urls[cell])
        with conn.cursor() as cur:
            cur.execute(f"SELECT value, (SELECT count(*) FROM {schema_name(slug)}.settings) FROM"
                        f" {schema_name(slug)}.settings WHERE key = 'marker'")  # fmt: skip
            found[slug] = cur.fetchone()
        conn.close()
    return found


@pytest.fixture
def unchanged(placed: Cells) -> Iterator[None]:
    before = _markers(placed)
    assert all(before.values())
    yield
    assert _markers(placed) == before


def _expected(attacker: str, victim: str, attack: str) -> tuple[type[Exception], ...]:
    same_cell = CELL[attacker] == CELL[victim]
    on_the_victim = "{v}" in ATTACKS[attack] and "public" not in ATTACKS[attack]
    return DENIED if same_cell or not on_the_victim else DENIED + ABSENT


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_app_role_via_helper_is_denied_across_cells(
    db: Database, attacker: str, victim: str, attack: str
) -> None:
    with pytest.raises(_expected(attacker, victim, attack)), db.tenant(attacker) as cur:
        cur.execute(ATTACKS[attack].format(v=victim))


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_app_login_role_is_denied_across_cells(
    placed: Cells, attacker: str, victim: str, attack: str
) -> None:
    conn = psycopg2.connect(placed.login_url(attacker, CELL[attacker]))
    conn.autocommit = True
    try:
        with pytest.raises(_expected(attacker, victim, attack)), conn.cursor() as cur:
            cur.execute(ATTACKS[attack].format(v=victim))
    finally:
        conn.close()


@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
def test_app_login_role_cannot_become_another_app_in_any_cell(
    placed: Cells, attacker: str, victim: str
) -> None:
    conn = psycopg2.connect(placed.login_url(attacker, CELL[attacker]))
    conn.autocommit = True
    try:
        for target in (f"app_{victim}", "integreat_runtime", "integreat_admin", "postgres"):
            # a role of another cluster does not exist here (22023); one of this cluster is refused
            with pytest.raises((*DENIED, psycopg2.errors.InvalidParameterValue)), conn.cursor() as cur:
                cur.execute(f"SET ROLE {target}")
    finally:
        conn.close()


@pytest.mark.parametrize("slug", sorted(CELL))
def test_each_app_reaches_its_own_data_in_its_cell(db: Database, placed: Cells, slug: str) -> None:
    # The control for every denial above.
    assert db.read(slug, "SELECT value FROM settings WHERE key = 'marker'") == [(slug,)]
    conn = psycopg2.connect(placed.login_url(slug, CELL[slug]))
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM settings WHERE key = 'marker'")
        assert cur.fetchall() == [(slug,)]
    conn.close()
