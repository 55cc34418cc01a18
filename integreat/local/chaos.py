"""The chaos harness (issue 14), shared by tests/e2e/test_chaos.py and benchmarks/chaos.py.

It runs `integreat dev` as a user does (a subprocess of the checkout's console script, free
ports, a private state directory, an environment of PATH, HOME and those settings only, plus
the fault-injection switch), puts a concurrent publish and upload load on it, and meanwhile:
(a) SIGKILLs the embedded Postgres, (d) kills the worker threads, (b) SIGKILLs the whole
platform and starts it again, (c) stops it with SIGINT and starts it again. It then waits for
the queues to drain and counts what every subscriber's inbox and the file index hold.
Everything is bounded in time and count and stays on 127.0.0.1; `Platform.close()` leaves no
process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integreat.local.chaos_load import Load
from integreat.local.platform import FAULTS_ENV, PORTS
from integreat.local.postgres import EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Chaos-Passw0rd!2026"  # noqa: S105 (throwaway users of a throwaway platform)
SUBSCRIBERS = ("church", "students")  # both subscribe to events.event.published (integreat.toml)
READY_SECONDS = 90.0
DRAIN_SECONDS = 90.0


class Platform:
    """`integreat dev` on `state`, restartable; `close()` stops it whatever state it is in."""

    def __init__(self, state: Path, log: Path) -> None:
        self.state, self.log = state, log
        self.env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
                    "INTEGREAT_STATE_DIR": str(state), FAULTS_ENV: "1"} | {n: str(free_port()) for n in PORTS}  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> float:
        """Start and wait until /health answers; returns the seconds it took."""
        began = time.monotonic()
        with self.log.open("a") as out:
            self.process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "integreat"), "dev"], cwd=ROOT,
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip
        self.info = self._wait_ready(began + READY_SECONDS)
        return time.monotonic() - began

    def _wait_ready(self, deadline: float) -> dict[str, Any]:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"integreat dev exited:\n{self.log.read_text()[-4000:]}")
            with contextlib.suppress(OSError, ValueError, KeyError):
                info: dict[str, Any] = json.loads((self.state / "platform.json").read_text())
                if info["pid"] == self.process.pid and _healthy(info["api"]):
                    return info
            time.sleep(0.2)
        raise RuntimeError(
            f"integreat dev was not ready in {READY_SECONDS} s:\n{self.log.read_text()[-4000:]}"
        )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the platform process alone (its Postgres runs on, as after a real crash)."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=30)

    def interrupt(self) -> None:
        """Ctrl-C: an orderly stop."""
        self.signal(signal.SIGINT)
        assert self.process is not None
        self.process.wait(timeout=90)

    def postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.state / "postgres")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.interrupt()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        server = self.postgres()
        if server.running():  # left by a SIGKILL that no later start adopted
            server.stop()


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Report:
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    uploads: int = 0
    uploads_missing: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    recovery_seconds: dict[str, float] = field(default_factory=dict)
    restarts_logged: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)


def users(info: dict[str, Any], run: str) -> dict[str, str]:
    """A member of events (the publisher) and of church (the uploader), made as the demo makes
    them; returns their access tokens by app."""
    from integreat.context import local_client

    cognito = local_client("cognito-idp", info, info["cognito_endpoint"])
    tokens = {}
    for app in ("events", "church"):
        client, email = info["apps"][app][0], f"chaos-{app}-{run}@example.org"
        cognito.sign_up(ClientId=client, Username=email, Password=PASSWORD,
                        UserAttributes=[{"Name": "email", "Value": email}])  # fmt: skip
        cognito.confirm_sign_up(ClientId=client, Username=email, ConfirmationCode="000000")
        result = cognito.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})  # fmt: skip
        tokens[app] = result["AuthenticationResult"]["AccessToken"]
    return tokens


def faults(platform: Platform) -> list[tuple[str, Callable[[], None]]]:
    def until_logged(marker: str, cause: Callable[[], None], seconds: float = 30) -> None:
        """`cause` the fault, then wait for the platform to log `marker` once more: the next
        fault must not land while this one is still being repaired (a publish is answered 202
        before Postgres is back, so the first 202 alone does not say it is)."""
        seen = platform.log.read_text().count(marker)
        cause()
        deadline = time.monotonic() + seconds
        while platform.log.read_text().count(marker) == seen and time.monotonic() < deadline:
            time.sleep(0.1)

    def kill_postgres() -> None:
        pid = platform.postgres().pid()
        assert pid is not None, "no postmaster.pid"
        until_logged("postgres: died, restarted", lambda: os.kill(pid, signal.SIGKILL))

    def kill_platform() -> None:
        platform.kill()
        platform.start()

    def stop_platform() -> None:
        platform.interrupt()
        platform.start()

    def crash_workers() -> None:
        until_logged("worker cross-app-events: died, restarted", lambda: platform.signal(signal.SIGUSR1), 20)

    return [("postgres_sigkill", kill_postgres), ("worker_crash", crash_workers),
            ("platform_sigkill", kill_platform), ("platform_sigint", stop_platform)]  # fmt: skip


def run(
    workdir: Path, *, events: int = 2000, settle: float = 2.5, say: Callable[[str], None] = print
) -> Report:
    """The whole scenario in `workdir` (a private, empty folder); stops everything it started."""
    state = workdir / "state"
    state.mkdir(mode=0o755)
    platform = Platform(state, workdir / "integreat-dev.log")
    try:
        say(f"platform ready in {platform.start():.1f} s")
        run_id = secrets.token_hex(3)
        load = Load(platform.info["api"], users(platform.info, run_id), run_id, max_events=events)
        report = Report()
        load.start()
        try:
            time.sleep(settle + 1.0)  # the load is under way, and the new users are in a snapshot
            for name, fault in faults(platform):
                report.recovery_seconds[name] = _recovery(load, fault, say, name)
                time.sleep(settle)
        finally:
            load.stop()
        return _account(platform, load, report, run_id)
    finally:
        platform.close()


def _recovery(load: Load, fault: Callable[[], None], say: Callable[[str], None], name: str) -> float:
    """Seconds from the fault to the first request answered 202 once the fault step returned (a
    restart step returns once the platform is up again; the worker step once it was replaced)."""
    moment = time.monotonic()
    fault()
    returned, deadline = time.monotonic(), moment + READY_SECONDS
    while (first := load.score.first_success_after(returned)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = round((first or deadline) - moment, 2)
    say(f"{name}: first 202 after {seconds} s")
    return seconds


def _account(platform: Platform, load: Load, report: Report, run_id: str) -> Report:
    score = load.score
    report.accepted, report.uploads, report.statuses = (
        len(score.accepted),
        len(score.uploaded),
        dict(score.statuses),
    )
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        inboxes, indexed = _delivered(platform, run_id), _indexed(platform, run_id)
        missing = sum(len(score.accepted - set(inboxes[app])) for app in SUBSCRIBERS)
        unindexed = len(score.uploaded - indexed)
        if (missing == 0 and unindexed == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    report.lost, report.uploads_missing = missing, unindexed
    report.duplicated = sum(n - 1 for app in SUBSCRIBERS for n in inboxes[app].values() if n > 1)
    report.restarts_logged = [line for line in platform.log.read_text().splitlines() if ": died" in line]
    return report


def _query(platform: Platform, sql: str, run_id: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(platform.postgres().url("integreat"), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, (f"{run_id}-%",))
            return list(cur.fetchall())
    finally:
        conn.close()


def _delivered(platform: Platform, run_id: str) -> dict[str, dict[str, int]]:
    """Per subscriber: event id -> how many inbox rows hold it."""
    return {app: {str(event): int(n) for event, n in _query(
        platform, f"SELECT event_id, count(*) FROM app_{app}.inbox WHERE event_id LIKE %s GROUP BY event_id", run_id
    )} for app in SUBSCRIBERS}  # fmt: skip


def _indexed(platform: Platform, run_id: str) -> set[str]:
    """Upload keys the index holds (every upload of the load is valid: none is quarantined)."""
    rows = _query(platform, "SELECT key FROM app_church.files WHERE NOT deleted AND key LIKE %s",
                  f"church/uploads/%{run_id}")  # fmt: skip
    return {str(row[0]) for row in rows}
