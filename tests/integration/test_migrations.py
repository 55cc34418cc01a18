"""Per-schema migrations: tracking, resumability, refusal of edited migrations, parallel runs."""

from __future__ import annotations

import json
import secrets

import pytest

from chalicelib.db.errors import MigrationError
from chalicelib.db.migrate import APP_SET, Migration, Target, load_migrations, migrate_many, migrate_target
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import app_target
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import provision_app
from tests.conftest import Platform

ONE = Migration(1, "one", "CREATE TABLE one (id int PRIMARY KEY);")
TWO = Migration(2, "two", "CREATE TABLE two (id int PRIMARY KEY);")
BROKEN_TWO = Migration(2, "two", "CREATE TABLE two (id int PRIMARY KEY); SELECT no_such_function();")


def _fresh_apps(platform: Platform, count: int) -> list[str]:
    slugs = [f"m{secrets.token_hex(4)}" for _ in range(count)]
    conn = platform.connect()
    for slug in slugs:
        provision_app(conn, AppSpec(slug, slug, "invite", ("member",)))
    conn.close()
    return slugs


def _tables(platform: Platform, slug: str) -> dict[str, str]:
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s", (f"app_{slug}",))
        found = {str(t): str(o) for t, o in cur.fetchall()}
    conn.close()
    return found


def test_shipped_migrations_are_ordered_and_unique() -> None:
    for set_name in ("platform", APP_SET):
        versions = [m.version for m in load_migrations(set_name)]
        assert versions == sorted(set(versions))
        assert versions[0] == 1


def test_applies_once_as_the_app_role_and_tracks_it(platform: Platform) -> None:
    (slug,) = _fresh_apps(platform, 1)
    conn = platform.connect()
    assert migrate_target(conn, app_target(slug), [ONE, TWO]) == [1, 2]
    assert migrate_target(conn, app_target(slug), [ONE, TWO]) == []  # re-run: nothing to do
    conn.close()
    # objects are owned by the app role, never by the operator who ran the migration
    assert _tables(platform, slug) == {
        "one": f"app_{slug}",
        "two": f"app_{slug}",
        "schema_migrations": f"app_{slug}",
    }


def test_failure_keeps_earlier_migrations_and_resumes(platform: Platform) -> None:
    (slug,) = _fresh_apps(platform, 1)
    conn = platform.connect()
    with pytest.raises(MigrationError, match="0002_two failed"):
        migrate_target(conn, app_target(slug), [ONE, BROKEN_TWO])
    assert set(_tables(platform, slug)) == {"one", "schema_migrations"}  # 0002 left nothing behind
    assert migrate_target(conn, app_target(slug), [ONE, TWO]) == [2]  # the fixed 0002 resumes
    conn.close()


def test_edited_applied_migration_is_refused(platform: Platform) -> None:
    (slug,) = _fresh_apps(platform, 1)
    conn = platform.connect()
    migrate_target(conn, app_target(slug), [ONE])
    edited = Migration(1, "one", ONE.sql + " -- edited")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        migrate_target(conn, app_target(slug), [edited, TWO])
    conn.close()


def test_parallel_across_schemas_reports_each_failure_separately(platform: Platform) -> None:
    slugs = _fresh_apps(platform, 12)
    conn = platform.connect()
    migrate_target(conn, app_target(slugs[0]), [ONE])
    with conn.cursor() as cur:  # sabotage one schema so its 0002 fails
        cur.execute(f"CREATE TABLE app_{slugs[0]}.two (x int)")
    conn.close()
    done: list[str] = []
    report = migrate_many(
        connector(platform.operator_url),
        [app_target(s) for s in slugs],
        [ONE, TWO],
        workers=3,
        on_done=lambda t: done.append(t.schema),
    )
    assert sorted(done) == sorted(f"app_{s}" for s in slugs)
    assert list(report.failed) == [f"app_{slugs[0]}"]
    assert report.applied_count == 11 * 2


def test_the_sections_migration_keeps_each_apps_columns_as_its_document(platform: Platform) -> None:
    # Given a registry as platform migrations 0001-0007 left it, holding one app with every section
    schema = f"mig_{secrets.token_hex(4)}"
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION integreat_admin')
    before = [m for m in load_migrations("platform") if m.version < 8]
    target = Target(schema, "integreat_admin")
    migrate_target(conn, target, before)
    storage = {"folders": [{"path": "up/", "write": "members", "read": "members",
                            "content_types": ["*/*"], "max_size": 10}]}  # fmt: skip
    events = {"publishes": ["church.x.y"], "consumers": None, "subscribes": [], "forward_to_queue": False}
    datasets = [{"name": "d", "view": "v", "key": "id", "readers": ["events"]}]
    with conn.cursor() as cur:
        cur.execute(
            f'INSERT INTO "{schema}".apps (slug, name, status, storage, events, datasets)'
            " VALUES ('church', 'Church', 'active', %s, %s, %s)",
            (json.dumps(storage), json.dumps(events), json.dumps(datasets)),
        )

    # When 0008 runs (alone: later migrations have tests of their own)
    upto_8 = [m for m in load_migrations("platform") if m.version <= 8]
    assert migrate_target(conn, target, upto_8) == [8]

    # Then the three columns are the document's keys, and gone as columns
    with conn.cursor() as cur:
        cur.execute(f'SELECT sections FROM "{schema}".apps')
        assert cur.fetchall() == [({"storage": storage, "events": events, "datasets": datasets},)]
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'apps'"
            " AND column_name IN ('storage', 'events', 'datasets')",
            (schema,),
        )
        assert cur.fetchall() == []
        cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.close()
