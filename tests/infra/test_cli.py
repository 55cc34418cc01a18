"""`integreat synth --stage dev` as a user runs it: writes the template, reports cdk-nag clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli import run_integreat


def test_synth_writes_the_stage_template(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("the CDK needs Node.js to synthesize")
    done = run_integreat("synth", "--stage", "dev", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads((tmp_path / "dev" / "dev.template.json").read_text())
    assert "Custom::IntegreatApps" in {r["Type"] for r in template["Resources"].values()}
    assert "end-of-life" not in done.stdout + done.stderr  # jsii's Node.js banner is silenced
    refused = run_integreat("synth", "--stage", "staging", "--out", str(tmp_path))
    assert refused.returncode == 1
    assert "must be one of dev, prod" in refused.stderr


def test_synth_finds_the_manifest_as_every_command_does(tmp_path: Path) -> None:
    # INTEGREAT_MANIFEST, not ./integreat.toml (the 1,000-app synthesis, test_scale_synth.py, reads
    # one that way); a wrong path ends in one line naming the file and where it came from.
    absent = tmp_path / "absent.toml"
    done = run_integreat("synth", "--stage", "dev", "--out", str(tmp_path), INTEGREAT_MANIFEST=str(absent))
    assert done.returncode == 1
    assert "no manifest at" in done.stderr
    assert "from INTEGREAT_MANIFEST" in done.stderr
    assert "Traceback" not in done.stderr
    given = run_integreat("synth", "--stage", "dev", "--out", str(tmp_path), "--manifest", str(absent))
    assert given.returncode == 1
    assert "the path given" in given.stderr
