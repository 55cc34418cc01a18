"""Issue 14: the local platform recovers by itself, and loses nothing it accepted, while a
publish and upload load runs and it is hit by (a) a SIGKILL of its Postgres, (d) the death of
its worker threads, (b) a SIGKILL of the whole process and a fresh start, (c) a Ctrl-C stop and
a fresh start. The harness (integreat/local/chaos.py) is the one benchmarks/chaos.py measures.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from integreat.local import chaos

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def report() -> Iterator[chaos.Report]:
    workdir = Path(tempfile.mkdtemp(prefix="integreat-chaos-"))
    workdir.chmod(0o755)  # as root, the Postgres user must reach the state directory
    try:
        yield chaos.run(workdir, say=lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_every_accepted_event_reaches_each_subscriber_exactly_once(report: chaos.Report) -> None:
    assert report.accepted >= 200, report
    assert report.lost == 0, report
    assert report.duplicated == 0, report


def test_every_upload_is_indexed(report: chaos.Report) -> None:
    assert report.uploads > 0, report
    assert report.uploads_missing == 0, report


def test_no_request_is_answered_500(report: chaos.Report) -> None:
    assert report.server_errors == 0, report.statuses


def test_it_recovers_from_every_fault_without_a_human(report: chaos.Report) -> None:
    assert set(report.recovery_seconds) == {
        "postgres_sigkill",
        "worker_crash",
        "platform_sigkill",
        "platform_sigint",
    }
    assert all(seconds < 30 for seconds in report.recovery_seconds.values()), report.recovery_seconds
    restarted = " ".join(report.restarts_logged)
    assert "postgres: died, restarted in" in restarted, report.restarts_logged
    assert "worker cross-app-events: died, restarted in" in restarted, report.restarts_logged
