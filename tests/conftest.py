"""Shared fixtures: one real Postgres for the session (embedded, or INTEGREAT_DATABASE_URL).

Tiers (STYLE.md 9): tests/unit (no IO), tests/integration (real Postgres, moto),
tests/security (the isolation matrix, as attacks), tests/e2e (the local platform).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from chalicelib.db.pool import connector
from chalicelib.db.tenant import RUNTIME_ROLE, Database
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec, load_manifest
from chalicelib.tenancy.slugs import login_role
from integreat.context import login_url, with_database
from integreat.local.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = Path(__file__).parent / "events"
TEST_DATABASE = "integreat_test"


def load_event(name: str) -> dict[str, Any]:
    """A recorded event payload from tests/events/<name>.json."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A Postgres cluster for this run: INTEGREAT_DATABASE_URL, else an embedded throwaway one."""
    external = os.environ.get("INTEGREAT_DATABASE_URL")
    if external:
        yield external
        return
    state = Path(tempfile.mkdtemp(prefix="integreat-test-pg-"))
    state.chmod(0o755)  # as root, the server's own user must be able to reach its data dir
    server = EmbeddedPostgres(state, durable=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def operator_url(server_url: str) -> Iterator[str]:
    """A fresh database for the session, as the operator (a role allowed to CREATE ROLE)."""
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {TEST_DATABASE}")
    try:
        yield with_database(server_url, TEST_DATABASE)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def demo_apps() -> tuple[AppSpec, ...]:
    return load_manifest(ROOT / "integreat.toml").apps


@dataclass(frozen=True)
class Platform:
    """The provisioned test platform: URLs of every role the isolation tests log in as."""

    operator_url: str
    runtime_url: str
    slugs: tuple[str, ...]

    def connect(self, url: str | None = None) -> psycopg2.extensions.connection:
        conn = connector(url or self.operator_url)()
        return conn

    def login_url(self, slug: str) -> str:
        return login_url(self.operator_url, login_role(slug))


@pytest.fixture(scope="session")
def platform(operator_url: str, demo_apps: tuple[AppSpec, ...]) -> Platform:
    report = sync_apps(connector(operator_url), demo_apps, workers=2)
    assert report.ok, report.failed
    runtime_url = login_url(operator_url, RUNTIME_ROLE)
    return Platform(operator_url, runtime_url, tuple(a.slug for a in demo_apps))


@pytest.fixture
def runtime_db(platform: Platform) -> Iterator[Database]:
    """The runtime's Database (logs in as integreat_runtime), with a small pool."""
    db = Database(platform.runtime_url, pool_size=4, registry_ttl_seconds=30.0)
    yield db
    db.close()


@pytest.fixture
def unique_slug() -> str:
    return f"t{secrets.token_hex(4)}"
