"""Usage metering and per-app limits on the request path (issue 19).

On one fresh database with the demo apps and a test key as the pool's JWKS (as benchmarks/gateway.py):

- `usage.request_overhead_ratio`: `GET /me` through the Lambda handler (the recorded proxy
  event, as benchmarks/gateway.py; log lines to a stdout nobody reads) with metering on (the
  default: the app's limit checked and its request counted, a batch flushed every 5 s) against
  the same runtime with `INTEGREAT_USAGE=off`, interleaved per-call medians (goal <= 1.05).
- `limits.isolation_ratio`: events' `GET /me` median while church is being throttled (church's
  limit set to 1 request a minute, and one refused church request, untimed, before each timed
  events request) against events' median with church idle, in alternating blocks (goal <= 1.10).
  One app at its limit must cost another nothing: their windows are separate keys.

Run alone: `.venv/bin/python -m benchmarks usage`.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _platform
from benchmarks._pg import fresh_database
from benchmarks._timing import interleaved
from benchmarks.gateway import proxy_event, stdout_to_null
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.register import record_identity

POOL = "eu-west-1_AbCdEf123"
CLIENTS = {"church": "benchusageclient00000000a", "events": "benchusageclient00000000b"}
GOALS = {"usage.request_overhead_ratio": ("<=", 1.05), "limits.isolation_ratio": ("<=", 1.10)}
INFORMATIONAL: frozenset[str] = frozenset()
BLOCK, ROUNDS = 100, 30
Get = Callable[[], int]  # one GET /me through the handler: its status


def run() -> dict[str, float | int | bool]:
    import app as chalice_app
    from chalicelib.identity.tokens import issuer_for
    from tests.tokens import Signer, access_claims

    signer = Signer()
    with fresh_database() as bench:
        _platform.provision(bench.url, _platform.demo_apps())
        conn = connector(bench.url)()
        try:
            for slug, client in CLIENTS.items():
                record_identity(conn, slug, client, f"arn:aws:iam::123456789012:role/integreat/bench-{slug}")
            _set_limit(conn, "events", 100_000_000)  # thousands of timed requests in a minute
        finally:
            conn.close()
        database = Database(_platform.runtime_url(bench.url))
        on = Runtime(
            Settings(stage="test", user_pool_id=POOL), database, jwks_fetch=lambda url: signer.jwks()
        )
        off = Runtime(on.settings._replace(usage=False), database, jwks_fetch=lambda url: signer.jwks())

        def get_me(slug: str) -> Get:
            claims = access_claims(issuer_for("eu-west-1", POOL), CLIENTS[slug], f"bench-{slug}", [slug])
            event = proxy_event("/me", "/me", signer.sign(claims))
            return lambda: int(chalice_app.app(dict(event), None)["statusCode"])

        church, events = get_me("church"), get_me("events")
        try:
            with stdout_to_null():

                def me(rt: Runtime, get: Get) -> Callable[[int], object]:
                    def call(i: int) -> object:
                        use_runtime(rt)
                        return get()

                    return call

                for rt in (on, off):
                    use_runtime(rt)
                    assert events() == 200
                overhead = interleaved({"on": me(on, events), "off": me(off, events)}, iterations=3000)
                use_runtime(on)
                isolation = _isolation(bench.url, on, church, events)
        finally:
            use_runtime(None)
            database.close()
    return {
        "usage.me_metered_us": round(overhead["on"], 1),
        "usage.me_unmetered_us": round(overhead["off"], 1),
        "usage.request_overhead_ratio": round(overhead["on"] / overhead["off"], 3),
        "limits.other_app_idle_us": round(isolation["idle"], 1),
        "limits.other_app_while_throttled_us": round(isolation["throttled"], 1),
        "limits.isolation_ratio": round(isolation["throttled"] / isolation["idle"], 3),
    }


def _set_limit(conn: Any, slug: str, per_minute: int) -> None:
    """The app's request limit in the registry, as a sync of `[apps.<slug>.limits]` writes it."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE integreat.apps SET sections = jsonb_set(sections, '{limits}', %s::jsonb) WHERE slug = %s",
            (json.dumps({"requests_per_minute": per_minute}), slug),
        )


def _isolation(url: str, rt: Runtime, church: Get, events: Get) -> dict[str, float]:
    """events' /me medians (µs) in alternating blocks: church idle, and church refused before each."""
    conn = connector(url)()
    _set_limit(conn, "church", 1)
    conn.close()
    rt.database.registry.invalidate()
    church()  # its one request of the minute
    refused = church()
    if refused != 429:
        raise RuntimeError(f"church was not throttled: {refused}")
    samples: dict[str, list[int]] = {"idle": [], "throttled": []}
    clock = time.perf_counter_ns
    for _ in range(10 * BLOCK):  # warm-up
        events()
    gc.collect()
    refusals = 0
    for round_ in range(ROUNDS):
        for name in ("idle", "throttled") if round_ % 2 else ("throttled", "idle"):
            for _ in range(BLOCK):
                if name == "throttled":  # refused, but for the first of a new minute
                    refusals += church() == 429
                began = clock()
                answer = events()
                samples[name].append(clock() - began)
                assert answer == 200
    if refusals < ROUNDS * BLOCK // 2 - 2:
        raise RuntimeError(f"church was refused only {refusals} times of {ROUNDS * BLOCK // 2}")
    return {name: statistics.median(ns) / 1000 for name, ns in samples.items()}


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["usage"]))
