"""The `[cells.<name>]` tables of the manifest and each app's pin, `[apps.<slug>] cell = "<name>"`.

    [cells.eu1]
    home = true                    # exactly one cell holds the platform schema (the registry)
    capacity = 200                 # apps it may hold (default 200; Neon: 500 roles, 2 per app)
    url_env = "INTEGREAT_DATABASE_URL"   # the variable holding its operator URL
    [cells.eu2]
    url_env = "INTEGREAT_CELL_EU2_URL"   # default INTEGREAT_CELL_<NAME>_URL (a secret in production)

The runtime logs in to a cell other than home with `INTEGREAT_CELL_<NAME>_RUNTIME_URL`
(`chalicelib.settings`). Only the manifest tooling imports this module.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from typing import TYPE_CHECKING

from chalicelib.cells.model import DEFAULT_CAPACITY, HOME_URL_ENV, CellSpec, CellsSpec, url_env_for

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

#: Lowercase letters and digits only: the name maps one to one onto its variables' names.
NAME = re.compile(r"[a-z][a-z0-9]{0,19}")
ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
KEYS = ("capacity", "url_env", "home")
#: 500 roles per Neon branch, two per app, two for the platform.
MAX_CAPACITY = 249


def parse_pin(app: Table) -> str | None:
    """The app's `cell` key: a cell name, "" when absent (placed by the platform), None if invalid."""
    if "cell" not in app.values:
        return ""
    return app.matching("cell", NAME, "the name of a [cells.<name>] table")


def parse_cells(doc: Table, slugs: Collection[str]) -> CellsSpec:
    table = doc.table("cells", "a table of cells, written [cells.<name>]", default={})
    if table is None:
        return CellsSpec()
    cells = []
    for name in table.values:
        if not NAME.fullmatch(name):
            table.report(name, f"invalid cell name: {NAME.pattern} (a lowercase letter, then a-z, 0-9)")
            continue
        entry = table.table(name, f"a table, written [cells.{name}]")
        if entry is not None:
            cells.append(_parse_one(entry, name))
    spec = CellsSpec(tuple(cells))
    homes = [cell.name for cell in cells if cell.home]
    if cells and len(homes) != 1:
        problem = (
            "no cell is the home" if not homes else f"{len(homes)} cells are the home ({', '.join(homes)})"
        )
        table.report(
            homes[1] if len(homes) > 1 else cells[0].name, f"{problem}: mark exactly one with home = true"
        )
    _check_pins(doc, spec, slugs)
    return spec


def _parse_one(entry: Table, name: str) -> CellSpec:
    entry.check_keys(KEYS)
    home = entry.values.get("home", False)
    if not isinstance(home, bool):
        entry.reject("home", "true or false", home)
        home = False
    capacity = entry.values.get("capacity", DEFAULT_CAPACITY)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        entry.reject(
            "capacity",
            f"an integer from 1 to {MAX_CAPACITY} (two roles per app, 500 per Neon branch)",
            capacity,
        )
        capacity = DEFAULT_CAPACITY
    default_env = HOME_URL_ENV if home else url_env_for(name)
    url_env = entry.values.get("url_env", default_env)
    if not isinstance(url_env, str) or not ENV.fullmatch(url_env):
        entry.reject(
            "url_env", "the name of an environment variable such as 'INTEGREAT_CELL_EU2_URL'", url_env
        )
        url_env = default_env
    return CellSpec(name, capacity, url_env, home)


def _check_pins(doc: Table, spec: CellsSpec, slugs: Collection[str]) -> None:
    """Every pin names a declared cell, and no cell is pinned more apps than it holds."""
    apps = doc.values.get("apps")
    if not isinstance(apps, dict):
        return
    pinned: Counter[str] = Counter()
    for slug, app in apps.items():
        pin = app.get("cell") if isinstance(app, dict) and slug in slugs else None
        if not isinstance(pin, str):
            continue
        if spec.named(pin) is None:
            declared = ", ".join(c.name for c in spec.cells) or "none: declare [cells.<name>] first"
            doc.child("apps").child(slug).report("cell", f"unknown cell {pin!r}; declared cells: {declared}")
        else:
            pinned[pin] += 1
    for cell in spec.cells:
        if pinned[cell.name] > cell.capacity:
            doc.child("cells").child(cell.name).report(
                "capacity", f"{pinned[cell.name]} apps are pinned to it, over its capacity of {cell.capacity}"
            )
