"""The gateway's own cost: `GET /me` through the Chalice app against the token check it wraps.

On one fresh database the demo apps are provisioned and church gets an app client in the
registry. A test key (tests/tokens.py, real RS256) stands in for the pool's JWKS, injected into
the runtime as the tests do. Interleaved per-call medians of:
- `verify`: the bare check of a token seen for the first time (signature, claims, registry), by
  the runtime's verifier without its cache of verified tokens;
- `route`: `chalice.test.Client.http.get("/me")`, i.e. Chalice's local gateway, the authz
  middleware and the view around the runtime's own check, where the same token (one client
  sending its token for an hour) is a cache hit: its claims and client are checked again, its
  signature is not (issue 20).
Figure `gateway.me_ratio` = route / verify (goal <= 1.5).

`gateway.dataset_ratio`: a 100-row page of church's shared `services` dataset read by an events
member through `GET /apps/church/datasets/services?limit=100` against the raw query it runs
(psycopg2 on the runtime login: `SET LOCAL ROLE`, read-only, `SELECT * ... ORDER BY id LIMIT 100`,
rows fetched as tuples), goal <= 1.5. The route also verifies the token (~200 us of it). The client's request/response
translation is part of what is measured; in Lambda, API Gateway does that outside the process.
Profiled (2026-11): most of the route's extra cost is chalice.test copying os.environ per request
and building the local event; the authz middleware adds ~10 us around the verification.

Run alone: `.venv/bin/python -m benchmarks gateway`.
"""

from __future__ import annotations

from typing import Any

import psycopg2

from benchmarks import _platform
from benchmarks._pg import fresh_database
from benchmarks._timing import interleaved
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.register import record_identity

POOL = "eu-west-1_AbCdEf123"
CLIENT_ID = "benchgatewayclient000000a"
EVENTS_CLIENT = "benchgatewayclient000000b"

GOALS = {"gateway.me_ratio": ("<=", 1.5), "gateway.dataset_ratio": ("<=", 1.5)}
VIEW = (
    "CREATE VIEW public_services AS SELECT g AS id, 'Service ' || g AS title FROM generate_series(1, 500) g"
)
RAW = (
    "SET LOCAL ROLE app_church; SET TRANSACTION READ ONLY;"
    " SELECT * FROM app_church.public_services v ORDER BY v.id LIMIT 100"
)


def _uncached(runtime: Runtime) -> Any:
    """The runtime's verifier without its cache of verified tokens: the full check a token's
    first sight costs (signature, claims, registry), the floor the route is measured against."""
    from chalicelib.identity.tokens import TokenVerifier

    cached = runtime.verifier
    return TokenVerifier(issuer=cached.issuer, jwks=cached._jwks, registry=cached._registry, cache_size=0)


def run() -> dict[str, float | int | bool]:
    from chalice.test import Client

    import app as chalice_app
    from chalicelib.identity.tokens import issuer_for
    from tests.tokens import Signer, access_claims

    signer = Signer()
    with fresh_database() as bench:
        _platform.provision(bench.url, _platform.demo_apps())
        conn = connector(bench.url)()
        try:
            record_identity(
                conn, "church", CLIENT_ID, "arn:aws:iam::123456789012:role/integreat/bench-church"
            )
            record_identity(
                conn, "events", EVENTS_CLIENT, "arn:aws:iam::123456789012:role/integreat/bench-events"
            )
        finally:
            conn.close()
        owner = psycopg2.connect(_platform.app_login_url(bench.url, "church"))
        with owner, owner.cursor() as cur:
            cur.execute(VIEW)  # church's own migration: the view its manifest shares with events
        owner.close()
        runtime = Runtime(
            Settings(stage="test", user_pool_id=POOL),
            Database(_platform.runtime_url(bench.url)),
            jwks_fetch=lambda url: signer.jwks(),
        )
        token = signer.sign(access_claims(issuer_for("eu-west-1", POOL), CLIENT_ID, "bench", ["church"]))
        headers = {"Authorization": f"Bearer {token}"}
        reader = signer.sign(access_claims(issuer_for("eu-west-1", POOL), EVENTS_CLIENT, "bench", ["events"]))
        page = "/apps/church/datasets/services?limit=100"
        raw = psycopg2.connect(_platform.runtime_url(bench.url))
        raw.autocommit = True
        raw_cur = raw.cursor()

        def raw_read(i: int) -> object:
            raw_cur.execute(RAW)
            return raw_cur.fetchall()

        use_runtime(runtime)
        try:
            with Client(chalice_app.app) as client:
                assert client.http.get("/me", headers=headers).status_code == 200
                first_sight = _uncached(runtime)
                first_sight.verify(token)
                medians = interleaved(
                    {
                        "verify": lambda i: first_sight.verify(token),
                        "route": lambda i: client.http.get("/me", headers=headers),
                    },
                    iterations=2000,
                )
                routed = client.http.get(page, headers={"Authorization": f"Bearer {reader}"})
                assert routed.status_code == 200, routed.body
                assert [(r["id"], r["title"]) for r in routed.json_body["rows"]] == raw_read(0)
                data = interleaved(
                    {
                        "raw": raw_read,
                        "route": lambda i: client.http.get(
                            page, headers={"Authorization": f"Bearer {reader}"}
                        ),
                    },
                    iterations=1000,
                    warmup=100,
                )
        finally:
            use_runtime(None)
            runtime.database.close()
            raw.close()
    return {
        "gateway.me_verify_us": round(medians["verify"], 1),
        "gateway.me_route_us": round(medians["route"], 1),
        "gateway.me_ratio": round(medians["route"] / medians["verify"], 3),
        "gateway.dataset_raw_us": round(data["raw"], 1),
        "gateway.dataset_route_us": round(data["route"], 1),
        "gateway.dataset_ratio": round(data["route"] / data["raw"], 3),
    }
