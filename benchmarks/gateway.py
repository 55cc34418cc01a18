"""The gateway's own cost: routes through the Lambda handler against the work they cannot avoid.

Each request is the recorded API Gateway proxy event (tests/events/apigateway_rest_iam_request.json)
given a path and a bearer token, handed to `app.app(event, context)`: what Lambda calls. (Until
issue 20 this went through `chalice.test.Client`, whose per-request copy of os.environ and event
building were most of the figure and are not in Lambda: API Gateway translates outside the
process.) On one fresh database the demo apps are provisioned and church and events get app
clients; a test key (tests/tokens.py, real RS256) stands in for the pool's JWKS. The log lines
go where Lambda's go, to stdout (here /dev/null). Interleaved per-call medians.

`gateway.me_ratio` (goal <= 1.3): `GET /me` with the same token each time (one client sending its
token for an hour: the verified-token cache's hit, whose claims, client and groups are still
checked) against the floor of a bare Chalice app, same event, no middleware, whose `/me` view
runs the full first-sight check (signature by OpenSSL, claims, registry) and returns the same
body. Issue 20 set the floor at the bare check alone while that was the pure-Python 212-310 us;
with `cryptography` it is ~75 us (`gateway.me_verify_us`), less than Chalice's own dispatch
and the log line, so a floor without Chalice would measure Chalice, not us.

`gateway.dataset_ratio` (goal <= 1.5): a 100-row page of church's shared `services` dataset read
by an events member through `GET /apps/church/datasets/services?limit=100` against the floor of
the one statement that page needs (`chalicelib.sharing.read.page_sql`: `SET LOCAL ROLE`,
read-only, the page encoded to JSON by Postgres) run with psycopg2 on the runtime login, the
text fetched. Until issue 20 the floor fetched the rows as tuples, which a route that answers
JSON cannot do cheaper (`gateway.dataset_tuples_us` keeps that figure). This part runs with the
process and the database's backends on one CPU (benchmarks/_pg.py `one_cpu`): on two, the
backend of a connection that idles ~200 us between statements (the route's) wakes up on another
CPU each time, and that cross-CPU wake-up, not our code, was ~140 us of the route's figure.

Run alone: `.venv/bin/python -m benchmarks gateway`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2

from benchmarks import _platform
from benchmarks._pg import fresh_database, one_cpu
from benchmarks._timing import interleaved
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.register import record_identity

POOL = "eu-west-1_AbCdEf123"
CLIENT_ID = "benchgatewayclient000000a"
EVENTS_CLIENT = "benchgatewayclient000000b"
EVENT = Path(__file__).resolve().parent.parent / "tests" / "events" / "apigateway_rest_iam_request.json"

GOALS = {"gateway.me_ratio": ("<=", 1.3), "gateway.dataset_ratio": ("<=", 1.5)}
VIEW = (
    "CREATE VIEW public_services AS SELECT g AS id, 'Service ' || g AS title FROM generate_series(1, 500) g"
)
TUPLES = (
    "SET LOCAL ROLE app_church; SET TRANSACTION READ ONLY;"
    " SELECT * FROM app_church.public_services v ORDER BY v.id LIMIT 100"
)


def proxy_event(resource: str, path: str, token: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """The recorded REST proxy event for `path` (matched as `resource`) with a bearer token."""
    event: dict[str, Any] = json.loads(EVENT.read_text())
    params = dict(zip(_names(resource), _values(resource, path), strict=True)) or None
    headers = {"Authorization": f"Bearer {token}", "Host": event["headers"]["Host"]}
    event.update(
        resource=resource,
        path=path,
        pathParameters=params,
        queryStringParameters=query,
        multiValueQueryStringParameters=None if query is None else {k: [v] for k, v in query.items()},
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
    )
    context = event["requestContext"]
    context.update(resourcePath=resource, path=f"/{context['stage']}{path}")
    context["identity"] |= {"accessKey": None, "caller": None, "user": None, "userArn": None}
    return event


def _names(resource: str) -> list[str]:
    return [part[1:-1] for part in resource.split("/") if part.startswith("{")]


def _values(resource: str, path: str) -> list[str]:
    return [p for r, p in zip(resource.split("/"), path.split("/"), strict=True) if r.startswith("{")]


def _handler(app: Any, event: dict[str, Any]) -> Any:
    # Chalice reads the event, never writes it; a shallow copy per call keeps that honest.
    return lambda i: app(dict(event), None)


def _bare_me(verifier: Any) -> Any:
    """A Chalice app with no middleware whose `/me` does the full check and answers the same body."""
    from chalice.app import Chalice

    bare = Chalice(app_name="bare")

    @bare.route("/me")
    def me() -> dict[str, Any]:
        header = (bare.current_request.headers if bare.current_request else {}).get("authorization", "")
        caller = verifier.verify(header.partition(" ")[2])
        return {
            "principal": "user", "user_id": caller.user_id, "username": caller.username,
            "app": caller.app, "member": caller.is_member, "roles": list(caller.roles),
            "platform_admin": caller.is_admin,
        }  # fmt: skip

    return bare


def _uncached(runtime: Runtime) -> Any:
    """The runtime's verifier without its cache of verified tokens: the full check a token's
    first sight costs (signature, claims, registry)."""
    from chalicelib.identity.tokens import TokenVerifier

    cached = runtime.verifier
    return TokenVerifier(issuer=cached.issuer, jwks=cached._jwks, registry=cached._registry, cache_size=0)


@contextlib.contextmanager
def stdout_to_null() -> Iterator[None]:
    """Each request's log line is written as in Lambda, to a stdout nobody reads."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


def _setup(url: str) -> None:
    _platform.provision(url, _platform.demo_apps())
    conn = connector(url)()
    try:
        record_identity(conn, "church", CLIENT_ID, "arn:aws:iam::123456789012:role/integreat/bench-church")
        record_identity(
            conn, "events", EVENTS_CLIENT, "arn:aws:iam::123456789012:role/integreat/bench-events"
        )
    finally:
        conn.close()
    owner = psycopg2.connect(_platform.app_login_url(url, "church"))
    with owner, owner.cursor() as cur:
        cur.execute(VIEW)  # church's own migration: the view its manifest shares with events
    owner.close()


def _backends(cur: Any) -> list[int]:
    """Every server backend of the bench database: the floor's and the runtime pool's."""
    cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return [int(pid) for (pid,) in cur.fetchall()]


def _page_statement(runtime: Runtime) -> str:
    from chalicelib.sharing.model import find
    from chalicelib.sharing.read import page_sql
    from chalicelib.sharing.section import DATASETS

    spec = find(DATASETS.of(runtime.database.registry.get_active("church")), "services")
    assert spec is not None
    return "SET LOCAL ROLE app_church; SET TRANSACTION READ ONLY; " + page_sql("church", spec, after=False)


def run() -> dict[str, float | int | bool]:
    import app as chalice_app
    from chalicelib.identity.tokens import issuer_for
    from tests.tokens import Signer, access_claims

    signer = Signer()
    issuer = issuer_for("eu-west-1", POOL)
    token = signer.sign(access_claims(issuer, CLIENT_ID, "bench", ["church"]))
    reader = signer.sign(access_claims(issuer, EVENTS_CLIENT, "bench", ["events"]))
    me = proxy_event("/me", "/me", token)
    page = proxy_event(
        "/apps/{app}/datasets/{name}", "/apps/church/datasets/services", reader, {"limit": "100"}
    )
    with fresh_database() as bench:
        _setup(bench.url)
        runtime = Runtime(
            Settings(stage="test", user_pool_id=POOL),
            Database(_platform.runtime_url(bench.url)),
            jwks_fetch=lambda url: signer.jwks(),
        )
        raw = psycopg2.connect(_platform.runtime_url(bench.url))
        raw.autocommit = True
        cur = raw.cursor()
        statement = _page_statement(runtime)

        def query(sql: str, params: tuple[int, ...] = ()) -> Any:
            def call(i: int) -> object:
                cur.execute(sql, params)
                return cur.fetchall()

            return call

        use_runtime(runtime)
        try:
            first_sight = _uncached(runtime)
            bare = _bare_me(first_sight)
            api = chalice_app.app
            with stdout_to_null():
                routed, floor = api(copy.deepcopy(me), None), bare(copy.deepcopy(me), None)
                assert routed["statusCode"] == floor["statusCode"] == 200, (routed, floor)
                assert json.loads(routed["body"]) == json.loads(floor["body"])
                answered = api(copy.deepcopy(page), None)
                assert answered["statusCode"] == 200, answered
                cur.execute(statement, (100,))
                assert json.loads(answered["body"])["rows"] == json.loads(cur.fetchall()[0][0])
                medians = interleaved(
                    {
                        "verify": lambda i: first_sight.verify(token),
                        "floor": _handler(bare, me),
                        "route": _handler(api, me),
                    },
                    iterations=3000,
                )
                with one_cpu(bench, _backends(cur)) as pinned:
                    data = interleaved(
                        {
                            "tuples": query(TUPLES),
                            "raw": query(statement, (100,)),
                            "route": _handler(api, page),
                        },
                        iterations=1500,
                        warmup=150,
                    )
        finally:
            use_runtime(None)
            runtime.database.close()
            raw.close()
    return {
        "gateway.me_verify_us": round(medians["verify"], 1),
        "gateway.me_floor_us": round(medians["floor"], 1),
        "gateway.me_route_us": round(medians["route"], 1),
        "gateway.me_ratio": round(medians["route"] / medians["floor"], 3),
        "gateway.dataset_tuples_us": round(data["tuples"], 1),
        "gateway.dataset_raw_us": round(data["raw"], 1),
        "gateway.dataset_route_us": round(data["route"], 1),
        "gateway.dataset_ratio": round(data["route"] / data["raw"], 3),
        "gateway.dataset_pinned_one_cpu": pinned,
    }


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["gateway"]))
