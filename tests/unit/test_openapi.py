"""The OpenAPI document lists every declared route, is served publicly, and docs/ has it current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chalice.test import Client

import app as chalice_app
from chalicelib.gateway.openapi import document
from chalicelib.gateway.policy import POLICIES
from tests.conftest import ROOT


def test_every_route_is_documented_with_its_policy() -> None:
    paths = document()["paths"]
    assert len(POLICIES) >= 15
    for (path, method), policy in POLICIES.items():
        operation = paths[path][method.lower()]
        assert operation["x-integreat-policy"] == policy.description
        assert operation["summary"]
        assert bool(operation["security"]) == policy.authenticate


def test_the_committed_document_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(document())), (
        "docs/openapi.json is stale: run `integreat openapi --write`"
    )


def test_it_is_served_without_a_token() -> None:
    with Client(chalice_app.app) as api:
        response = api.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json_body["openapi"].startswith("3.")


def test_the_console_script_prints_it_from_any_directory(tmp_path: Path) -> None:
    # The installed `integreat` script does not have the checkout on sys.path; it must find app.py.
    script = Path(sys.executable).with_name("integreat")
    done = subprocess.run([str(script), "openapi"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(document()))
