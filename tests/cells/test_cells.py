"""Cells across two real clusters: placement, the isolation matrix, datasets, moves."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg2
import pytest

from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.gateway.errors import translate
from chalicelib.sharing.model import DatasetSpec
from chalicelib.sharing.read import read_page
from chalicelib.tenancy.errors import AppMovingError, AppRemovedError
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.slugs import schema_name
from integreat.cells import MoveError, move_app
from tests.cells.conftest import Cells


def _slug(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def _app(slug: str, cell: str | None = None, datasets: tuple[DatasetSpec, ...] | None = None) -> AppSpec:
    return AppSpec(slug, slug.title(), "invite", ("member",), cell=cell, datasets=datasets)


def _schemas(url: str) -> set[str]:
    conn = connector(url)()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'app\\_%'")
            return {str(row[0]) for row in cur.fetchall()}
    finally:
        conn.close()


def _fill(db: Database, slug: str, rows: int) -> None:
    with db.tenant(slug) as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, label text NOT NULL)")
        cur.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, %s) g", (rows,))


def _count(db: Database, slug: str) -> int:
    return int(db.read(slug, "SELECT count(*) FROM items")[0][0])


@pytest.fixture
def pair(cells: Cells) -> tuple[str, str]:
    """(an app of the home cell, an app of cell b), provisioned."""
    home, other = _slug("ha"), _slug("hb")
    report = cells.sync([_app(home), _app(other, "b")])
    assert report.cells == {home: None, other: "b"}
    return home, other


def test_apps_are_placed_in_their_cells_and_their_data_lives_there(
    cells: Cells, cells_db: Database, pair: tuple[str, str]
) -> None:
    home, other = pair
    for slug in pair:
        _fill(cells_db, slug, 3)

    assert cells_db.registry.get_active(home).cell is None
    assert cells_db.registry.get_active(other).cell == "b"
    assert schema_name(home) in _schemas(cells.home.operator_url) - _schemas(cells.b_url)
    assert schema_name(other) in _schemas(cells.b_url) - _schemas(cells.home.operator_url)
    assert [_count(cells_db, s) for s in pair] == [3, 3]


def test_an_unchanged_sync_over_two_cells_touches_nothing(cells: Cells, pair: tuple[str, str]) -> None:
    home, other = pair

    report = cells.sync([_app(home), _app(other, "b")])

    assert report.applied["database"] == []


def test_an_app_of_cell_b_is_invisible_through_cell_a_pool(cells: Cells, pair: tuple[str, str]) -> None:
    _home, other = pair
    # A registry that lies (says home) sends the switch to the home cell's pool: no such role there.
    liar = Database(cells.home.runtime_url, pool_size=1)
    liar._gate = lambda slug, writing: None  # type: ignore[method-assign]
    try:
        with pytest.raises(AppRemovedError):
            liar.read(other, "SELECT 1")
    finally:
        liar.close()


def test_an_app_login_cannot_reach_another_app_in_either_cell(cells: Cells, cells_db: Database) -> None:
    a_home, b_one, b_two = _slug("ia"), _slug("ib"), _slug("ic")
    cells.sync([_app(a_home), _app(b_one, "b"), _app(b_two, "b")])
    for slug in (a_home, b_one, b_two):
        _fill(cells_db, slug, 1)

    # Same cell: the login role of one app of b cannot read another's schema.
    conn = psycopg2.connect(cells.login_url(b_two, "b"))
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute(f'SELECT * FROM "{schema_name(b_one)}".items')
    conn.close()
    # Across cells: the home app's login does not exist in cell b at all, nor b's in the home cell.
    home_login = cells.login_url(a_home, None)
    b_host = cells.b_url.split("@")[1]
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(home_login.split("@")[0] + "@" + b_host, connect_timeout=5)
    conn = psycopg2.connect(home_login)
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute(f'SELECT * FROM "{schema_name(b_one)}".items')
    conn.close()


def test_a_dataset_shared_across_cells_is_read_in_the_owner_cell(cells: Cells, cells_db: Database) -> None:
    owner, reader = _slug("do"), _slug("dr")
    shared = DatasetSpec("things", "things_v", "id", (reader,))
    cells.sync([_app(owner, "b", datasets=(shared,)), _app(reader)])
    _fill(cells_db, owner, 5)
    with cells_db.tenant(owner) as cur:
        cur.execute("CREATE VIEW things_v AS SELECT id, label FROM items")

    page, after = read_page(cells_db, owner, shared, None, 3)

    assert page.count('"id"') == 3
    assert after == "3"


def test_a_move_keeps_every_row_and_refuses_writes_during_the_switch(
    cells: Cells, cells_db: Database
) -> None:
    slug = _slug("mv")
    cells.sync([_app(slug)])
    _fill(cells_db, slug, 10_000)
    with cells_db.tenant(slug) as cur:
        cur.execute(
            "INSERT INTO files (key, sequencer, event_time) SELECT %s || '/f/' || g, 'x', now() FROM generate_series(1, 100) g",
            (slug,),
        )
    seen: dict[str, Any] = {}

    def during(phase: str) -> None:
        if phase != "restored":
            return
        cells_db.registry.invalidate()
        seen["read"] = _count(cells_db, slug)  # reads go on, from the source
        with pytest.raises(AppMovingError) as refused, cells_db.tenant(slug) as cur:
            cur.execute("INSERT INTO items VALUES (0, 'late')")
        response = translate(None, refused.value)
        assert response is not None
        seen["status"], seen["retry"] = response.status_code, response.headers.get("Retry-After")
        seen["code"] = response.body["error"]["code"]

    report = move_app(cells.urls, slug, "b", checkpoint=during)

    assert seen == {"read": 10_000, "status": 503, "retry": "5", "code": "app_moving"}
    assert (report.tables["items"], report.tables["files"], report.leftovers) == (10_000, 100, None)
    cells_db.registry.invalidate()
    assert cells_db.registry.get_active(slug).cell == "b"
    assert _count(cells_db, slug) == 10_000
    with cells_db.tenant(slug) as cur:  # writes again, in cell b
        cur.execute("INSERT INTO items VALUES (0, 'after')")
    assert schema_name(slug) not in _schemas(cells.home.operator_url)


def test_a_failed_move_leaves_the_app_in_its_source_cell_working(cells: Cells, cells_db: Database) -> None:
    slug = _slug("mf")
    cells.sync([_app(slug)])
    _fill(cells_db, slug, 50)

    def fail(phase: str) -> None:
        if phase == "restored":
            raise RuntimeError("injected after the restore")

    with pytest.raises(MoveError, match="stays in cell 'home' and works"):
        move_app(cells.urls, slug, "b", checkpoint=fail)

    cells_db.registry.invalidate()
    record = cells_db.registry.get_active(slug)
    assert (record.status, record.cell) == ("active", None)
    with cells_db.tenant(slug) as cur:
        cur.execute("INSERT INTO items VALUES (0, 'still here')")
    assert _count(cells_db, slug) == 51
    assert schema_name(slug) not in _schemas(cells.b_url)


def test_the_admins_figures_count_each_app_in_its_own_cell(cells_db: Database, pair: tuple[str, str]) -> None:
    from chalicelib.db.figures import app_figures

    home, other = pair
    with cells_db.tenant(other) as cur:
        cur.execute("INSERT INTO files (key, size, sequencer, event_time) VALUES (%s, 7, '0', now())",
                    (f"{other}/uploads/a.txt",))  # fmt: skip

    figures = app_figures(cells_db, [home], [other])

    assert (figures[home].files, figures[other].files, figures[other].bytes) == (0, 1, 7)
