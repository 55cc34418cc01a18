"""The admin API on real Postgres and moto: per-app figures move with the data, the audit log pages
newest first with filters, bad query input is a 400, and nobody but the platform admin gets in."""

from __future__ import annotations

import json
import secrets
from typing import Any

from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.runtime import Runtime
from chalicelib.tenancy.manifest import AppSpec
from tests.conftest import IdentityPlatform, ReadLines
from tests.identity import Users
from tests.tokens import Signer


def _get(api: Any, identity: IdentityPlatform, signer: Signer, path: str, groups: list[str]) -> Any:
    return api.http.get(path, headers=identity.bearer(signer, "church", groups, "op"))


def _admin(api: Any, identity: IdentityPlatform, signer: Signer, path: str) -> Any:
    response = _get(api, identity, signer, path, ["integreat-admin"])
    assert response.status_code == 200, response.body
    return response.json_body


def _figures(api: Any, identity: IdentityPlatform, signer: Signer) -> dict[str, Any]:
    body = _admin(api, identity, signer, "/admin/apps")
    return {a["app"]: a["figures"] for a in body["apps"]}


def test_figures_follow_files_inbox_and_members(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime
) -> None:
    before = _figures(signed_api, identity, signer)
    key, event_id = f"church/uploads/{secrets.token_hex(4)}.txt", secrets.token_hex(8)
    db = signed_runtime.database
    with db.tenant("church") as cur:
        cur.execute(
            "INSERT INTO files (key, size, sequencer, event_time) VALUES (%s, 1234, '0', now())", (key,)
        )
        cur.execute(
            "INSERT INTO inbox (event_id, source, type, time, envelope) VALUES (%s, '/apps/events', 't', now(), '{}')",
            (event_id,),
        )
    Users(identity).sign_up("church", f"fig-{secrets.token_hex(3)}@example.org")
    try:
        after = _figures(signed_api, identity, signer)
        church = after["church"]
        assert church["files"] == before["church"]["files"] + 1
        assert church["bytes"] == before["church"]["bytes"] + 1234
        assert church["inbox_depth"] == before["church"]["inbox_depth"] + 1
        assert church["members"] == before["church"]["members"] + 1
        assert after["events"]["files"] == before["events"]["files"]  # another app's figures do not move
    finally:
        with db.tenant("church") as cur:
            cur.execute("DELETE FROM files WHERE key = %s", (key,))
            cur.execute("DELETE FROM inbox WHERE event_id = %s", (event_id,))


def test_queue_depths_are_reported(identity: IdentityPlatform, signer: Signer, signed_api: Any) -> None:
    queues = _admin(signed_api, identity, signer, "/admin/apps")["queues"]
    assert set(queues) == {identity.settings.events_queue, f"{identity.settings.events_queue}-dlq"}
    assert all(isinstance(v, int) and v >= 0 for v in queues.values())


def test_audit_pages_newest_first_with_filters(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime
) -> None:
    kind = f"test.{secrets.token_hex(4)}"
    for n, app in enumerate(["church", "events", "church"]):  # appended as the consumers do
        signed_runtime.database.platform(
            "INSERT INTO integreat.audit (kind, app, subject, reason, detail, dedupe_key)"
            " VALUES (%s, %s, %s, 'because', %s, %s)",
            (kind, app, f"subject-{n}", json.dumps({"n": n}), f"{kind}-{n}"),
        )
    first = _admin(signed_api, identity, signer, f"/admin/audit?kind={kind}&limit=2")
    assert [e["subject"] for e in first["entries"]] == ["subject-2", "subject-1"]
    rest = _admin(
        signed_api, identity, signer, f"/admin/audit?kind={kind}&limit=2&cursor={first['next_cursor']}"
    )
    assert [e["subject"] for e in rest["entries"]] == ["subject-0"]
    assert rest["next_cursor"] is None
    church = _admin(signed_api, identity, signer, f"/admin/audit?kind={kind}&app=church")
    assert [e["subject"] for e in church["entries"]] == ["subject-2", "subject-0"]
    assert church["entries"][0]["detail"] == {"n": 2}
    assert church["entries"][0]["reason"] == "because"


def test_bad_audit_queries_are_400s(identity: IdentityPlatform, signer: Signer, signed_api: Any) -> None:
    for query, code in (
        ("cursor=abc", "invalid_cursor"),
        ("cursor=0", "invalid_cursor"),
        ("limit=1000", "invalid_limit"),
        ("app=Not%20A%20Slug", "invalid_app"),
    ):
        response = _get(signed_api, identity, signer, f"/admin/audit?{query}", ["integreat-admin"])
        assert response.status_code == 400, query
        assert response.json_body["error"]["code"] == code


def test_app_admins_are_not_platform_admins(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    for path in ("/admin/apps", "/admin/audit"):
        response = _get(signed_api, identity, signer, path, ["church", "church-admin"])
        assert response.status_code == 403
        assert set(response.json_body) == {"error"}  # the refusal carries no registry data


def test_an_app_without_cognito_groups_lists_with_members_unknown(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, unique_slug: str
) -> None:
    # Registered in the database only (identity sync not yet run): listed, not a 500.
    spec = AppSpec(unique_slug, "Half provisioned", "invite", ("member",))
    assert sync_apps(connector(identity.platform.operator_url), [spec]).ok
    figures = _figures(signed_api, identity, signer)[unique_slug]
    assert figures["members"] is None
    assert figures["files"] == 0


def test_every_request_is_logged_with_the_app(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, log_lines: ReadLines
) -> None:
    _admin(signed_api, identity, signer, "/admin/apps")
    denied = _get(signed_api, identity, signer, "/admin/apps", ["church"])
    assert denied.status_code == 403
    lines = [line for line in log_lines() if line["message"] in ("request", "request denied")]
    admitted, refused = lines
    assert admitted["route"] == "/admin/apps"
    assert admitted["status"] == 200
    assert admitted["caller_app"] == "church"
    assert admitted["ms"] >= 0
    assert refused["status"] == 403
