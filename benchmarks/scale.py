"""1,000 apps through `sync_apps` with Cognito and IAM over cells of Postgres: what the first
sync costs, and that an unchanged second one costs nothing (issue 16).

The manifest is the one `integreat synth` is measured on (benchmarks/scale_synth.py: apps shaped
like the shipped ones, 200 per cell, so 1,000 apps in 5 cells), read by the manifest's own parser.
Each cell is an embedded cluster of its own (a cell never shares a cluster: roles are per cluster,
as on a Neon branch), the home cell a fresh database (benchmarks/_pg.py); one moto server on
loopback (moto's ThreadedMotoServer, as the tests run it; never `mock_aws`, which resets moto's
in-process backends). The provisioner has its own adaptive clients and no write pacing (moto does
not throttle; what pacing would cost at AWS's rates is computed from the writes counted):

1. the first sync of the APPS apps, timed, its AWS calls and DDL (in every cell) counted;
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
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg2.extensions

from benchmarks._pg import cell_database, fresh_database
from benchmarks.scale_synth import manifest_text
from chalicelib.cells.model import CellsSpec
from chalicelib.db.pool import Connect, Connection, connector
from chalicelib.provisioning.database import SyncReport, sync_apps
from chalicelib.provisioning.identity import (
    DEFAULT_RATES,
    IdentityConfig,
    IdentityProvisioner,
    provisioning_clients,
)
from chalicelib.settings import Settings
from chalicelib.tenancy.manifest import AppSpec, load_manifest
from chalicelib.tenancy.slugs import app_role, login_role
from integreat.cells import cell_urls

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
    "scale.apps": (">=", 1000),
    "scale.cells": (">=", 2),
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
    with tempfile.TemporaryDirectory(prefix="integreat-scale-") as folder, ExitStack() as stack:
        manifest = Path(folder) / "integreat.toml"
        manifest.write_text(manifest_text(APPS))
        declared = load_manifest(manifest)  # the manifest `integreat synth` is measured on
        bench = stack.enter_context(fresh_database())
        bench.leftover_roles += [
            role for app in declared.apps for role in (login_role(app.slug), app_role(app.slug))
        ]
        env = {c.url_env: stack.enter_context(cell_database()) for c in declared.cells.cells if not c.home}
        urls = cell_urls(declared.cells, bench.url, env)  # each cell's URL as the CLI finds it
        endpoint = stack.enter_context(moto_server())
        identity, aws = provisioner(endpoint)
        sync = Sync(
            declared.apps, declared.cells, {cell: Statements(connector(url)) for cell, url in urls.items()}
        )
        first = _measured("sync_first", lambda: sync(identity), aws, sync)
        first["scale.sync_first_calls_per_app"] = round(first["scale.sync_first_aws_calls"] / APPS, 2)
        first["scale.sync_first_min_seconds_at_write_rates"] = _paced_floor(aws)
        first["scale.sync_first_list_user_pool_clients"] = aws.operations["ListUserPoolClients"]
        noop = _measured("noop_sync", lambda: sync(identity), aws, sync)
        noop["scale.noop_sync_statements"] = sync.sent
        sync.apps = [replace(sync.apps[0], roles=(*sync.apps[0].roles, "editor")), *sync.apps[1:]]
        one = _measured("change_one", lambda: sync(identity), aws, sync)
        full = _measured("full_sync", lambda: sync(identity, full=True), aws, sync)
    cells = {"scale.cells": len(urls), "scale.apps_per_cell_max": max(sync.per_cell.values())}
    return {"scale.apps": APPS, **cells, **first, **noop, **one, **full}


class Sync:
    """`sync_apps` of the manifest's apps over its cells, every statement to every cell counted."""

    def __init__(
        self, apps: Sequence[AppSpec], cells: CellsSpec, counted: dict[str | None, Statements]
    ) -> None:
        self.apps, self.cells, self.counted = list(apps), cells, counted
        self.per_cell: Counter[str | None] = Counter()

    def __call__(self, identity: IdentityProvisioner, full: bool = False) -> SyncReport:
        others = {cell: s.connect for cell, s in self.counted.items() if cell is not None}
        report = sync_apps(
            self.counted[None].connect,
            self.apps,
            workers=WORKERS,
            identity=identity,
            full=full,
            cells=self.cells,
            cell_connects=others,
        )
        if not report.ok or len(report.active) != len(self.apps):
            raise RuntimeError(
                f"sync_apps failed for {len(report.failed)} apps, e.g. {list(report.failed.items())[:3]}"
            )
        self.per_cell = Counter(report.cells.values())
        return report

    @property
    def ddl(self) -> int:
        return sum(s.ddl for s in self.counted.values())

    @property
    def sent(self) -> int:
        return sum(len(s.sent) for s in self.counted.values())

    def reset(self) -> None:
        for statements in self.counted.values():
            statements.reset()


def _measured(name: str, sync: Any, aws: AwsCalls, sql: Sync) -> dict[str, float | int]:
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
