"""The platform a benchmark measures: apps provisioned by the real code, and the URLs of its roles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec, load_manifest
from chalicelib.tenancy.slugs import login_role, schema_name
from integreat import context

ROOT = Path(__file__).resolve().parent.parent

#: The point query both benchmarks time: one primary-key lookup in the app's own table.
POINT_QUERY = "SELECT value FROM settings WHERE key = %s"


def demo_apps() -> tuple[AppSpec, ...]:
    """The three apps of the repository's manifest (church, events, students), with request and
    event limits no benchmark reaches (thousands of requests a minute are the measurement here,
    as an operator load-testing a stage would raise them; benchmarks/usage.py measures limits)."""
    from chalicelib.apps.manifest import with_section
    from chalicelib.usage.model import LimitsSpec
    from chalicelib.usage.section import LIMITS
    from chalicelib.usage.spec import MAX_COUNT

    unlimited = LimitsSpec(requests_per_minute=MAX_COUNT, events_per_day=MAX_COUNT)
    return tuple(
        with_section(app, LIMITS, unlimited._replace(storage_bytes=app.limits.storage_bytes))
        for app in load_manifest(ROOT / "integreat.toml").apps
    )


def provision(operator_url: str, apps: Sequence[AppSpec], *, workers: int = 2) -> None:
    report = sync_apps(connector(operator_url), apps, workers=workers)
    if not report.ok:
        raise RuntimeError(f"provisioning failed: {report.failed}")


def login_url(operator_url: str, role: str) -> str:
    return context.login_url(operator_url, role)


def runtime_url(operator_url: str) -> str:
    return login_url(operator_url, RUNTIME_ROLE)


def app_login_url(operator_url: str, slug: str) -> str:
    """The app team's own LOGIN role: reads its schema directly, no switch (search_path is set)."""
    return login_url(operator_url, login_role(slug))


def keys(rows: int) -> list[str]:
    return [f"k{i:05d}" for i in range(rows)]


def seed_settings(operator_url: str, slug: str, rows: int) -> list[str]:
    """Fill the app's `settings` with `rows` rows through the tenant helper; returns the keys."""
    db = Database(runtime_url(operator_url))
    try:
        with db.tenant(slug) as cur:
            cur.execute_values(
                "INSERT INTO settings (key, value) VALUES %s",
                [(key, json.dumps({"n": i})) for i, key in enumerate(keys(rows))],
            )
    finally:
        db.close()
    analyze(operator_url, slug)
    return keys(rows)


def analyze(operator_url: str, slug: str) -> None:
    # Fresh statistics now, so autovacuum does not ANALYZE in the middle of a measurement.
    conn = connector(operator_url)()
    try:
        with conn.cursor() as cur:
            cur.execute(f'ANALYZE "{schema_name(slug)}".settings')
    finally:
        conn.close()


def helper_backend_pid(db: Database, slug: str) -> int:
    """The server process behind `db`'s (single) pooled connection, asked through the helper itself."""
    return int(db.read(slug, "SELECT pg_backend_pid()")[0][0])
