"""Shared datasets on real Postgres: the owner's view read as the owner's role, read-only, under a
statement timeout, keyset-paged; allowed apps read, others get 403 whether or not it exists."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.sharing import read
from chalicelib.sharing.model import DatasetSpec
from chalicelib.tenancy.manifest import AppSpec
from tests.conftest import DATASET_ROWS as ROWS
from tests.conftest import IdentityPlatform, Platform
from tests.tokens import Signer


def _get(api: Any, identity: IdentityPlatform, signer: Signer, path: str, app: str, groups: list[str]) -> Any:
    return api.http.get(path, headers=identity.bearer(signer, app, groups))


def test_a_reader_app_pages_through_every_row_once(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None
) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        path = "/apps/church/datasets/services?limit=100" + (f"&cursor={cursor}" if cursor else "")
        response = _get(signed_api, identity, signer, path, "events", ["events"])
        assert response.status_code == 200, response.body
        seen += [row["id"] for row in response.json_body["rows"]]
        cursor = response.json_body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, ROWS + 1))
    first = _get(signed_api, identity, signer, "/apps/church/datasets/services?limit=1", "events", ["events"])
    assert first.json_body["rows"] == [{"id": 1, "title": "Service 1"}]


def test_the_owner_and_the_platform_admin_read_it(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None
) -> None:
    for groups in (["church"], ["integreat-admin"]):
        response = _get(signed_api, identity, signer, "/apps/church/datasets/services", "church", groups)
        assert response.status_code == 200
        assert len(response.json_body["rows"]) == 100


def test_an_app_it_is_not_shared_with_gets_403_exists_or_not(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None
) -> None:
    bodies = []
    for path in (
        "/apps/church/datasets/services",
        "/apps/church/datasets/no_such_dataset",
        "/apps/no_such_app/datasets/services",
    ):
        response = _get(signed_api, identity, signer, path, "students", ["students"])
        assert response.status_code == 403, path
        assert "Service" not in response.body.decode()
        bodies.append(response.json_body["error"]["code"])
    assert bodies == ["forbidden"] * 3  # nothing tells an outsider which datasets exist


def test_a_token_without_membership_is_refused(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None
) -> None:
    response = _get(signed_api, identity, signer, "/apps/church/datasets/services", "events", [])
    assert response.status_code == 403


def test_allowed_callers_learn_what_is_missing(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None
) -> None:
    response = _get(signed_api, identity, signer, "/apps/church/datasets/nope", "church", ["church"])
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "unknown_dataset"


@pytest.mark.parametrize("cursor", ["abc", "1;DROP%20VIEW%20public_services", "x" * 300])
def test_a_bad_cursor_is_a_400_and_harms_nothing(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, church_view: None, cursor: str
) -> None:
    response = _get(
        signed_api, identity, signer, f"/apps/church/datasets/services?cursor={cursor}", "events", ["events"]
    )
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_cursor"
    again = _get(signed_api, identity, signer, "/apps/church/datasets/services", "events", ["events"])
    assert again.status_code == 200


def _owned_dataset(platform: Platform, slug: str, view: str) -> None:
    spec = AppSpec(slug, "Sharer", "invite", ("member",), datasets=(DatasetSpec("d", view, "id", ()),))
    assert sync_apps(connector(platform.operator_url), [spec]).ok


def test_a_declared_view_that_does_not_exist_is_a_409(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, unique_slug: str
) -> None:
    _owned_dataset(identity.platform, unique_slug, "never_created")
    response = _get(
        signed_api, identity, signer, f"/apps/{unique_slug}/datasets/d", "church", ["integreat-admin"]
    )
    assert response.status_code == 409
    assert "never_created" in response.json_body["error"]["message"]


def test_reads_are_read_only(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, unique_slug: str
) -> None:
    # A view that writes when read: the read-only transaction refuses the write.
    _owned_dataset(identity.platform, unique_slug, "writing")
    conn = psycopg2.connect(identity.platform.login_url(unique_slug))
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE sink (n int);"
            "CREATE FUNCTION scribble() RETURNS int LANGUAGE sql VOLATILE AS"
            " 'INSERT INTO sink VALUES (1) RETURNING n';"
            "CREATE VIEW writing AS SELECT scribble() AS id"
        )
    response = _get(
        signed_api, identity, signer, f"/apps/{unique_slug}/datasets/d", "church", ["integreat-admin"]
    )
    assert response.status_code == 409
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM sink")
        assert cur.fetchone() == (0,)
    conn.close()


def test_a_slow_view_is_cut_off(
    identity: IdentityPlatform,
    signer: Signer,
    signed_api: Any,
    unique_slug: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(read, "STATEMENT_TIMEOUT_MS", 200)  # the limit is configuration, not logic
    _owned_dataset(identity.platform, unique_slug, "slow")
    conn = psycopg2.connect(identity.platform.login_url(unique_slug))
    with conn, conn.cursor() as cur:
        cur.execute("CREATE VIEW slow AS SELECT 1 AS id, pg_sleep(2)::text AS waited")
    conn.close()
    response = _get(
        signed_api, identity, signer, f"/apps/{unique_slug}/datasets/d", "church", ["integreat-admin"]
    )
    assert response.status_code == 503
    assert response.json_body["error"]["code"] == "dataset_timeout"


def test_the_view_name_cannot_reach_the_catalog(unique_slug: str) -> None:
    # Qualified with the owner's schema: a view named like a catalog view is looked up there only.
    sql = read.page_sql(unique_slug, DatasetSpec("d", "pg_roles", "rolname", ()), after=True)
    assert f'FROM "app_{unique_slug}"."pg_roles" v' in sql
