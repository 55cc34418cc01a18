"""How long `make dev` takes to be ready: from the start of `integreat dev` until the API answers
/health, with no state (`local.cold_ready_seconds`) and then again on that state
(`local.ready_seconds`, goal <= 15). Each run stops with Ctrl-C, as a person would.

Run alone: `.venv/bin/python -m benchmarks.local_platform`.
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
from pathlib import Path

from integreat.local.platform import PORTS
from integreat.local.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"local.ready_seconds": ("<=", 15.0)}


def _ready_seconds(state: Path) -> float:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("INTEGREAT_DATABASE_URL", "DATABASE_URL", "INTEGREAT_AWS_ENDPOINT_URL")
    }
    env |= {name: str(free_port()) for name in PORTS} | {"INTEGREAT_STATE_DIR": str(state)}
    env |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "eu-west-1"}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "integreat", "dev"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while process.poll() is None:
            summary = state / "platform.json"
            if summary.exists():
                api = json.loads(summary.read_text())["api"]
                try:
                    with urllib.request.urlopen(f"{api}/health", timeout=1) as response:  # noqa: S310 (loopback)
                        if response.status == 200:
                            return time.perf_counter() - began
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("integreat dev exited before it was ready")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)


def run() -> dict[str, float | int | bool]:
    state = Path(tempfile.mkdtemp(prefix="integreat-bench-local-"))
    state.chmod(0o755)
    try:
        cold = _ready_seconds(state)
        warm = _ready_seconds(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return {"local.cold_ready_seconds": round(cold, 2), "local.ready_seconds": round(warm, 2)}


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["local_platform"]))
