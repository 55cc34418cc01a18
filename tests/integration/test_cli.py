"""The `integreat` command, run as a user runs it (a subprocess), against the test database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg2
import pytest

from chalicelib.aws import client
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.tenancy.manifest import AppSpec
from tests.cli import run_integreat
from tests.conftest import TEST_BUCKET, IdentityPlatform, Platform


def integreat(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return run_integreat(*args, INTEGREAT_DATABASE_URL=platform.operator_url)


def _exists(platform: Platform, sql: str, params: tuple[object, ...]) -> bool:
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchone() is not None
    conn.close()
    return found


def test_apps_list_shows_the_manifest_apps(platform: Platform) -> None:
    result = integreat(platform, "apps", "list")
    assert result.returncode == 0, result.stderr
    for slug in ("church", "events", "students"):
        assert slug in result.stdout
    assert "active" in result.stdout


def test_db_url_connects_as_the_apps_own_role(platform: Platform) -> None:
    result = integreat(platform, "db", "url", "church")
    assert result.returncode == 0, result.stderr
    conn = psycopg2.connect(result.stdout.strip())
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, current_schema()")
        assert cur.fetchone() == ("app_church__login", "app_church")
    conn.close()


def test_db_migrate_is_a_no_op_when_current(platform: Platform) -> None:
    result = integreat(platform, "db", "migrate")
    assert result.returncode == 0, result.stderr
    assert "0 migrations applied" in result.stdout


def test_bad_input_is_one_clear_line(platform: Platform) -> None:
    result = integreat(platform, "db", "url", "Bad-Slug")
    assert result.returncode == 1
    assert "invalid app slug 'Bad-Slug'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_remove_refuses_without_export_or_force(platform: Platform) -> None:
    result = integreat(platform, "apps", "remove", "church")
    assert result.returncode == 2
    assert "--export DIR" in result.stderr
    assert _exists(platform, "SELECT 1 FROM pg_namespace WHERE nspname = %s", ("app_church",))


def test_remove_with_export_then_restore_round_trips(
    platform: Platform, unique_slug: str, tmp_path: Path
) -> None:
    # Given an app with data of its own
    manifest = tmp_path / "integreat.toml"
    manifest.write_text(
        f'[platform]\nname = "integreat"\nregion = "eu-west-1"\n[apps.{unique_slug}]\nname = "Leaving"\n'
    )
    assert sync_apps(
        connector(platform.operator_url), [AppSpec(unique_slug, "Leaving", "invite", ("member",))]
    ).ok
    conn = psycopg2.connect(platform.login_url(unique_slug))
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO settings (key, value) VALUES ('kept', '{\"n\": 1}')")
    conn.close()

    # When it is removed with an export
    export = tmp_path / "export"
    result = integreat(platform, "apps", "remove", unique_slug, "--export", str(export), "--yes")
    assert result.returncode == 0, result.stderr
    assert (export / f"app_{unique_slug}.dump").stat().st_size > 0
    assert not _exists(platform, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (f"app_{unique_slug}",))
    assert not _exists(platform, "SELECT 1 FROM pg_roles WHERE rolname LIKE %s", (f"app_{unique_slug}%",))
    assert _exists(
        platform, "SELECT 1 FROM integreat.apps WHERE slug = %s AND status = 'removed'", (unique_slug,)
    )

    # Then a restore brings back its data, under its own roles
    result = integreat(
        platform, "apps", "restore", unique_slug, "--from", str(export), "--manifest", str(manifest)
    )
    assert result.returncode == 0, result.stderr
    conn = psycopg2.connect(platform.login_url(unique_slug))
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM settings WHERE key = 'kept'")
        assert cur.fetchone() == ({"n": 1},)
    conn.close()


@pytest.mark.parametrize(
    "command", [["apps", "--help"], ["db", "url", "--help"], ["apps", "remove", "--help"]]
)
def test_help_shows_an_example(platform: Platform, command: list[str]) -> None:
    result = integreat(platform, *command)
    assert result.returncode == 0
    assert "Example" in result.stdout or "Commands" in result.stdout


def test_apps_remove_exports_and_removes_the_apps_files_too(
    identity: IdentityPlatform, unique_slug: str, tmp_path: Path
) -> None:
    # Given an app with a file under its folder of the shared bucket, and another app's file
    assert sync_apps(
        connector(identity.platform.operator_url), [AppSpec(unique_slug, "Leaving", "invite", ("member",))]
    ).ok
    s3 = client("s3", identity.settings)
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{unique_slug}/uploads/a.txt", Body=b"mine")
    s3.put_object(Bucket=TEST_BUCKET, Key="church/uploads/keep.txt", Body=b"theirs")

    # When it is removed with an export, the bucket configured as on a deployed stage
    export = tmp_path / "export"
    result = run_integreat(
        "apps", "remove", unique_slug, "--export", str(export), "--yes",
        INTEGREAT_DATABASE_URL=identity.platform.operator_url, INTEGREAT_STAGE="test",
        INTEGREAT_AWS_ENDPOINT_URL=identity.endpoint, INTEGREAT_BUCKET=TEST_BUCKET, AWS_REGION="eu-west-1",
    )  # fmt: skip

    # Then its file is in the export and gone from the bucket; the other app's file is untouched
    assert result.returncode == 0, result.stdout + result.stderr
    assert (export / "objects" / unique_slug / "uploads" / "a.txt").read_bytes() == b"mine"
    assert s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix=f"{unique_slug}/").get("KeyCount") == 0
    assert s3.get_object(Bucket=TEST_BUCKET, Key="church/uploads/keep.txt")["Body"].read() == b"theirs"
