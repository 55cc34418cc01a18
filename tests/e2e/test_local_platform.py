"""The README's run path, exactly as a new user takes it: a fresh copy of the checkout in a private
folder (mode 0700, like a home directory or a `mktemp -d` folder), no virtualenv yet, an
environment with no AWS variables at all; `make dev`, then the README's own commands (read out of
README.md and run by bash), then Ctrl-C: no process and no port may be left behind. A second
`make dev` on the same state finds the first run's users, files and events.

The only variables given are PATH, HOME, the machine's certificate settings for the package
registries (the first `make dev` installs from PyPI), and the documented port settings, so that a
developer's own `make dev` on the default ports is never disturbed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integreat.local.platform import PORTS
from integreat.local.postgres import SERVER_HOME, EmbeddedPostgres, free_port, port_in_use
from tests.conftest import ROOT

FIRST_START_SECONDS = 1200  # the first `make dev` creates .venv and installs from PyPI
READY_SECONDS = 120
DEMO_PASSWORD = "Demo-Passw0rd!2026"
#: What a machine's administrator sets so that pip and npm reach their registries (no AWS here).
KEPT = re.compile(r"(PIP_|SSL_CERT_|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$|NODE_EXTRA_CA_CERTS$)")

pytestmark = pytest.mark.timeout(FIRST_START_SECONDS + 900)


@pytest.fixture(scope="module")
def checkout() -> Iterator[Path]:
    """This work tree's files (what a clone of it holds) in a private folder; no .venv, no state."""
    parent = Path(tempfile.mkdtemp(prefix="integreat-clone-"))  # 0700
    clone = parent / "integreat"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    try:
        yield clone
    finally:
        cluster = EmbeddedPostgres(clone / ".integreat" / "postgres").data_dir.parent
        if SERVER_HOME in cluster.parents:  # as root, the cluster lives outside the private folder
            shutil.rmtree(cluster, ignore_errors=True)
        shutil.rmtree(parent, ignore_errors=True)


def environment() -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if KEPT.match(k)}
    return {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **kept} | {
        name: str(free_port()) for name in PORTS
    }


@contextlib.contextmanager
def make_dev(
    clone: Path, env: dict[str, str], ready_seconds: int = READY_SECONDS
) -> Iterator[dict[str, Any]]:
    """`make dev` in the clone until the block ends; then Ctrl-C, and nothing may be left behind."""
    log = clone.parent / "make-dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "dev"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield _wait_ready(clone / ".integreat", process, log, ready_seconds)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
        process.wait(timeout=90)
        output = log.read_text()
        busy = [name for name in PORTS if port_in_use(int(env[name]))]
        assert "stopped" in output, output[-3000:]
        assert not busy, f"ports still in use after Ctrl-C: {busy}"
        assert not EmbeddedPostgres(clone / ".integreat" / "postgres").running(), "Postgres was left running"
        assert _left_over(process.pid) == [], "processes of make dev outlived Ctrl-C"


def _left_over(group: int) -> list[str]:
    found = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(group)], capture_output=True, text=True)
    return [line.strip() for line in found.stdout.splitlines() if line.strip()]


def _wait_ready(state: Path, process: subprocess.Popen[bytes], log: Path, seconds: int) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make dev exited early:\n{log.read_text()[-5000:]}")
        summary = state / "platform.json"
        if summary.exists():
            info: dict[str, Any] = json.loads(summary.read_text())
            health = f"{info['api']}/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return info
        time.sleep(0.5)
    raise AssertionError(f"make dev was not ready in {seconds}s:\n{log.read_text()[-5000:]}")


def readme_commands(api: str) -> str:
    """The README's block of first commands, as a user pastes it (the API on this run's port)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The local platform (`make dev`)", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return block.replace("http://127.0.0.1:8000", api)


def integreat(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(clone / ".venv" / "bin" / "integreat"), *args],
        cwd=clone, env={**env, "COLUMNS": "250"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_readme_commands_then_restart_keeps_users_files_and_events(checkout: Path) -> None:
    env = environment()
    with make_dev(checkout, env, FIRST_START_SECONDS) as info:
        script = "set -euo pipefail\n" + readme_commands(info["api"])
        done = subprocess.run(
            ["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
        assert '"app":"church"' in done.stdout.replace(" ", ""), done.stdout  # curl /me
        assert "9/9 steps passed" in done.stdout, done.stdout
        assert "Traceback" not in done.stdout + done.stderr
    run = re.search(r"\(run ([0-9a-f]{6})\)", done.stdout)
    assert run, done.stdout
    alice = f"alice-{run[1]}@example.org"

    env = environment()  # fresh ports, same state
    with make_dev(checkout, env) as info:
        token = integreat(
            checkout, env, "token", "--app", "church", "--user", alice, "--password", DEMO_PASSWORD
        )
        assert token.returncode == 0, token.stdout + token.stderr
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        files = _get(info, "/apps/church/files?folder=uploads/", headers)["files"]
        assert any(f["key"].endswith("-notes.txt") for f in files), files
        events = _get(info, "/apps/church/inbox?limit=100", headers)["events"]
        assert any(e["event"]["id"] == f"demo-{run[1]}" for e in events)
        listed = integreat(checkout, env, "users", "list")
        assert alice in listed.stdout
        # An app backend's credentials survive the restart (the key is kept in the state).
        call = integreat(checkout, env, "service", "call", "--app", "events", "GET", "/service/me")
        assert call.returncode == 0, call.stdout + call.stderr
        assert '"principal":"service"' in call.stdout
        assert '"app":"events"' in call.stdout
        creds = json.loads(
            integreat(checkout, env, "service", "credentials", "--app", "church", "--json").stdout
        )
        assert creds["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert set(creds) >= {
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "Expiration",
        }
        refused = integreat(
            checkout, env, "service", "call", "--app", "church", "GET", "/service/apps/events/inbox"
        )
        assert refused.returncode == 1
        assert "403" in refused.stdout


def test_events_commands_reach_the_running_platform_without_aws_variables(checkout: Path) -> None:
    env = environment()
    with make_dev(checkout, env):
        published = integreat(
            checkout, env, "events", "publish", "--app", "events", "--type", "events.event.published",
            "--data", '{"title": "Fair"}', "--id", "cli-e2e-1",
        )  # fmt: skip
        assert published.returncode == 0, published.stdout + published.stderr
        assert "accepted" in published.stdout
        deadline, tail = time.monotonic() + 30, ""
        while "cli-e2e-1" not in tail and time.monotonic() < deadline:
            tail = integreat(checkout, env, "events", "tail", "--app", "church").stdout
            time.sleep(0.5)
        assert "cli-e2e-1" in tail
        dlq = integreat(checkout, env, "events", "dlq", "list")
        assert dlq.returncode == 0, dlq.stdout + dlq.stderr
        for result in (published, dlq):
            assert "Traceback" not in result.stdout + result.stderr


def _get(info: dict[str, Any], path: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(f"{info['api']}{path}", headers=headers)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_a_taken_port_is_named_with_its_setting(checkout: Path) -> None:
    import socket

    env = environment()
    with socket.create_server(("127.0.0.1", int(env["INTEGREAT_API_PORT"]))):
        result = subprocess.run(
            ["make", "dev"], cwd=checkout, env=env, capture_output=True, text=True, timeout=300
        )
    assert result.returncode != 0
    assert f"port {env['INTEGREAT_API_PORT']} on 127.0.0.1 is in use" in result.stderr + result.stdout
    assert "INTEGREAT_API_PORT" in result.stderr + result.stdout
