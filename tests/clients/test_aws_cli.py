"""The AWS CLI (v1, from the virtualenv) as church's backend: after
`eval "$(integreat service credentials --app church)"` and nothing else, on a machine with no AWS
configuration, it reaches the local platform, in the right region, within church's folder only."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.clients.harness import REQUIRE_CLIENTS, Platform, missing

EXPORT = re.compile(r"export ([A-Z_]+)='([^']*)'")
REGION_MISSING = "You must specify a region"


@pytest.fixture(scope="module")
def church_backend(platform: Platform) -> dict[str, str]:
    """PATH and HOME, plus exactly what `integreat service credentials --app church` exports."""
    if not (platform.bin_dir / "aws").exists():
        missing("the AWS CLI is not installed: `make test` installs awscli (the dev extra)", REQUIRE_CLIENTS)
    issued = platform.run("integreat", "service", "credentials", "--app", "church")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    lines = issued.stdout.strip().splitlines()
    exports = dict(m.groups() for m in map(EXPORT.fullmatch, lines) if m)
    assert len(exports) == len(lines), f"not all lines are `export NAME='value'`: {issued.stdout}"
    assert exports["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= set(exports)
    return {"PATH": platform.env["PATH"], "HOME": platform.env["HOME"], **exports}


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    file = tmp_path / "notes.txt"
    file.write_text(f"church notes {uuid.uuid4()}\n")
    return file


def test_the_region_resolves_without_any_aws_configuration(
    platform: Platform, church_backend: dict[str, str]
) -> None:
    who = platform.run("aws", "sts", "get-caller-identity", "--output", "json", env=church_backend)
    assert REGION_MISSING not in who.stderr
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Account"]


def test_copy_into_churchs_folder_succeeds(
    platform: Platform, church_backend: dict[str, str], notes: Path
) -> None:
    key = f"s3://{platform.info['bucket']}/church/uploads/cli-{uuid.uuid4().hex[:8]}.txt"
    put = platform.run("aws", "s3", "cp", str(notes), key, env=church_backend)
    assert put.returncode == 0, put.stderr
    assert REGION_MISSING not in put.stderr
    back = platform.run("aws", "s3", "cp", key, "-", env=church_backend)
    assert back.returncode == 0, back.stderr
    assert back.stdout == notes.read_text()


def test_copy_into_another_apps_folder_is_access_denied(
    platform: Platform, church_backend: dict[str, str], notes: Path
) -> None:
    key = f"s3://{platform.info['bucket']}/events/posters/cli-{uuid.uuid4().hex[:8]}.txt"
    put = platform.run("aws", "s3", "cp", str(notes), key, env=church_backend)
    assert put.returncode != 0, f"church's role wrote into events/: {put.stdout}"
    assert "AccessDenied" in put.stderr, put.stderr
