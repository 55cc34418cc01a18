"""Both stages synthesized once per test session (each takes seconds), offline.

Synthesis needs Node.js (jsii runs the CDK in it): without `node` these tests skip and say so on
a user's machine; CI installs Node.js (.ci/run) and INTEGREAT_REQUIRE_NODE makes them mandatory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def synthesized() -> Iterator[dict[str, Any]]:
    if shutil.which("node") is None:
        if os.environ.get("INTEGREAT_REQUIRE_NODE"):
            pytest.fail("Node.js is required here (INTEGREAT_REQUIRE_NODE is set) but `node` is not on PATH")
        pytest.skip("the CDK needs Node.js to synthesize: install it (Node.js 22+) to run tests/infra")
    from integreat.infra.app import synthesize

    out = Path(tempfile.mkdtemp(prefix="integreat-cdk-"))
    try:
        yield {name: synthesize(name, out / name, PROJECT / "integreat.toml") for name in ("dev", "prod")}
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Any]) -> Any:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Any]) -> Any:
    return synthesized["prod"]
