"""1,000 apps through `sync_apps` with Cognito and IAM: what the first sync costs, and that an
unchanged second one costs nothing (issue 16, incremental provisioning).

On one fresh database (benchmarks/_pg.py) and one moto server on loopback (moto's
ThreadedMotoServer, as the tests run it; never `mock_aws`, which resets moto's in-process
backends), with the provisioner's own adaptive clients and no write pacing (moto does not
throttle; what pacing would cost at AWS's rates is computed from the writes counted):

1. the first sync of APPS apps `s0000`..., timed, its AWS calls and DDL counted;
2. the same sync again, nothing changed: 0 AWS writes and 0 DDL are the goals;
3. one app's roles changed, then synced (informational: what one change costs);
4. `full=True` on that unchanged state (informational: the convergent re-check reads every
   resource and writes none).

AWS calls: a botocore `before-call` hook on both clients (one event per API call; retries are
not calls); a write is an operation not starting with Get, List, Describe or Head. DDL: counted
on the client, by recording every statement the sync sends through its connections (`Statements`,
a cursor factory) and counting those that start with a DDL keyword (CREATE, ALTER, DROP, GRANT,
REVOKE, COMMENT, TRUNCATE, SECURITY LABEL, REINDEX, or DO: the anonymous blocks provisioning wraps
its CREATE ROLEs in), dollar-quoted bodies and comments removed first. pg_stat_statements would
need `shared_preload_libraries`, which the embedded cluster does not set; and statements *sent*
is the stricter count: an idempotent `CREATE SCHEMA IF NOT EXISTS` changes no catalog row, yet it
is DDL sent, with its locks taken.

APPS defaults to 1,000; INTEGREAT_SCALE_APPS sets another number. Run alone:
`.venv/bin/python -m benchmarks scale`.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg2.extensions

from benchmarks._pg import fresh_database
from chalicelib.db.pool import Connect, Connection, connector
from chalicelib.provisioning.database import SyncReport, sync_apps
from chalicelib.provisioning.identity import (
    DEFAULT_RATES,
    IdentityConfig,
    IdentityProvisioner,
    provisioning_clients,
)
from chalicelib.settings import Settings
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.slugs import app_role, login_role

APPS = int(os.environ.get("INTEGREAT_SCALE_APPS") or 1000)
WORKERS = 4
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
BUCKET = "integreat-scale-files"
READ_PREFIXES = ("Get", "List", "Describe", "Head")
IAM_WRITES = frozenset({"CreateRole", "UpdateAssumeRolePolicy", "PutRolePolicy"})
DDL = re.compile(r"(CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT|TRUNCATE|SECURITY|REINDEX|DO)\b", re.IGNORECASE)
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}

GOALS = {
    "scale.noop_sync_aws_writes": ("<=", 0),
    "scale.noop_sync_ddl": ("<=", 0),
    "scale.full_sync_aws_writes": ("<=", 0),
}
INFORMATIONAL = frozenset({"scale.full_sync_aws_writes"})


class AwsCalls:
    """API calls made through `clients`, by operation name (a botocore `before-call` hook), and
    each with its parameters in `log` (`before-parameter-build`: the caller's own arguments)."""

    def __init__(self, *clients: Any) -> None:
        self.operations: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, Any]]] = []
        for client in clients:
            client.meta.events.register("before-call", self._seen)
            client.meta.events.register("before-parameter-build", self._params)

    def _seen(self, model: Any, **_: Any) -> None:
        self.operations[model.name] += 1

    def _params(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.log.append((model.name, dict(params)))

    @property
    def calls(self) -> int:
        return sum(self.operations.values())

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.operations.items() if not op.startswith(READ_PREFIXES))

    def reset(self) -> None:
        self.operations.clear()
        self.log.clear()


class Statements:
    """Every statement sent through connections of `connect` (`.connect` is the counted factory)."""

    def __init__(self, connect: Connect) -> None:
        self.sent: list[str] = []
        self._connect = connect
        sent = self.sent

        class Recording(psycopg2.extensions.cursor):
            def execute(self, query: Any, vars: Any = None) -> Any:
                sent.append(query.decode() if isinstance(query, bytes) else str(query))
                return super().execute(query, vars)

        self._cursor = Recording

    def connect(self) -> Connection:
        conn = self._connect()
        conn.cursor_factory = self._cursor
        return conn

    @property
    def ddl(self) -> int:
        return sum(ddl_statements(text) for text in self.sent)

    def reset(self) -> None:
        self.sent.clear()


def ddl_statements(text: str) -> int:
    """How many of the `;`-separated statements in `text` are DDL (see the module docstring)."""
    text = re.sub(r"\$\$.*?\$\$", "$$", text, flags=re.DOTALL)
    text = re.sub(r"--[^\n]*", "", text)
    return sum(1 for part in text.split(";") if DDL.match(part.strip()))


def scale_apps() -> list[AppSpec]:
    return [
        AppSpec(slug=f"s{i:04d}", name=f"Scale {i}", enrollment="invite", roles=("member",))
        for i in range(APPS)
    ]


@contextmanager
def moto_server(env: Mapping[str, str] = MOTO_ENV) -> Iterator[str]:
    """A moto server on a free loopback port for every AWS service, with `env` (fake credentials)
    set while it runs, stopped on exit. The test suite's session moto is this one too."""
    from moto.server import ThreadedMotoServer

    from integreat.local.postgres import free_port

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def provisioner(endpoint: str) -> tuple[IdentityProvisioner, AwsCalls]:
    """The provisioner as `integreat apps sync` builds it, unpaced, its calls counted."""
    settings = Settings(stage="test", region=REGION, aws_endpoint_url=endpoint)
    cognito, iam = provisioning_clients(settings)
    pool = cognito.create_user_pool(PoolName="integreat-scale")["UserPool"]["Id"]
    config = IdentityConfig(pool, "integreat", "test", ACCOUNT, password_auth=True, bucket=BUCKET)
    return IdentityProvisioner(cognito, iam, config, rates=None), AwsCalls(cognito, iam)


def run() -> dict[str, float | int]:
    apps = scale_apps()
    with fresh_database() as bench, moto_server() as endpoint:
        bench.leftover_roles += [role for app in apps for role in (login_role(app.slug), app_role(app.slug))]
        identity, aws = provisioner(endpoint)
        sql = Statements(connector(bench.url))
        first = _measured("sync_first", lambda: _sync(sql, apps, identity), aws, sql)
        first["scale.sync_first_calls_per_app"] = round(first["scale.sync_first_aws_calls"] / APPS, 2)
        first["scale.sync_first_min_seconds_at_write_rates"] = _paced_floor(aws)
        first["scale.sync_first_list_user_pool_clients"] = aws.operations["ListUserPoolClients"]
        noop = _measured("noop_sync", lambda: _sync(sql, apps, identity), aws, sql)
        noop["scale.noop_sync_statements"] = len(sql.sent)
        changed = [replace(apps[0], roles=("member", "editor")), *apps[1:]]
        one = _measured("change_one", lambda: _sync(sql, changed, identity), aws, sql)
        full = _measured("full_sync", lambda: _sync(sql, changed, identity, full=True), aws, sql)
    return {"scale.apps": APPS, **first, **noop, **one, **full}


def _sync(
    sql: Statements, apps: list[AppSpec], identity: IdentityProvisioner, full: bool = False
) -> SyncReport:
    report = sync_apps(sql.connect, apps, workers=WORKERS, identity=identity, full=full)
    if not report.ok or len(report.active) != len(apps):
        raise RuntimeError(
            f"sync_apps failed for {len(report.failed)} apps, e.g. {list(report.failed.items())[:3]}"
        )
    return report


def _measured(name: str, sync: Any, aws: AwsCalls, sql: Statements) -> dict[str, float | int]:
    aws.reset()
    sql.reset()
    began = time.monotonic()
    sync()
    seconds = time.monotonic() - began
    print(f"   {name}: {seconds:.1f} s, {dict(aws.operations)}", flush=True)
    return {
        f"scale.{name}_seconds": round(seconds, 2),
        f"scale.{name}_aws_calls": aws.calls,
        f"scale.{name}_aws_writes": aws.writes,
        f"scale.{name}_ddl": sql.ddl,
    }


def _paced_floor(aws: AwsCalls) -> float:
    """The least time the counted writes take at the provisioner's default write rates."""
    iam = sum(n for op, n in aws.operations.items() if op in IAM_WRITES)
    cognito = aws.writes - iam
    return round(max(cognito / DEFAULT_RATES.cognito, iam / DEFAULT_RATES.iam), 1)


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["scale"]))
