"""The local platform end to end: `integreat dev` in a subprocess on free ports, `integreat demo`
against it, Ctrl-C; no process and no port may be left behind. Then a second start on the same
state finds the first run's users, files and events."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integreat.local.platform import PORTS
from integreat.local.postgres import free_port, port_in_use
from tests.cli import run_integreat
from tests.conftest import ROOT

READY_SECONDS = 180
DEMO_PASSWORD = "Demo-Passw0rd!2026"


def environment(state: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in PORTS}
    skip = ("INTEGREAT_DATABASE_URL", "DATABASE_URL", "INTEGREAT_AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN")
    return {
        **{k: v for k, v in os.environ.items() if k not in skip},
        **ports,
        "INTEGREAT_STATE_DIR": str(state),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


@contextlib.contextmanager
def running(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """`integreat dev` until the block ends; then Ctrl-C, and nothing may be left behind."""
    state = Path(env["INTEGREAT_STATE_DIR"])
    process = subprocess.Popen(
        [sys.executable, "-m", "integreat", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield _wait_ready(state, process)
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=90)[0]
        busy = [name for name in PORTS if port_in_use(int(env[name]))]
        assert process.returncode == 0, output[-3000:]
        assert not busy, f"ports still in use after Ctrl-C: {busy}"
        assert not (state / "postgres" / "pgdata" / "postmaster.pid").exists(), "Postgres was left running"


def _wait_ready(state: Path, process: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"integreat dev exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        summary = state / "platform.json"
        if summary.exists():
            info: dict[str, Any] = json.loads(summary.read_text())
            health = f"{info['api']}/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return info
        time.sleep(0.5)
    raise AssertionError(f"the local platform was not ready in {READY_SECONDS}s")


def integreat(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_integreat(*args, env=env)


@pytest.fixture
def state() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="integreat-e2e-"))
    folder.chmod(0o755)  # as root, the embedded Postgres runs as its own user and must reach it
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_demo_then_restart_keeps_users_files_and_events(state: Path) -> None:
    env = environment(state)
    with running(env):
        demo = integreat(env, "demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "9/9 steps passed" in demo.stdout
        assert integreat(env, "status").returncode == 0
    run = re.search(r"\(run ([0-9a-f]{6})\)", demo.stdout)
    assert run, demo.stdout
    alice = f"alice-{run[1]}@example.org"

    env = environment(state)  # fresh ports, same state
    with running(env) as info:
        token = integreat(env, "token", "--app", "church", "--user", alice, "--password", DEMO_PASSWORD)
        assert token.returncode == 0, token.stdout + token.stderr
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        files = _get(info, "/apps/church/files?folder=uploads/", headers)["files"]
        assert any(f["key"].endswith("-notes.txt") for f in files), files
        events = _get(info, "/apps/church/inbox?limit=100", headers)["events"]
        assert any(e["event"]["id"] == f"demo-{run[1]}" for e in events)
        env["COLUMNS"] = "250"
        listed = integreat(env, "users", "list")
        assert alice in listed.stdout
        # An app backend's credentials survive the restart (the key is kept in the state).
        call = integreat(env, "service", "call", "--app", "events", "GET", "/service/me")
        assert call.returncode == 0, call.stdout + call.stderr
        assert '"principal":"service"' in call.stdout
        assert '"app":"events"' in call.stdout
        creds = json.loads(integreat(env, "service", "credentials", "--app", "church", "--json").stdout)
        assert creds["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert set(creds) >= {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "Expiration"}
        refused = integreat(env, "service", "call", "--app", "church", "GET", "/service/apps/events/inbox")
        assert refused.returncode == 1
        assert "403" in refused.stdout


def _get(info: dict[str, Any], path: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(f"{info['api']}{path}", headers=headers)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_a_taken_port_is_named_with_its_setting(state: Path) -> None:
    import socket

    env = environment(state)
    with socket.create_server(("127.0.0.1", int(env["INTEGREAT_API_PORT"]))):
        result = integreat(env, "dev")
    assert result.returncode == 1
    assert f"port {env['INTEGREAT_API_PORT']} on 127.0.0.1 is in use" in result.stderr + result.stdout
    assert "INTEGREAT_API_PORT" in result.stderr + result.stdout
