"""Issue 14: `running()` is true only while the postmaster of `postmaster.pid` lives (a stale
file is not a running server), and a server left running by a crashed run is reused."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from integreat.local.postgres import EmbeddedPostgres, free_port


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    folder = tmp_path_factory.mktemp("pg")
    folder.chmod(0o755)
    made = EmbeddedPostgres(folder / "postgres", port=free_port(), durable=False)
    try:
        yield made
    finally:
        made.stop()


def _pid_file(server: EmbeddedPostgres, pid: int) -> None:
    server.data_dir.mkdir(parents=True, exist_ok=True)
    (server.data_dir / "postmaster.pid").write_text(f"{pid}\n{server.data_dir}\n0\n{server.port}\n")


def test_a_stale_pid_file_is_not_a_running_server(server: EmbeddedPostgres) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    _pid_file(server, gone.pid)
    assert not server.running()


def test_a_live_process_that_is_not_postgres_is_not_a_running_server(server: EmbeddedPostgres) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        _pid_file(server, other.pid)
        assert not server.running()
    finally:
        other.kill()
        other.wait()


def test_a_running_server_is_reused_and_a_killed_one_starts_again(server: EmbeddedPostgres) -> None:
    url = server.start()
    assert server.running()
    assert server.accepting()
    again = EmbeddedPostgres(server.state_dir, port=server.port, durable=False)
    assert again.start() == url  # a crashed run's server: reused, not "port in use"
    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running()  # postmaster.pid is still there, and stale
    assert (server.data_dir / "postmaster.pid").exists()
    for _ in range(40):  # its backends may hold the shared memory for a moment
        try:
            server.start()
            break
        except Exception:
            time.sleep(0.25)
    assert server.accepting()
