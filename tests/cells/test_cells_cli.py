"""The operator's commands over two cells, run as a user runs them (a subprocess, the manifest's
`[cells]`, each cell's URL in its variable): `apps sync`, `db url`, `apps remove`, `apps restore`
find an app in the cell the registry names, never assuming the home cell."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import psycopg2
import pytest

from chalicelib.tenancy.slugs import login_role, schema_name
from tests.cells.conftest import Cells
from tests.cli import ROOT, run_integreat

#: Appended to the repository's manifest (its apps and integrations stay declared: a sync of a
#: manifest without them would take the integrations out of the shared registry).
CELLS_AND_APPS = """
[cells.a]
home = true
[cells.b]
url_env = "INTEGREAT_CELL_B_URL"

[apps.{home}]
name = "Stays home"

[apps.{other}]
name = "Lives in b"
cell = "b"
"""


def _schemas(url: str) -> set[str]:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'app\\_%'")
        found = {str(row[0]) for row in cur.fetchall()}
    conn.close()
    return found


def _registry(cells: Cells, slug: str) -> tuple[str, str | None] | None:
    conn = cells.home.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT status, cell FROM integreat.apps WHERE slug = %s", (slug,))
        row = cur.fetchone()
    conn.close()
    return None if row is None else (str(row[0]), row[1])


class Operator:
    """`integreat` with the manifest of two apps, one pinned to cell b, and both cells' URLs."""

    def __init__(self, cells: Cells, manifest: Path) -> None:
        self.cells, self.manifest = cells, manifest
        self.home, self.other = f"ch{secrets.token_hex(3)}", f"cb{secrets.token_hex(3)}"
        repository = (ROOT / "integreat.toml").read_text()
        manifest.write_text(repository + CELLS_AND_APPS.format(home=self.home, other=self.other))

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        settings = {
            "INTEGREAT_DATABASE_URL": self.cells.home.operator_url,
            "INTEGREAT_CELL_B_URL": self.cells.b_url,
            "INTEGREAT_MANIFEST": str(self.manifest),
        }
        return run_integreat(*args, **{**settings, **env})


@pytest.fixture
def operator(cells: Cells, tmp_path: Path) -> Operator:
    run = Operator(cells, tmp_path / "integreat.toml")
    synced = run("apps", "sync")
    assert synced.returncode == 0, synced.stderr
    return run


def test_sync_places_the_pinned_app_in_its_cell_and_a_second_sync_changes_nothing(
    operator: Operator, cells: Cells
) -> None:
    assert _registry(cells, operator.home) == ("active", None)
    assert _registry(cells, operator.other) == ("active", "b")
    assert schema_name(operator.other) in _schemas(cells.b_url) - _schemas(cells.home.operator_url)

    again = operator("apps", "sync")

    assert again.returncode == 0, again.stderr
    assert "apps changed: database 0" in again.stdout, again.stdout


def test_db_url_of_an_app_of_cell_b_logs_in_to_cell_b(operator: Operator, cells: Cells) -> None:
    result = operator("db", "url", operator.other)

    assert result.returncode == 0, result.stderr
    conn = psycopg2.connect(result.stdout.strip())
    with conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_user")
        assert cur.fetchone() == ("integreat_cell_b", login_role(operator.other))
        cur.execute("INSERT INTO settings (key, value) VALUES ('kept', '{\"n\": 2}')")  # its own schema
    conn.commit()
    conn.close()


def test_remove_and_restore_an_app_of_cell_b_work_in_cell_b(
    operator: Operator, cells: Cells, tmp_path: Path
) -> None:
    slug, export = operator.other, tmp_path / "export"
    conn = psycopg2.connect(operator("db", "url", slug).stdout.strip())
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO settings (key, value) VALUES ('kept', '{\"n\": 3}')")
    conn.close()

    removed = operator("apps", "remove", slug, "--export", str(export), "--yes")

    assert removed.returncode == 0, removed.stderr
    summary = json.loads((export / f"{schema_name(slug)}.json").read_text())
    assert summary["tables"]["settings"] == 1
    assert schema_name(slug) not in _schemas(cells.b_url)
    assert _registry(cells, slug) == ("removed", "b")
    assert operator("db", "url", slug).returncode == 1  # its credentials went with it

    restored = operator("apps", "restore", slug, "--from", str(export))

    assert restored.returncode == 0, restored.stderr
    assert f"restored {slug} in cell b" in restored.stdout
    assert _registry(cells, slug) == ("active", "b")
    assert schema_name(slug) not in _schemas(cells.home.operator_url)
    conn = psycopg2.connect(operator("db", "url", slug).stdout.strip())
    with conn.cursor() as cur:
        cur.execute("SELECT current_database(), value FROM settings WHERE key = 'kept'")
        assert cur.fetchone() == ("integreat_cell_b", {"n": 3})
    conn.close()


def test_without_the_cells_url_the_commands_say_which_variable_and_change_nothing(
    operator: Operator, cells: Cells
) -> None:
    for command in (("apps", "remove", operator.other, "--force", "--yes"), ("db", "url", operator.other)):
        result = operator(*command, INTEGREAT_CELL_B_URL="")

        assert result.returncode in (1, 2), result.stdout
        assert "INTEGREAT_CELL_B_URL is not set" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert _registry(cells, operator.other) == ("active", "b")
    assert schema_name(operator.other) in _schemas(cells.b_url)


def test_a_home_app_is_removed_from_the_home_cell_as_before(operator: Operator, cells: Cells) -> None:
    removed = operator("apps", "remove", operator.home, "--force", "--yes")

    assert removed.returncode == 0, removed.stderr
    assert _registry(cells, operator.home) == ("removed", None)
    assert schema_name(operator.home) not in _schemas(cells.home.operator_url)
