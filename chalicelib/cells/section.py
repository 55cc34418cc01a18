"""Cells' sections: the platform's `[cells.<name>]` tables (`CELLS`) and each app's pin
(`CELL`, the `cell` key of `[apps.<slug>]`). The pin is an app section so that the manifest
parser accepts the key and its change re-runs the app's database step (its fingerprint); where an
app actually lives is the registry's `cell` column, written by provisioning and `apps move`."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from chalicelib.tenancy.sections import AppContext, AppSection, PlatformSection

if TYPE_CHECKING:
    from chalicelib.cells.model import CellsSpec
    from chalicelib.tenancy.toml_reader import Table


def _parse_cells(doc: Table, slugs: Collection[str]) -> CellsSpec:
    from chalicelib.cells.spec import parse_cells

    return parse_cells(doc, slugs)


def _parse_pin(app: Table, _context: AppContext) -> str | None:
    from chalicelib.cells.spec import parse_pin

    return parse_pin(app)


#: An app's pinned cell; "" (the default): placed by the platform. None from the parser: invalid.
CELL: AppSection[str] = AppSection("cell", "", parse=_parse_pin, encode=str, decode=str)
#: None (the default): no `[cells]` table, one implicit home cell (`chalicelib.apps.manifest` reads
#: it as an empty CellsSpec; the default is not built here, off the cold-start path).
CELLS: PlatformSection[CellsSpec | None] = PlatformSection("cells", None, parse=_parse_cells)
