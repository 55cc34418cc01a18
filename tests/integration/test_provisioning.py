"""Provisioning: idempotent, atomic per app, and the grants it leaves behind."""

from __future__ import annotations

import psycopg2
import pytest

from chalicelib.db.errors import ProvisioningError
from chalicelib.db.pool import connector
from chalicelib.db.provision import role_password
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.errors import InvalidSlugError
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import provision_app
from tests.conftest import Platform


def _fetch(platform: Platform, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def test_sync_is_idempotent(platform: Platform, demo_apps: tuple[AppSpec, ...]) -> None:
    conn = platform.connect()
    before = [role_password(conn, f"app_{a.slug}__login") for a in demo_apps]
    conn.close()
    report = sync_apps(connector(platform.operator_url), demo_apps)
    assert report.ok
    assert report.migrations_applied == 0
    conn = platform.connect()
    assert [role_password(conn, f"app_{a.slug}__login") for a in demo_apps] == before  # credentials kept
    conn.close()


def test_roles_have_the_documented_attributes(platform: Platform) -> None:
    rows = dict(
        (str(name), (bool(login), bool(inherit)))
        for name, login, inherit in _fetch(
            platform,
            "SELECT rolname, rolcanlogin, rolinherit FROM pg_roles"
            " WHERE rolname IN ('integreat_runtime', 'integreat_admin', 'app_church', 'app_church__login')",
        )
    )
    assert rows == {
        "integreat_runtime": (True, False),  # LOGIN NOINHERIT
        "integreat_admin": (False, True),
        "app_church": (False, True),  # NOLOGIN
        "app_church__login": (True, True),
    }


def test_public_schema_is_closed(platform: Platform) -> None:
    [(create_for_public,)] = _fetch(platform, "SELECT has_schema_privilege('public', 'public', 'CREATE')")
    assert create_for_public is False
    [(temp,)] = _fetch(platform, "SELECT has_database_privilege('app_church', current_database(), 'TEMP')")
    assert temp is False


def test_app_is_provisioned_atomically(platform: Platform, unique_slug: str) -> None:
    # Given a step that fails after the roles and schema statements: the registry's CHECK refuses
    # the enrollment (the manifest parser never produces it, but the transaction must hold)
    conn = platform.connect()
    with pytest.raises(ProvisioningError):
        provision_app(conn, AppSpec(unique_slug, "x", "closed", ("member",)))  # type: ignore[arg-type]
    conn.close()
    # Then nothing of that app exists: no role, no schema, no registry row
    assert (
        _fetch(platform, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"app_{unique_slug}%",)) == []
    )
    assert _fetch(platform, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (f"app_{unique_slug}",)) == []
    assert _fetch(platform, "SELECT 1 FROM integreat.apps WHERE slug = %s", (unique_slug,)) == []


def test_crafted_slug_is_refused_before_sql(platform: Platform) -> None:
    conn = platform.connect()
    with pytest.raises(InvalidSlugError):
        provision_app(conn, AppSpec('x"; DROP ROLE integreat_admin; --', "evil", "invite", ("member",)))
    conn.close()
    assert _fetch(platform, "SELECT 1 FROM pg_roles WHERE rolname = 'integreat_admin'") == [(1,)]


def test_login_role_password_is_real(platform: Platform) -> None:
    url = platform.login_url("church")
    conn = psycopg2.connect(url)
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(url.replace(url.split(":")[2].split("@")[0], "wrong-password"))
