"""Cells (issue 16): 1,000 apps over 4 cells, one Postgres cluster each, and moving an app.

1. One fresh home database with the three demo apps: the latency of `Database.read` on church,
   interleaved with the raw query on church's LOGIN role (the control for the machine).
2. Three more embedded clusters (cells c1..c3); 1,000 apps placed by `sync_apps` over the four
   cells (capacity 251 each: 1,003 apps), so every cell holds ~250 apps and ~500 roles, Neon's
   limit per branch.
3. The same latencies on a new runtime Database with a pool per cell (`latency_ratio`: church,
   home cell, 1,003 apps in 4 cells vs 3 in one), plus an app of cell c3 through its own pool.
4. `move_seconds`: an app of the home cell with 10,000 rows and 100 rows in its files index moved
   to c1 (dump, restore, count check, registry switch, source dropped).

Run alone: `.venv/bin/python -m benchmarks.scale_cells`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

from benchmarks import _platform
from benchmarks._pg import BenchDatabase, backend_pid, cell_database, fresh_database, one_cpu
from benchmarks._timing import interleaved
from chalicelib.apps import Database
from chalicelib.cells.model import CellSpec, CellsSpec
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec
from integreat.cells import move_app

APPS = 1000
CELLS = ("c1", "c2", "c3")
CAPACITY = 251
ROWS = 1000
SLUG = "church"
MOVED = "mover"
QUERY = _platform.POINT_QUERY

GOALS = {
    "scale.cells_noop_sync_ddl": ("<=", 0),
    "scale.latency_ratio": ("<=", 1.10),
    "scale.latency_cells": (">=", 4),
}
INFORMATIONAL: frozenset[str] = frozenset()


def _app(slug: str) -> AppSpec:
    return AppSpec(slug=slug, name=slug.title(), enrollment="invite", roles=("member",))


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench, ExitStack() as stack:
        home = bench.url
        _platform.provision(home, _platform.demo_apps())
        keys = _platform.seed_settings(home, SLUG, ROWS)
        before = _latencies(bench, Database(_platform.runtime_url(home)), keys, None)
        urls: dict[str | None, str] = {None: home}
        for name in CELLS:
            urls[name] = stack.enter_context(cell_database())
        spec = CellsSpec((CellSpec("home", CAPACITY, home=True), *(CellSpec(n, CAPACITY) for n in CELLS)))
        began = time.monotonic()
        report = sync_apps(
            connector(home),
            [_app(f"s{i:04d}") for i in range(APPS)] + [_app(MOVED)],
            workers=4,
            cells=spec,
            cell_connects={n: connector(urls[n]) for n in CELLS},
        )
        sync_seconds = time.monotonic() - began
        if not report.ok:
            raise RuntimeError(f"sync_apps failed: {list(report.failed.items())[:3]}")
        noop = _noop_sync(home, urls, spec)
        runtimes = {n: _platform.runtime_url(urls[n]) for n in CELLS}
        far = next(slug for slug, cell in report.cells.items() if cell == CELLS[-1])
        db = Database(_platform.runtime_url(home), cell_url=runtimes.__getitem__)
        after = _latencies(bench, db, keys, far)
        move = _move(urls, db)
    held = list(report.cells.values()) + [None] * 3  # the demo apps live in the home cell
    per_cell = {cell: held.count(cell) for cell in (None, *CELLS)}
    return {
        "scale.latency_cells": len(urls),
        "scale.latency_apps": APPS + 4,
        "scale.apps_per_cell_max": max(per_cell.values()),
        "scale.latency_ratio": round(after["one"] / before["one"], 3),
        "scale.control_ratio": round(after["control"] / before["control"], 3),
        "scale.read_3_apps_1_cell_us": round(before["one"], 1),
        "scale.read_1000_apps_4_cells_us": round(after["one"], 1),
        "scale.read_other_cell_us": round(after["far"], 1),
        "scale.sync_seconds_4_cells": round(sync_seconds, 1),
        "scale.move_seconds": round(move, 2),
        "scale.cells_noop_sync_ddl": noop[0],
        "scale.cells_noop_sync_seconds": round(noop[1], 2),
    }


def _noop_sync(home: str, urls: dict[str | None, str], spec: CellsSpec) -> tuple[int, float]:
    """The same sync again, every statement to every cell counted: (DDL statements, seconds)."""
    from benchmarks.scale import Statements

    counted = {name: Statements(connector(urls[name])) for name in CELLS}
    at_home = Statements(connector(home))
    began = time.monotonic()
    report = sync_apps(
        at_home.connect,
        [_app(f"s{i:04d}") for i in range(APPS)] + [_app(MOVED)],
        workers=4,
        cells=spec,
        cell_connects={n: counted[n].connect for n in CELLS},
    )
    seconds = time.monotonic() - began
    if not report.ok:
        raise RuntimeError(f"the second sync failed: {list(report.failed.items())[:3]}")
    return at_home.ddl + sum(c.ddl for c in counted.values()), seconds


def _latencies(bench: BenchDatabase, db: Database, keys: list[str], far: str | None) -> dict[str, float]:
    raw = connector(_platform.app_login_url(bench.url, SLUG))()
    raw_cur = raw.cursor()
    # Every process in the timing on one CPU (benchmarks/_pg.py one_cpu: a small VM otherwise
    # flips between one-CPU and cross-CPU round trips, ~80 vs ~150 us, for seconds at a time):
    # the client, the raw control's backend, and each cell's pooled backend.
    pids = [backend_pid(raw), _platform.helper_backend_pid(db, SLUG)]
    if far is not None:
        pids.append(_platform.helper_backend_pid(db, far))

    def one(i: int) -> object:
        return db.read(SLUG, QUERY, (keys[i % ROWS],))

    def control(i: int) -> object:
        raw_cur.execute(QUERY, (keys[i % ROWS],))
        return raw_cur.fetchall()

    variants = {"one": one, "control": control}
    if far is not None:
        variants["far"] = lambda i: db.read(far, "SELECT 1")
    try:
        with one_cpu(bench, pids):
            return interleaved(variants)
    finally:
        db.close()
        raw.close()


def _move(urls: dict[str | None, str], db: Database) -> float:
    with db.tenant(MOVED) as cur:
        cur.execute("CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)")
        cur.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10000) g")
        cur.execute(
            "INSERT INTO files (key, sequencer, event_time)"
            " SELECT 'mover/f/' || g, 'x', now() FROM generate_series(1, 100) g"
        )
    done = move_app(urls, MOVED, CELLS[0])
    if done.tables.get("items") != 10_000 or done.tables.get("files") != 100:
        raise RuntimeError(f"the move lost rows: {done.tables}")
    return done.seconds


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["scale_cells"]))
