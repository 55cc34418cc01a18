"""The tenant-scoped helper against a real Postgres: scope, errors, transactions, reconnection."""

from __future__ import annotations

import time

import psycopg2
import pytest

from chalicelib.apps import Database
from chalicelib.db.errors import DatabaseUnavailableError, TenantSwitchError
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.errors import AppRemovedError, InvalidSlugError, NoTenantError, UnknownAppError
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import remove_app
from tests.conftest import Platform

SQL_SLUGS = [
    'church"; DROP SCHEMA app_events CASCADE; --',
    "church; select 1",
    "Church",
    "pg_catalog",
    "x'--",
]


def _terminate(platform: Platform, application_name: str = "integreat") -> None:
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = 'integreat_runtime' AND application_name = %s",
            (application_name,),
        )
    conn.close()


def test_read_runs_as_the_app_in_its_schema(runtime_db: Database) -> None:
    rows = runtime_db.read(
        "events", "SELECT current_user, current_schema(), current_setting('transaction_read_only')"
    )
    assert rows == [("app_events", "app_events", "on")]


def test_read_is_read_only(runtime_db: Database) -> None:
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        runtime_db.read("events", "INSERT INTO settings (key, value) VALUES ('ro', '1')")


def test_transaction_commits_on_success_and_rolls_back_on_error(runtime_db: Database) -> None:
    with runtime_db.tenant("church") as cur:
        cur.execute("INSERT INTO settings (key, value) VALUES ('committed', '1') ON CONFLICT DO NOTHING")
    with pytest.raises(RuntimeError), runtime_db.tenant("church") as cur:
        cur.execute("INSERT INTO settings (key, value) VALUES ('rolled_back', '1')")
        raise RuntimeError("application failure after the insert")
    keys = {row[0] for row in runtime_db.read("church", "SELECT key FROM settings")}
    assert "committed" in keys
    assert "rolled_back" not in keys


def test_batched_insert_goes_through_the_switch(runtime_db: Database) -> None:
    rows = [(f"batch{i}", "1") for i in range(250)]
    with runtime_db.tenant("students") as cur:
        cur.execute_values("INSERT INTO settings (key, value) VALUES %s ON CONFLICT DO NOTHING", rows)
        cur.execute("SELECT count(*), current_user FROM settings WHERE key LIKE 'batch%%'")
        assert cur.fetchone() == (250, "app_students")


def test_no_tenant_is_an_error(runtime_db: Database) -> None:
    for missing in (None, ""):
        with pytest.raises(NoTenantError):
            runtime_db.read(missing, "SELECT 1")
        with pytest.raises(NoTenantError), runtime_db.tenant(missing):
            pass


@pytest.mark.parametrize("slug", SQL_SLUGS)
def test_crafted_slug_never_reaches_sql(slug: str) -> None:
    # Given a Database whose server does not exist, any SQL sent would fail as "unavailable";
    # a crafted slug must fail first, as invalid, before a connection is even opened.
    nowhere = Database("postgresql://nobody:x@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(InvalidSlugError):
        nowhere.read(slug, "SELECT 1")
    with pytest.raises(InvalidSlugError), nowhere.tenant(slug):
        pass


def test_unknown_app_is_a_named_error(runtime_db: Database) -> None:
    with pytest.raises(UnknownAppError, match="'nosuchapp' is not a registered app"):
        runtime_db.read("nosuchapp", "SELECT 1")


def test_ending_the_transaction_inside_the_scope_is_refused(runtime_db: Database) -> None:
    with pytest.raises(TenantSwitchError), runtime_db.tenant("church") as cur:
        cur.execute("SELECT 1")
        cur.execute("COMMIT")
        cur.execute("SELECT * FROM settings")  # would otherwise run as the bare runtime


def test_broken_pooled_connection_is_replaced_once(platform: Platform) -> None:
    db = Database(platform.runtime_url)
    try:
        assert db.read("church", "SELECT 1") == [(1,)]
        _terminate(platform)  # as when the server or a proxy drops an idle Lambda's connection
        assert db.read("church", "SELECT current_user") == [("app_church",)]
        _terminate(platform)
        with db.tenant("church") as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("app_church",)
    finally:
        db.close()


def test_unreachable_server_is_a_named_error() -> None:
    db = Database("postgresql://nobody:x@127.0.0.1:1/none", connect_timeout=1)
    db.registry._apps = {}  # never loaded: the registry load itself must fail cleanly
    with pytest.raises(DatabaseUnavailableError):
        db.read("church", "SELECT 1")


def test_new_app_is_served_without_restart_and_removed_app_is_refused(
    platform: Platform, runtime_db: Database, unique_slug: str
) -> None:
    # Given a warm runtime whose registry cache is fresh
    assert runtime_db.read("church", "SELECT 1") == [(1,)]
    # When an operator adds an app, Then the runtime serves it without a redeploy or a TTL wait:
    # an unknown slug reloads the registry early (at most once a second, so junk cannot hammer it).
    report = sync_apps(connector(platform.operator_url), [AppSpec(unique_slug, "New", "invite", ("member",))])
    assert report.ok, report.failed
    time.sleep(1.05)
    assert runtime_db.read(unique_slug, "SELECT current_user") == [(f"app_{unique_slug}",)]
    # When it is removed while the cache still says active, Then the switch itself refuses it
    conn = platform.connect()
    remove_app(conn, unique_slug)
    conn.close()
    with pytest.raises(AppRemovedError):
        runtime_db.read(unique_slug, "SELECT 1")
    runtime_db.registry.invalidate()
    with pytest.raises(AppRemovedError):
        runtime_db.read(unique_slug, "SELECT 1")
