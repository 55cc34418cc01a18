"""Pre-token-generation: warm in-process latency of the real handler (issue: identity).

Cognito gives the trigger 5 seconds in all; the warm path must do no network call at all
(registry in memory, no Cognito call for a member), so its cost is Python only. On one fresh
database the demo apps are provisioned and church gets a client id in the registry (what the
identity provisioner records; no Cognito is needed on this path). The handler is then called
with the recorded V2 event (tests/events/, the AWS documentation's shape) for a member of two
apps, as `chalicelib.identity.triggers.pre_token_generation(event, None)`, the function Lambda
runs. Figures: `pretoken.p50_us`, `pretoken.p99_us` (goal p99 <= 1000 us).

Run alone: `.venv/bin/python -m benchmarks.pretoken`.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import _platform
from benchmarks._pg import fresh_database
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.identity import triggers
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.register import record_identity

EVENT = (
    Path(__file__).resolve().parent.parent / "tests" / "events" / "cognito_pre_token_v2_authentication.json"
)
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"  # the recorded event's client id
WARMUP = 500
CALLS = 20_000

GOALS = {"pretoken.p99_us": ("<=", 1000.0)}


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench:
        _platform.provision(bench.url, _platform.demo_apps())
        conn = connector(bench.url)()
        try:
            record_identity(
                conn,
                "church",
                CLIENT_ID,
                "arn:aws:iam::123456789012:role/integreat/integreat-bench-app-church",
            )
        finally:
            conn.close()
        runtime = Runtime(
            Settings(stage="test", user_pool_id="eu-west-1_AbCdEf123"),
            Database(_platform.runtime_url(bench.url)),
        )
        use_runtime(runtime)
        try:
            samples = _measure(json.loads(EVENT.read_text()))
        finally:
            use_runtime(None)
            runtime.database.close()
        boto3_loaded = "boto3" in sys.modules
    ordered = sorted(samples)
    return {
        "pretoken.p50_us": round(statistics.median(ordered), 1),
        "pretoken.p99_us": round(ordered[int(len(ordered) * 0.99)], 1),
        "pretoken.max_us": round(ordered[-1], 1),
        "pretoken.calls": CALLS,
        "pretoken.boto3_loaded_in_process": boto3_loaded,
    }


def _measure(recorded: dict[str, Any]) -> list[float]:
    recorded["request"]["groupConfiguration"]["groupsToOverride"] = ["church", "church-admin", "events"]
    for _ in range(WARMUP):  # first call loads the registry and the data classes: the cold part
        triggers.pre_token_generation(copy.deepcopy(recorded), None)
    events = [copy.deepcopy(recorded) for _ in range(CALLS)]  # copies made outside the timing
    clock = time.perf_counter_ns
    samples = []
    for event in events:
        began = clock()
        triggers.pre_token_generation(event, None)
        samples.append((clock() - began) / 1000)
    claims = events[-1]["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"][
        "claimsToAddOrOverride"
    ]
    assert claims == {"integreat:app": "church", "integreat:roles": "member admin"}, claims
    return samples


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["pretoken"]))
