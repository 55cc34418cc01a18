"""One local platform for the client tier: `integreat dev` started the way a user starts it.

The virtualenv's `integreat dev`, from the project root, in a subprocess on free ports with a
temporary state directory and an empty HOME, and an environment of only PATH, HOME and the
port/state variables: no AWS variable at all, as on a new machine. Ready when `<state>/platform.json`
exists and `/health` answers; at the end Ctrl-C (SIGINT), exit 0 and every port free again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from integreat.local.platform import PORTS
from integreat.local.postgres import free_port, port_in_use
from tests.clients.harness import Platform, User, install_node_modules
from tests.conftest import ROOT

READY_SECONDS = 180
STOP_SECONDS = 90


def _environment(state: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "INTEGREAT_STATE_DIR": str(state),
        **{name: str(free_port()) for name in PORTS},
    }


def _healthy(summary: Path) -> dict[str, Any] | None:
    """The platform's summary once it is written and its API answers `/health`, else None."""
    try:
        info: dict[str, Any] = json.loads(summary.read_text())
        with urllib.request.urlopen(f"{info['api']}/health", timeout=2) as response:  # noqa: S310 (loopback)
            return info if response.status == 200 else None
    except (OSError, ValueError):
        return None


def _wait_ready(state: Path, process: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"integreat dev exited early ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        info = _healthy(state / "platform.json")
        if info is not None:
            return info
        time.sleep(0.3)
    raise AssertionError(f"the local platform was not ready in {READY_SECONDS}s:\n{log.read_text()[-4000:]}")


@contextmanager
def started(extra_env: dict[str, str] | None = None) -> Iterator[Platform]:
    """`integreat dev` as a user starts it (plus `extra_env`), stopped with Ctrl-C at the end."""
    state = Path(tempfile.mkdtemp(prefix="integreat-clients-"))
    state.chmod(0o755)  # as root, the embedded Postgres runs as its own user and must reach it
    home = Path(tempfile.mkdtemp(prefix="integreat-clients-home-"))  # no ~/.aws, no ~/.npmrc
    env = _environment(state, home) | (extra_env or {})
    bin_dir = Path(sys.executable).parent  # the virtualenv's bin (.venv/bin)
    log = home / "integreat-dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(bin_dir / "integreat"), "dev"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Platform(_wait_ready(state, process, log), env, bin_dir, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_SECONDS)
        finally:
            if process.poll() is None:  # only if Ctrl-C did not stop it: the test fails below
                process.kill()
                process.wait()
        output = log.read_text()
        busy = [f"{name}={env[name]}" for name in PORTS if port_in_use(int(env[name]))]
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
        assert process.returncode == 0, f"integreat dev exited {process.returncode}:\n{output[-4000:]}"
        assert not busy, f"ports still in use after Ctrl-C: {busy}"


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    with started() as running:
        yield running


@pytest.fixture(scope="session")
def node_clients() -> None:
    """Node.js with tests/clients/node_modules installed (`npm ci`, skipped when the lockfile's
    hash matches the stamp); skips or fails (INTEGREAT_REQUIRE_NODE) without node/npm."""
    install_node_modules(dict(os.environ))


@pytest.fixture(scope="session")
def church_user(platform: Platform) -> User:
    return platform.new_user("church", "church")


@pytest.fixture(scope="session")
def events_user(platform: Platform) -> User:
    return platform.new_user("events", "events")
