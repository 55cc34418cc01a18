"""Cold start: what `import app` costs over the imports no Lambda of ours can avoid.

Every function Chalice deploys imports our code in a fresh interpreter. The floor is
chalice.app + psycopg2 + Powertools Logger (the REST and trigger paths all need them). Each is
timed *inside* a fresh interpreter (perf_counter around the import, so interpreter start-up,
which both pay alike, does not dilute the ratio), alternating, many times; medians compared.

`cold_start.pretoken_imports_boto3`: a fresh interpreter imports the pre-token handler's module
(what Lambda imports for that function), serves warm calls for a member from an in-memory
registry, then reports whether boto3 or pydantic were ever imported (goal: neither).

Run alone: `.venv/bin/python -m benchmarks.cold_start`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 40

FLOOR = "import chalice.app, psycopg2; from aws_lambda_powertools import Logger"
APP = "import app"
TIMED = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"

# The pre-token path in a fresh interpreter, with a registry served from memory (no database,
# no network): the warm path must not need either, and must not import boto3 or pydantic.
PRETOKEN = """
import json, sys
from chalicelib.identity import triggers
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.apps import Database
from chalicelib.tenancy.registry import AppRecord, Registry

church = AppRecord("church", "active", "Church", enrollment="open", roles=("member", "admin"),
                   iam_role_arn="arn:aws:iam::123456789012:role/x", clients=("3n4b5urk1ft4fl3mg5e62d9ado",))
database = Database("postgresql://nobody@127.0.0.1:1/none", registry=Registry(lambda: {"church": church}))
use_runtime(Runtime(Settings(stage="test", user_pool_id="eu-west-1_AbCdEf123"), database))
event = json.load(open("tests/events/cognito_pre_token_v2_authentication.json"))
for _ in range(3):
    triggers.pre_token_generation(json.loads(json.dumps(event)), None)
print(json.dumps({"boto3": "boto3" in sys.modules, "pydantic": "pydantic" in sys.modules}))
"""

GOALS = {"cold_start.import_ratio": ("<=", 1.25)}


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter (bytecode cached, as in Lambda's package); its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def run() -> dict[str, float | int | bool]:
    _python(APP)  # compile once so both sides read cached bytecode
    floor, app = [], []
    for _ in range(RUNS):
        floor.append(float(_python(TIMED.format(stmt=FLOOR))))
        app.append(float(_python(TIMED.format(stmt=APP))))
    pretoken = json.loads(_python(PRETOKEN))
    floor_ms, app_ms = statistics.median(floor) * 1000, statistics.median(app) * 1000
    return {
        "cold_start.import_ratio": round(app_ms / floor_ms, 3),
        "cold_start.app_import_ms": round(app_ms, 1),
        "cold_start.floor_import_ms": round(floor_ms, 1),
        "cold_start.pretoken_imports_boto3": bool(pretoken["boto3"]),
        "cold_start.pretoken_imports_pydantic": bool(pretoken["pydantic"]),
    }


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["cold_start"]))
