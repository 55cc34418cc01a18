"""Cells in the stack (issue 16): a manifest that declares a second cell gives the provisioner
that cell's operator URL under the variable the manifest names, and every function the cell's
runtime URL, each from a secret of the stage, resolved at deploy (never a value in the template)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.infra.conftest import PROJECT

CELLS = '\n[cells.main]\nhome = true\n\n[cells.eu2]\ncapacity = 150\nurl_env = "INTEGREAT_CELL_EU2_URL"\n'


@pytest.fixture(scope="module")
def with_cells(synthesized: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from integreat.infra.app import synthesize

    out = tmp_path_factory.mktemp("cells-synth")
    manifest = out / "integreat.toml"
    manifest.write_text((PROJECT / "integreat.toml").read_text() + CELLS)
    try:
        yield synthesize("dev", out / "dev", manifest)
    finally:
        shutil.rmtree(out / "dev", ignore_errors=True)


def _functions(stack: Any) -> dict[str, Any]:
    resources = stack.template["Resources"]
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}


def test_the_provisioner_gets_each_cells_operator_url_from_its_secret(with_cells: Any) -> None:
    for name in ("Provision", "ProvisionComplete"):
        variables = _functions(with_cells)[name]["Environment"]["Variables"]
        assert "integreat-dev/database/cells/eu2/operator" in json.dumps(variables["INTEGREAT_CELL_EU2_URL"])
        assert "{{resolve:secretsmanager:" in json.dumps(variables["INTEGREAT_CELL_EU2_URL"])


def test_every_function_gets_each_cells_runtime_url_from_its_secret(with_cells: Any) -> None:
    for name, function in _functions(with_cells).items():
        value = json.dumps(function["Environment"]["Variables"]["INTEGREAT_CELL_EU2_RUNTIME_URL"])
        assert "integreat-dev/database/cells/eu2/runtime" in value, name
    api = _functions(with_cells)["APIHandler"]["Environment"]["Variables"]
    assert "INTEGREAT_CELL_EU2_URL" not in api  # the operator URL is the provisioner's alone


def test_without_cells_nothing_is_added(dev: Any) -> None:
    for function in _functions(dev).values():
        assert not [v for v in function["Environment"]["Variables"] if v.startswith("INTEGREAT_CELL_")]


def test_the_deploy_refuses_a_cell_whose_operator_url_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.cells.model import CellSpec, CellsSpec
    from chalicelib.provisioning.deploy import DeployError, _cell_connects

    monkeypatch.delenv("INTEGREAT_CELL_EU2_URL", raising=False)
    with pytest.raises(DeployError, match="INTEGREAT_CELL_EU2_URL is not set"):
        _cell_connects(
            CellsSpec((CellSpec("main", home=True), CellSpec("eu2", 150, "INTEGREAT_CELL_EU2_URL")))
        )
