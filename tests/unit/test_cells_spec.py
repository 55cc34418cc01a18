"""The manifest's cells and the placement of apps in them (issue 16)."""

from __future__ import annotations

import pytest

from chalicelib.cells.model import CellSpec, CellsSpec, place
from chalicelib.tenancy.manifest import ManifestError, parse_manifest

HEAD = '[platform]\nname = "x"\nregion = "eu-west-1"\n'
TWO = CellsSpec((CellSpec("eu1", 2, home=True), CellSpec("eu2", 2), CellSpec("eu3", 2)))


def _problems(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(HEAD + text)
    return str(caught.value)


def test_no_cells_is_one_implicit_home_cell_without_capacity() -> None:
    manifest = parse_manifest(HEAD + '[apps.a]\nname = "A"\n')

    assert (manifest.cells, manifest.app("a").cell) == (CellsSpec(), None)
    assert place(manifest.cells, ["a", "b"], {}, {"b": None}).cells == {"a": None, "b": None}


def test_cells_and_pins_parse_with_their_defaults() -> None:
    manifest = parse_manifest(
        HEAD + '[cells.eu1]\nhome = true\n[cells.eu2]\ncapacity = 5\n[apps.a]\nname = "A"\ncell = "eu2"\n'
    )

    assert manifest.cells.cells == (
        CellSpec("eu1", 200, "INTEGREAT_DATABASE_URL", True),
        CellSpec("eu2", 5, "INTEGREAT_CELL_EU2_URL", False),
    )
    assert manifest.app("a").cell == "eu2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[cells.eu1]\n[cells.eu2]\n', "no cell is the home"),
        ('[cells.eu1]\nhome = true\n[cells.eu2]\nhome = true\n', "2 cells are the home"),
        ('[cells.eu1]\nhome = true\n[apps.a]\nname = "A"\ncell = "eu9"\n', "apps.a.cell: unknown cell 'eu9'"),
        ('[cells.eu1]\nhome = true\ncapacity = 1\n[apps.a]\nname = "A"\ncell = "eu1"\n[apps.b]\nname = "B"\ncell = "eu1"\n',
         "cells.eu1.capacity: 2 apps are pinned to it, over its capacity of 1"),
        ('[cells.eu1]\nhome = true\ncapacity = 500\n', "cells.eu1.capacity: must be an integer from 1 to 249"),
        ('[cells.EU]\nhome = true\n', "cells.EU: invalid cell name"),
        ('[cells.eu1]\nhome = true\nurl = "x"\n', "cells.eu1.url: unknown key"),
    ],
)  # fmt: skip
def test_cells_are_validated_with_precise_errors(text: str, message: str) -> None:
    assert message in _problems(text)


def test_new_apps_fill_the_home_cell_then_the_next_in_declaration_order() -> None:
    found = place(TWO, ["a", "b", "c", "d", "e"], {}, {"old": None})

    assert found.cells == {"a": None, "b": "eu2", "c": "eu2", "d": "eu3", "e": "eu3"}


def test_placement_is_sticky_and_a_disagreeing_pin_is_reported_not_moved() -> None:
    found = place(TWO, ["a", "b"], {"a": "eu3"}, {"a": "eu2", "b": None})

    assert found.cells == {"a": "eu2", "b": None}
    assert "integreat apps move a --to eu3" in found.problems["a"]


def test_a_pin_to_the_home_cell_is_stored_as_home_and_a_full_cell_refuses() -> None:
    found = place(TWO, ["a", "b", "c"], {"a": "eu1", "c": "eu1"}, {"x": None})

    assert found.cells == {"a": None, "b": "eu2"}
    assert found.problems == {"c": "cell 'eu1' is full (2 apps)"}


def test_when_every_cell_is_full_the_app_is_refused() -> None:
    full = {f"x{i}": cell for i, cell in enumerate([None, None, "eu2", "eu2", "eu3", "eu3"])}

    assert "every cell is full (6 apps in 3 cells)" in place(TWO, ["a"], {}, full).problems["a"]
