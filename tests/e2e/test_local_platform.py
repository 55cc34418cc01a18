"""The local platform end to end: `integreat dev` in a subprocess on free ports, `integreat demo`
against it, then Ctrl-C; no process and no port may be left behind."""

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
from pathlib import Path
from typing import Any

import pytest

from integreat.local.platform import PORTS
from integreat.local.postgres import free_port, port_in_use
from tests.conftest import ROOT

READY_SECONDS = 180


@pytest.fixture
def local_platform() -> Iterator[dict[str, Any]]:
    state = Path(tempfile.mkdtemp(prefix="integreat-e2e-"))
    state.chmod(0o755)  # as root, the embedded Postgres runs as its own user and must reach it
    ports = {name: free_port() for name in PORTS}
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("INTEGREAT_DATABASE_URL", "DATABASE_URL", "INTEGREAT_AWS_ENDPOINT_URL")
        },
        **{name: str(port) for name, port in ports.items()},
        "INTEGREAT_STATE_DIR": str(state),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "integreat", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        info = _wait_ready(state, process)
        yield {"env": env, "info": info, "ports": ports, "state": state}
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
        busy = [name for name, port in ports.items() if port_in_use(port)]
        postmaster = state / "postgres" / "pgdata" / "postmaster.pid"
        shutil.rmtree(state, ignore_errors=True)
        assert process.returncode == 0, output[-3000:]
        assert not busy, f"ports still in use after Ctrl-C: {busy}"
        assert not postmaster.exists(), "Postgres was left running"


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
            try:
                with urllib.request.urlopen(f"{info['api']}/health", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return info
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError(f"the local platform was not ready in {READY_SECONDS}s")


def test_demo_scenario_passes(local_platform: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "integreat", "demo"],
        cwd=ROOT,
        env=local_platform["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 steps passed" in result.stdout
    status = subprocess.run(
        [sys.executable, "-m", "integreat", "status"],
        cwd=ROOT,
        env=local_platform["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
