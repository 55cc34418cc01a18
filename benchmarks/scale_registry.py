"""The runtime's app registry at 1,000 apps: what a refresh costs once it reads only what changed.

Before platform migration 0010 every TTL expiry (30 s) reloaded and decoded every app. Now a
refresh asks for the apps changed since its last read. On one fresh database, 1,000 apps with
sections (storage folders, events, a frontend) are provisioned with `sync_apps` and given a
Cognito client and IAM role each, as provisioning records them; then, through the runtime's own
login role:

- `scale.registry_full_load_ms`: a first load (every app read, decoded and indexed);
- `scale.registry_refresh_ms`: a refresh with nothing changed (the goal);
- `scale.registry_refresh_one_change_ms`: a refresh after one app's row changed;
- `scale.registry_*_kib`: the memory allocated at the peak of one full load and one refresh.

Each figure is the median of many calls; the backend and this process share one CPU while timed
(see `_pg.one_cpu`). Run alone: `.venv/bin/python -m benchmarks scale_registry`.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

from benchmarks import _platform
from benchmarks._pg import BenchDatabase, fresh_database, one_cpu
from chalicelib.apps import SECTIONS, Database
from chalicelib.apps.manifest import parse_manifest
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import record_identity
from chalicelib.tenancy.registry import Batch, Registry, Source
from chalicelib.tenancy.slugs import app_role, login_role
from chalicelib.tenancy.store import source

APPS = 1000
WORKERS = 4
FULL_LOADS = 30
REFRESHES = 300
CHANGES = 100

GOALS = {"scale.registry_refresh_ms": ("<=", 5.0)}
INFORMATIONAL = frozenset(
    {
        "scale.registry_full_load_ms",
        "scale.registry_refresh_one_change_ms",
        "scale.registry_full_load_kib",
        "scale.registry_refresh_kib",
    }
)

_APP = """
[apps.s{i:04d}]
name = "Scale {i}"
roles = ["member", "editor", "admin"]
[apps.s{i:04d}.storage.folders."public/"]
write = "editor"
read = "members"
content_types = ["image/*", "application/pdf"]
max_size = "10MB"
[apps.s{i:04d}.storage.folders."private/{{user}}/"]
write = "owner"
read = "owner"
content_types = ["*/*"]
max_size = "25MB"
[apps.s{i:04d}.events]
publishes = ["s{i:04d}.item.created", "s{i:04d}.item.removed"]
[apps.s{i:04d}.frontend]
origins = ["https://s{i:04d}.example.org"]
"""


def scale_apps() -> tuple[AppSpec, ...]:
    platform = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
    return parse_manifest(platform + "".join(_APP.format(i=i) for i in range(APPS))).apps


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench:
        apps = scale_apps()
        bench.leftover_roles += [role for app in apps for role in (login_role(app.slug), app_role(app.slug))]
        _provision(bench.url, apps)
        db = Database(_platform.runtime_url(bench.url))
        try:
            figures = _measure(bench, db)
        finally:
            db.close()
    return {**figures, "scale.registry_apps": APPS}


def _provision(operator_url: str, apps: tuple[AppSpec, ...]) -> None:
    report = sync_apps(connector(operator_url), apps, workers=WORKERS)
    if not report.ok or len(report.active) != len(apps):
        raise RuntimeError(
            f"sync_apps failed for {len(report.failed)} apps, e.g. {list(report.failed.items())[:3]}"
        )
    conn = connector(operator_url)()
    try:
        for n, app in enumerate(apps):
            arn = f"arn:aws:iam::123456789012:role/integreat-{app.slug}"
            record_identity(conn, app.slug, f"client{n:022d}", arn, f"AROA{n:017d}")
        with conn.cursor() as cur:
            cur.execute("ANALYZE integreat.apps, integreat.app_clients")  # as autovacuum would have
    finally:
        conn.close()


def _measure(bench: BenchDatabase, db: Database) -> dict[str, float | int | bool]:
    counted = _Counted(source(db.platform, SECTIONS))
    warm = Registry(counted.source)
    assert len(warm.all()) == APPS
    pid = int(db.platform("SELECT pg_backend_pid()", None)[0][0])
    touch = _Toucher(bench.url)
    try:
        with one_cpu(bench, [pid]) as pinned:
            full = _median(FULL_LOADS, lambda: Registry(counted.source).all())
            fulls = counted.full_loads
            refresh = _median(REFRESHES, lambda: _refresh(warm))
            one_change = _median(CHANGES, lambda: _refresh(warm), before=touch)
    finally:
        touch.close()
    if counted.full_loads != fulls:
        raise RuntimeError("a refresh loaded the registry in full: the watermark did not hold")
    return {
        "scale.registry_full_load_ms": full,
        "scale.registry_refresh_ms": refresh,
        "scale.registry_refresh_one_change_ms": one_change,
        "scale.registry_full_load_kib": _peak_kib(lambda: Registry(counted.source).all()),
        "scale.registry_refresh_kib": _peak_kib(lambda: _refresh(warm)),
        "scale.registry_pinned_one_cpu": pinned,
    }


class _Counted:
    """The registry's source, counting its full loads."""

    def __init__(self, inner: Source) -> None:
        self.full_loads = 0
        self._inner = inner
        self.source = Source(self._full, inner.since)

    def _full(self) -> Batch:
        self.full_loads += 1
        return self._inner.full()


class _Toucher:
    """Changes one app's row per call (untimed), cycling through the apps."""

    def __init__(self, operator_url: str) -> None:
        self._conn = connector(operator_url)()
        self._n = 0

    def __call__(self) -> None:
        self._n += 1
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE integreat.apps SET name = %s, updated_at = now() WHERE slug = %s",
                (f"Scale {self._n} renamed", f"s{self._n % APPS:04d}"),
            )

    def close(self) -> None:
        self._conn.close()


def _refresh(registry: Registry) -> object:
    registry.invalidate()  # what a TTL expiry does: the next read refreshes
    return registry.all()


def _median(times: int, call: Callable[[], object], before: Callable[[], None] | None = None) -> float:
    """Median milliseconds of `call`, `before` run untimed ahead of each."""
    samples = []
    for _ in range(times):
        if before is not None:
            before()
        began = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - began)
    return round(statistics.median(samples) / 1e6, 3)


def _peak_kib(call: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        call()
        return round(tracemalloc.get_traced_memory()[1] / 1024, 1)
    finally:
        tracemalloc.stop()


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["scale_registry"]))
