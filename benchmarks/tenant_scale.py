"""1,000 apps: what provisioning them costs, and whether a request gets slower once they exist.

The design holds us to "per-request cost independent of the number of apps (1,000 apps ~ 3 apps)".
On one fresh database:

1. the three demo apps are provisioned and the latency of `Database.read` is measured
   (church alone, and round-robin over the three), with the raw query on church's own LOGIN
   role as a control for the machine itself;
2. 1,000 apps `s0000`..`s0999` are provisioned with `sync_apps` (4 workers), its phases timed
   from its progress callbacks (provision includes sync_apps' idempotent re-bootstrap);
3. the same latencies again, on a new runtime Database, with 1,003 apps present; plus a
   round-robin over 100 of the new apps (informational: a warm Lambda serving many apps).

Roles are cluster-wide, so the baseline must run before the 1,000 apps exist (the runtime role
becomes a member of every app role). Run alone: `.venv/bin/python -m benchmarks.tenant_scale`.
"""

from __future__ import annotations

import time

from benchmarks import _platform
from benchmarks._pg import BenchDatabase, backend_pid, fresh_database, one_cpu
from benchmarks._timing import Call, interleaved
from chalicelib.apps import Database
from chalicelib.db.pool import Connection, connector
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.slugs import app_role, login_role

APPS = 1000
WORKERS = 4
ROWS = 1000
SLUG = "church"
SPREAD = 100  # apps in the informational many-apps round-robin
QUERY = _platform.POINT_QUERY
DRIFT = 0.05  # the control may move this much between the two measurements before we warn

GOALS = {"tenant_scale.latency_ratio": ("<=", 1.10), "tenant_scale.round_robin_ratio": ("<=", 1.10)}
INFORMATIONAL = frozenset({"tenant_scale.round_robin_ratio"})

Latencies = dict[str, float]


def scale_apps() -> list[AppSpec]:
    return [
        AppSpec(slug=f"s{i:04d}", name=f"Scale {i}", enrollment="invite", roles=("member",))
        for i in range(APPS)
    ]


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench:
        demo = [app.slug for app in _platform.demo_apps()]
        _platform.provision(bench.url, _platform.demo_apps())
        keys = {slug: _platform.seed_settings(bench.url, slug, ROWS) for slug in demo}
        before, pinned = _latencies(bench, demo, keys, spread=[])
        memberships_before = _memberships(bench.url)
        apps = scale_apps()
        bench.leftover_roles += [role for app in apps for role in (login_role(app.slug), app_role(app.slug))]
        phases = _provision(bench.url, apps)
        spread = [app.slug for app in apps[:: APPS // SPREAD]]
        after, pinned_after = _latencies(bench, demo, keys, spread=spread)
        memberships_after = _memberships(bench.url)
    figures = _latency_figures(before, after)
    _warn_if_drifted(figures["tenant_scale.control_ratio"])
    return {
        **figures,
        **phases,
        "tenant_scale.apps": APPS,
        "tenant_scale.runtime_memberships_before": memberships_before,
        "tenant_scale.runtime_memberships_after": memberships_after,
        "tenant_scale.pinned_one_cpu": pinned and pinned_after,
    }


def _warn_if_drifted(control_ratio: float) -> None:
    # The two measurements are minutes apart and cannot be interleaved (roles are cluster-wide).
    if abs(control_ratio - 1) > DRIFT:
        print(
            f"   warning: the raw control moved by {control_ratio - 1:+.0%} between the two measurements:"
            " the machine's speed changed (other load?); re-run before trusting latency_ratio"
        )


def _latencies(
    bench: BenchDatabase, demo: list[str], keys: dict[str, list[str]], spread: list[str]
) -> tuple[Latencies, bool]:
    """Median µs of church alone, round-robin over the demo apps, the raw control (and spread)."""
    raw = connector(_platform.app_login_url(bench.url, SLUG))()
    db = Database(_platform.runtime_url(bench.url))  # new: its registry sees every app
    try:
        pids = [backend_pid(raw), _platform.helper_backend_pid(db, SLUG)]
        with one_cpu(bench, pids) as pinned:
            return interleaved(_variants(raw, db, demo, keys, spread)), pinned
    finally:
        db.close()
        raw.close()


def _variants(
    raw: Connection, db: Database, demo: list[str], keys: dict[str, list[str]], spread: list[str]
) -> dict[str, Call]:
    raw_cur = raw.cursor()
    church = keys[SLUG]

    def one(i: int) -> object:
        return db.read(SLUG, QUERY, (church[i % ROWS],))

    def round_robin(i: int) -> object:
        slug = demo[i % len(demo)]
        return db.read(slug, QUERY, (keys[slug][i % ROWS],))

    def control(i: int) -> object:
        raw_cur.execute(QUERY, (church[i % ROWS],))
        return raw_cur.fetchall()

    def many(i: int) -> object:
        # The new apps' settings are empty: still one primary-key probe, in another app's table.
        return db.read(spread[i % len(spread)], QUERY, (church[i % ROWS],))

    variants: dict[str, Call] = {"one": one, "round_robin": round_robin, "control": control}
    return {**variants, "spread": many} if spread else variants


def _provision(operator_url: str, apps: list[AppSpec]) -> dict[str, float]:
    """sync_apps over `apps`, each phase timed from the last progress callback of that phase."""
    ends: dict[str, float] = {}

    def progress(phase: str, slug: str) -> None:
        ends[phase] = max(ends.get(phase, 0.0), time.monotonic())

    began = time.monotonic()
    report = sync_apps(connector(operator_url), apps, workers=WORKERS, progress=progress)
    finished = time.monotonic()
    if not report.ok or len(report.active) != len(apps):
        examples = list(report.failed.items())[:3]
        raise RuntimeError(f"sync_apps failed for {len(report.failed)} apps, e.g. {examples}")
    per_app = 1 / len(apps)
    return {
        "tenant_scale.provision_seconds_per_app": round((ends["provision"] - began) * per_app, 5),
        "tenant_scale.migrate_seconds_per_schema": round((ends["migrate"] - ends["provision"]) * per_app, 5),
        "tenant_scale.activate_seconds": round(finished - ends["migrate"], 3),
        "tenant_scale.sync_seconds": round(finished - began, 2),
    }


def _latency_figures(before: Latencies, after: Latencies) -> dict[str, float]:
    figures = {
        "tenant_scale.latency_ratio": round(after["one"] / before["one"], 3),
        "tenant_scale.round_robin_ratio": round(after["round_robin"] / before["round_robin"], 3),
        # The raw query never switches role: if this ratio moves too, the machine did, not the code.
        "tenant_scale.control_ratio": round(after["control"] / before["control"], 3),
        "tenant_scale.read_3_apps_us": round(before["one"], 1),
        "tenant_scale.read_1003_apps_us": round(after["one"], 1),
        "tenant_scale.round_robin_3_apps_us": round(before["round_robin"], 1),
        "tenant_scale.round_robin_1003_apps_us": round(after["round_robin"], 1),
        "tenant_scale.control_3_apps_us": round(before["control"], 1),
        "tenant_scale.control_1003_apps_us": round(after["control"], 1),
    }
    if "spread" in after:
        figures["tenant_scale.spread_100_apps_us"] = round(after["spread"], 1)
    return figures


def _memberships(operator_url: str) -> int:
    """How many app roles the runtime role is a member of (what SET ROLE checks against)."""
    conn = connector(operator_url)()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
                " WHERE r.rolname = %s",
                (RUNTIME_ROLE,),
            )
            row = cur.fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["tenant_scale"]))
