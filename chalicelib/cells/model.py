"""A cell is one Postgres database (in production a Neon project or branch) holding the schemas
and roles of at most `capacity` apps. Neon allows 500 roles per branch and every app has two
(plus two platform roles), so a database holds at most 249 apps; the default capacity is 200.

Exactly one cell is the home: it also holds the platform schema (the registry, the audit log...).
A manifest that declares no cell has one implicit home cell with no capacity, today's single
database. The registry names an app's cell, None for the home cell (platform migration 0011).

Placement is sticky: a registered app stays in its cell whatever the manifest says (a pin that
disagrees is reported: `integreat apps move` moves it); a new app goes to its pinned cell, else to
the home cell while it has room, then to the next cell with room, in declaration order.

Standard library only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

DEFAULT_CAPACITY = 200
#: The home cell's operator URL, when the manifest names no variable for it.
HOME_URL_ENV = "INTEGREAT_DATABASE_URL"


def url_env_for(name: str) -> str:
    """The default variable holding a cell's operator URL: `INTEGREAT_CELL_EU2_URL` for `eu2`."""
    return f"INTEGREAT_CELL_{name.upper()}_URL"


class CellSpec(NamedTuple):
    """`[cells.<name>]`: one database and how many apps it may hold."""

    name: str
    capacity: int = DEFAULT_CAPACITY
    url_env: str = ""  # the variable holding the operator URL (a role that may CREATE ROLE)
    home: bool = False


class CellsSpec(NamedTuple):
    """Every cell of the manifest, in declaration order; none: the implicit home cell alone."""

    cells: tuple[CellSpec, ...] = ()

    @property
    def home(self) -> CellSpec | None:
        return next((cell for cell in self.cells if cell.home), None)

    def named(self, name: str | None) -> CellSpec | None:
        """The cell `name` (None: the home cell); None if the manifest declares no such cell."""
        if name is None:
            return self.home
        return next((cell for cell in self.cells if cell.name == name), None)

    def key(self, name: str | None) -> str | None:
        """How the registry names cell `name`: None for the home cell (whatever its name)."""
        home = self.home
        return None if name is None or (home is not None and home.name == name) else name

    def label(self, key: str | None) -> str:
        """A registry key as people read it: the home cell's name, or "home"."""
        home = self.home
        return key if key is not None else (home.name if home is not None else "home")

    def order(self) -> list[CellSpec]:
        """The home cell first, then the others in declaration order: where new apps go."""
        return sorted(self.cells, key=lambda cell: not cell.home)


class Placement(NamedTuple):
    cells: dict[str, str | None]  # slug -> registry key of its cell (None: home)
    problems: dict[str, str]  # slug -> why it has no cell


def place(
    spec: CellsSpec,
    slugs: Sequence[str],
    pins: Mapping[str, str],
    current: Mapping[str, str | None],
) -> Placement:
    """Where each app of `slugs` lives: where the registry has it (`current`, every registered app
    not removed, also those outside the manifest, since they hold roles), else its pin, else the
    first cell in `spec.order()` with room. `pins`: slug -> cell name, "" for none."""
    if not spec.cells:  # the implicit home cell: no capacity, as before cells existed
        return Placement({slug: current.get(slug) for slug in slugs}, {})
    used = Counter(current.values())
    found: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    for slug in slugs:
        wanted = pins.get(slug) or None
        if slug in current:
            found[slug] = current[slug]
            if wanted is not None and spec.key(wanted) != current[slug]:
                problems[slug] = (
                    f"pinned to cell {pins[slug]!r} but lives in {spec.label(current[slug])!r}:"
                    f" run `integreat apps move {slug} --to {pins[slug]}`"
                )
            continue
        chosen, problem = _with_room(spec, used, wanted)
        if problem is not None:
            problems[slug] = problem
            continue
        found[slug] = spec.key(chosen)
        used[found[slug]] += 1
    return Placement(found, problems)


def _with_room(spec: CellsSpec, used: Counter[str | None], pin: str | None) -> tuple[str | None, str | None]:
    """(the name of the cell a new app goes to, None) or (None, why there is none)."""
    candidates = [c for c in spec.order() if c.name == pin] if pin is not None else spec.order()
    for cell in candidates:
        if used[spec.key(cell.name)] < cell.capacity:
            return cell.name, None
    if candidates and pin is not None:
        return None, f"cell {pin!r} is full ({candidates[0].capacity} apps)"
    total = sum(c.capacity for c in spec.cells)
    return (
        None,
        f"every cell is full ({total} apps in {len(spec.cells)} cells): declare another [cells.<name>]",
    )
