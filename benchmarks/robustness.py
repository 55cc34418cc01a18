"""Robustness under hostile input (issue 14): the fuzz tier's request count and its 5xx answers.

Runs the same harness as `make test` does, tests/security/test_fuzz.py (hypothesis,
derandomized: the same requests every run), in its own pytest process against the test
platform (embedded Postgres, moto), and reads the counts it writes to benchmarks/.scratch/fuzz.json.
Figures: `robustness.fuzz_requests` (goal >= 5000), `robustness.fuzz_5xx` (goal <= 0),
`robustness.fuzz_seconds` (the fuzzing itself, not the platform's start; informational).

Run alone: `.venv/bin/python -m benchmarks robustness`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benchmarks" / ".scratch" / "fuzz.json"
TEST = "tests/security/test_fuzz.py"

GOALS = {
    "robustness.fuzz_requests": (">=", 5000),
    "robustness.fuzz_5xx": ("<=", 0),
    "robustness.fuzz_seconds": ("<=", 60),
}
INFORMATIONAL = {"robustness.fuzz_seconds"}


def run() -> dict[str, float | int]:
    REPORT.unlink(missing_ok=True)  # never read a previous run's counts
    # The test fails on any 5xx; the counts are written first, so a failing run is still measured.
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST], cwd=ROOT, check=False
    )
    report = json.loads(REPORT.read_text())
    return {
        "robustness.fuzz_requests": int(report["requests"]),
        "robustness.fuzz_5xx": int(report["server_errors"]),
        "robustness.fuzz_seconds": float(report["seconds"]),
    }
