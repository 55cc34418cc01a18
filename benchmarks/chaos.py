"""Robustness of the local platform under faults (issue 14), from the chaos harness the e2e test
uses (integreat/local/chaos.py): a publish and upload load while its Postgres is SIGKILLed, its
workers die, the whole process is SIGKILLed and restarted, and it is stopped with Ctrl-C and
restarted. `robustness.chaos_lost` and `robustness.chaos_duplicated` count accepted events
missing from, or doubled in, the subscribers' inboxes (goal 0); `robustness.recovery_seconds` is
the slowest fault's time from the fault to the next request answered 202.

Run alone: `.venv/bin/python -m benchmarks.chaos`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from integreat.local import chaos

GOALS = {
    "robustness.chaos_lost": ("<=", 0),
    "robustness.chaos_duplicated": ("<=", 0),
    "robustness.chaos_server_errors": ("<=", 0),
    "robustness.recovery_seconds": ("<=", 15.0),
}


def run() -> dict[str, float | int | bool]:
    workdir = Path(tempfile.mkdtemp(prefix="integreat-bench-chaos-"))
    workdir.chmod(0o755)
    try:
        report = chaos.run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures: dict[str, float | int | bool] = {
        "robustness.chaos_accepted": report.accepted,
        "robustness.chaos_lost": report.lost + report.uploads_missing,
        "robustness.chaos_duplicated": report.duplicated,
        "robustness.chaos_server_errors": report.server_errors,
        "robustness.recovery_seconds": max(report.recovery_seconds.values()),
    }
    figures |= {f"robustness.recovery_seconds.{k}": v for k, v in report.recovery_seconds.items()}
    return figures


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["chaos"]))
