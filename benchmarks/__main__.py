"""`make bench`: run every benchmark script, merge its figures into benchmarks/results.json, print them.

    .venv/bin/python -m benchmarks                  # all of them
    .venv/bin/python -m benchmarks db_overhead      # only the named ones

A benchmark is any module here not starting with `_` that defines `run() -> dict`; it may define
`GOALS = {figure: ("<=" | ">=", limit)}` and `INFORMATIONAL = {figure, ...}`. A missed goal is
printed as MISSED and does not fail the run (figures are for reading, and noisy on a busy
machine); a benchmark that crashes does: the exit status is 1.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import benchmarks
from benchmarks import _pg

RESULTS = Path(__file__).with_name("results.json")

Figures = dict[str, Any]
Goal = tuple[str, float]


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(discover())}", file=sys.stderr)
        return 2
    figures: Figures = {}
    goals: dict[str, Goal] = {}
    informational: set[str] = set()
    crashed = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        result = _run_one(name, module)
        if result is None:
            crashed.append(name)
            continue
        figures.update(result)
        goals.update(getattr(module, "GOALS", {}))
        informational.update(getattr(module, "INFORMATIONAL", ()))
    _save(figures)
    _print_table(figures, goals, informational)
    if crashed:
        print(f"\nCRASHED: {', '.join(crashed)} (see the tracebacks above)", file=sys.stderr)
        return 1
    return 0


def _run_one(name: str, module: ModuleType) -> Figures | None:
    print(f"== {name}", flush=True)
    began = time.monotonic()
    try:
        result: Figures = module.run()
    except Exception:
        traceback.print_exc()
        return None
    print(f"   done in {time.monotonic() - began:.1f} s", flush=True)
    return result


def _save(figures: Figures) -> None:
    """Merge into results.json: re-measured keys are replaced, other benchmarks' keys kept."""
    merged = _load()
    merged.update(figures)
    merged["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if _pg.versions_seen:
        merged["postgres_version"] = ", ".join(sorted(_pg.versions_seen))
    RESULTS.write_text(json.dumps(dict(sorted(merged.items())), indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


def _load() -> Figures:
    if not RESULTS.exists():
        return {}
    try:
        data = json.loads(RESULTS.read_text())
    except json.JSONDecodeError as exc:
        print(f"warning: {RESULTS} is not valid JSON ({exc}); starting afresh", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def _verdict(value: Any, goal: Goal | None, informational: bool) -> str:
    if goal is None:
        return ""
    op, limit = goal
    met = value <= limit if op == "<=" else value >= limit
    if met:
        return "ok"
    return "MISSED (informational)" if informational else "MISSED"


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _print_table(figures: Figures, goals: dict[str, Goal], informational: set[str]) -> None:
    rows = [("figure", "value", "goal", "ok")]
    for key in sorted(figures):
        goal = goals.get(key)
        shown_goal = f"{goal[0]} {goal[1]:g}" if goal else ""
        rows.append(
            (key, _show(figures[key]), shown_goal, _verdict(figures[key], goal, key in informational))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
