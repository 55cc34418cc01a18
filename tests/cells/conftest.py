"""Cells (issue 16): a second Postgres cluster, cell `b`, beside the session's (the home cell).

The home cell is the session's test database (`operator_url`, where the demo apps live), so the
platform roles keep the one password every other test knows; cell `b` is a cluster of its own, as
in production a cell is a Neon project or branch with roles of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import pytest

from chalicelib.apps import Database
from chalicelib.cells.model import CellSpec, CellsSpec
from chalicelib.db.pool import connector
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import SyncReport, sync_apps
from chalicelib.tenancy.manifest import AppSpec
from integreat.context import login_url, with_database
from integreat.local.postgres import throwaway_cluster
from tests.conftest import Platform

CELL_DATABASE = "integreat_cell_b"
#: The cells of these tests: the session's database is the home, `b` the second cluster.
CELLS = CellsSpec(
    (CellSpec("a", 200, "INTEGREAT_DATABASE_URL", home=True), CellSpec("b", 200, "INTEGREAT_CELL_B_URL"))
)


@pytest.fixture(scope="session")
def cell_b_server() -> Iterator[str]:
    with throwaway_cluster("integreat-test-pg-cell-b-") as url:
        yield url


@pytest.fixture(scope="session")
def cell_b_url(cell_b_server: str) -> str:
    """Cell b's database, as its operator."""
    admin = psycopg2.connect(cell_b_server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {CELL_DATABASE}")
    admin.close()
    return with_database(cell_b_server, CELL_DATABASE)


@dataclass(frozen=True)
class Cells:
    home: Platform
    b_url: str  # cell b's operator URL

    @property
    def urls(self) -> dict[str | None, str]:
        return {None: self.home.operator_url, "b": self.b_url}

    @property
    def b_runtime_url(self) -> str:
        return login_url(self.b_url, RUNTIME_ROLE)

    def sync(self, apps: list[AppSpec]) -> SyncReport:
        report = sync_apps(
            connector(self.home.operator_url),
            apps,
            workers=2,
            cells=CELLS,
            cell_connects={"b": connector(self.b_url)},
        )
        assert report.ok, report.failed
        return report

    def database(self) -> Database:
        """The runtime's Database over both cells (pools per cell, cell b's opened on first use)."""
        return Database(self.home.runtime_url, pool_size=2, cell_url=lambda name: self.b_runtime_url)

    def login_url(self, slug: str, cell: str | None) -> str:
        from chalicelib.tenancy.slugs import login_role

        return login_url(self.urls[cell], login_role(slug))


@pytest.fixture(scope="module")
def cells(platform: Platform, cell_b_url: str) -> Iterator[Cells]:
    """Both cells; afterwards the apps placed in cell `b` leave the shared registry (as removed),
    since the tests after these know one cell only (the repository's manifest declares none)."""
    yield Cells(platform, cell_b_url)
    conn = platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE integreat.apps SET status = 'removed' WHERE cell IS NOT NULL")
    conn.close()


@pytest.fixture
def cells_db(cells: Cells) -> Iterator[Database]:
    db = cells.database()
    yield db
    db.close()
