"""Run the `integreat` command as a user runs it: a subprocess, with the environment given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_integreat(
    *args: str, env: dict[str, str] | None = None, timeout: int = 300, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`integreat <args>` with `env` (default: this process's) plus `settings` as variables."""
    full = {**(os.environ if env is None else env), "COLUMNS": "250", **settings}
    return subprocess.run(
        [sys.executable, "-m", "integreat", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
