"""Usage per app and limits per app (issue 19), through the API on real Postgres: requests are
counted per app and status class and flushed in batches; an app's admins read their own app's
usage only, the platform admin every app's; a flush re-sent counts once; and an app past its
limit (requests, events, storage) is refused without slowing or counting against another."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.runtime import Runtime
from chalicelib.usage.meter import Batch, Meter
from chalicelib.usage.store import _RECORD, _params, flush
from tests.conftest import IdentityPlatform
from tests.tokens import Signer

NOON = datetime(2026, 12, 2, 12, 0, 10, tzinfo=UTC).timestamp()  # 50 s before the minute ends


def _get(api: Any, identity: IdentityPlatform, signer: Signer, path: str, app: str, groups: list[str]) -> Any:
    return api.http.get(path, headers=identity.bearer(signer, app, groups, f"u-{app}"))


def _usage(api: Any, identity: IdentityPlatform, signer: Signer, rt: Runtime, app: str) -> dict[str, Any]:
    flush(rt.database, rt.meter)
    response = _get(api, identity, signer, f"/apps/{app}/usage", app, [app, f"{app}-admin"])
    assert response.status_code == 200, response.body
    return response.json_body  # type: ignore[no-any-return]


def _today(body: dict[str, Any]) -> dict[str, int]:
    days = {d["day"]: d for d in body["days"]}
    return days.get(
        datetime.now(UTC).date().isoformat(), {"requests": 0, "requests_2xx": 0, "requests_4xx": 0}
    )


@contextmanager
def limits(rt: Runtime, app: str, **values: int) -> Iterator[None]:
    """`app`'s limits set to `values` in the registry for the block (as a sync would write them)."""
    from chalicelib.db.pool import connector

    operator = connector(rt.settings.database_url or "")()
    with operator.cursor() as cur:
        cur.execute("SELECT sections FROM integreat.apps WHERE slug = %s", (app,))
        (before,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "UPDATE integreat.apps SET sections = jsonb_set(sections, '{limits}', %s::jsonb) WHERE slug = %s",
            (json.dumps(values), app),
        )
    rt.database.registry.invalidate()
    try:
        yield
    finally:
        with operator.cursor() as cur:
            cur.execute("UPDATE integreat.apps SET sections = %s WHERE slug = %s", (json.dumps(before), app))
        operator.close()
        rt.database.registry.invalidate()


@pytest.fixture
def frozen(signed_runtime: Runtime) -> Iterator[Meter]:
    """The runtime's meter with its clock held at `NOON` (the minute cannot roll over mid-test)."""
    meter = Meter(clock=lambda: NOON)
    signed_runtime.__dict__["meter"] = meter
    yield meter
    signed_runtime.__dict__.pop("meter", None)


def test_requests_are_counted_per_app_and_status_class(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime
) -> None:
    before = _today(_usage(signed_api, identity, signer, signed_runtime, "church"))
    events_before = _today(_usage(signed_api, identity, signer, signed_runtime, "events"))

    for _ in range(3):
        assert (
            _get(signed_api, identity, signer, "/apps/church/inbox", "church", ["church"]).status_code == 200
        )
    # another app's token on church's path: a 403 that counts for church (the path's app)
    assert _get(signed_api, identity, signer, "/apps/church/inbox", "events", ["events"]).status_code == 403

    after = _today(_usage(signed_api, identity, signer, signed_runtime, "church"))
    # the usage reads themselves are church requests too: one between the two snapshots
    assert after["requests_2xx"] - before["requests_2xx"] == 3 + 1
    assert after["requests_4xx"] - before["requests_4xx"] == 1
    assert after["requests"] - before["requests"] == 5
    events_after = _today(_usage(signed_api, identity, signer, signed_runtime, "events"))
    assert events_after["requests"] - events_before["requests"] == 1  # its own usage read only


def test_the_usage_of_an_app_is_for_its_admins_and_the_platform_admin(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    assert _get(signed_api, identity, signer, "/apps/church/usage", "church", ["church"]).status_code == 403
    other_admin = _get(
        signed_api, identity, signer, "/apps/church/usage", "events", ["events", "events-admin"]
    )
    assert other_admin.status_code == 403
    body = _get(signed_api, identity, signer, "/apps/church/usage", "church", ["integreat-admin"]).json_body
    assert set(body) == {"app", "from", "to", "days", "current", "limits"}
    assert body["limits"] == {
        "requests_per_minute": 1200,
        "storage_bytes": 5 * 1024**3,
        "events_per_day": 50_000,
    }
    assert (
        _get(signed_api, identity, signer, "/admin/usage", "church", ["church", "church-admin"]).status_code
        == 403
    )


def test_the_admin_listing_pages_every_app_by_day(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime
) -> None:
    for app in ("church", "events"):
        _get(signed_api, identity, signer, "/me", app, [app])
    flush(signed_runtime.database, signed_runtime.meter)
    admin = ["integreat-admin"]
    seen: list[tuple[str, str]] = []
    path = "/admin/usage?limit=1"
    for _ in range(10):
        body = _get(signed_api, identity, signer, path, "church", admin).json_body
        seen += [(row["day"], row["app"]) for row in body["usage"]]
        if body["next"] is None:
            break
        path = f"/admin/usage?limit=1&after={body['next']}"
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert {"church", "events"} <= {app for _, app in seen}
    for bad in ("/admin/usage?from=2026-13-01", "/admin/usage?from=2026-12-02&to=2026-01-01",
                "/admin/usage?app=Not-A-Slug", "/admin/usage?after=x"):  # fmt: skip
        response = _get(signed_api, identity, signer, bad, "church", admin)
        assert (response.status_code, set(response.json_body)) == (400, {"error"}), bad


def test_a_flush_sent_twice_counts_once(signed_runtime: Runtime) -> None:
    app, day = f"zz{secrets.token_hex(3)}", datetime.now(UTC).date()
    batch = Batch(str(uuid.uuid4()), {(app, day, "requests"): 7}, int(NOON // 60), {app: 7})
    for _ in range(2):
        signed_runtime.database.platform(_RECORD, _params(batch))
    rows = signed_runtime.database.platform(
        "SELECT value FROM integreat.usage_daily WHERE app = %s AND figure = 'requests'", (app,)
    )
    assert rows == [(7,)]


def test_the_runtime_cannot_rewrite_a_counter(signed_runtime: Runtime) -> None:
    import psycopg2.errors

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        signed_runtime.database.platform("UPDATE integreat.usage_daily SET value = 0")


def test_an_app_past_its_request_limit_is_throttled_and_another_is_not(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime, frozen: Meter
) -> None:
    with limits(signed_runtime, "church", requests_per_minute=5):
        church = [_get(signed_api, identity, signer, "/me", "church", ["church"]) for _ in range(7)]
        events = [_get(signed_api, identity, signer, "/me", "events", ["events"]) for _ in range(7)]

    assert [r.status_code for r in church] == [200] * 5 + [429] * 2
    refused = church[-1]
    assert refused.headers["Retry-After"] == "50"
    assert refused.json_body["error"]["code"] == "rate_limited"
    assert "5 requests per minute" in refused.json_body["error"]["message"]
    assert [r.status_code for r in events] == [200] * 7
    assert frozen.pending("church", "throttled") == 2
    assert frozen.pending("events", "throttled") == 0
    assert (frozen.pending("church", "requests_4xx"), frozen.pending("events", "requests_2xx")) == (2, 7)


def test_the_limit_holds_across_instances_through_the_flush(signed_runtime: Runtime) -> None:
    app = f"zy{secrets.token_hex(3)}"
    one, two = Meter(clock=lambda: NOON), Meter(clock=lambda: NOON)
    assert [one.admit(app, 4) for _ in range(3)] == [None] * 3
    flush(signed_runtime.database, one)
    assert two.admit(app, 4) is None  # the fourth of the minute, as far as it knows its first
    flush(signed_runtime.database, two)  # ...and its flush answers the minute's total: 4
    assert two.admit(app, 4) == 50
    assert one.admit(app, 4) is None  # one learns at its next flush (to within an interval)


def test_events_beyond_the_daily_budget_are_refused_per_event(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime, frozen: Meter
) -> None:
    def publish(count: int) -> Any:
        body = [{"specversion": "1.0", "id": secrets.token_hex(6), "type": "church.service.scheduled",
                 "data": {"n": n}} for n in range(count)]  # fmt: skip
        headers = identity.bearer(signer, "church", ["church"], "pub") | {"Content-Type": "application/json"}
        return signed_api.http.post("/apps/church/events", headers=headers, body=json.dumps(body))

    published = frozen.pending("church", "events_published")
    from chalicelib.usage.store import today_count

    flushed = today_count(signed_runtime.database, Meter(), "church", "events_published")
    with limits(signed_runtime, "church", events_per_day=flushed + published + 2):
        partly = publish(3)
        none = publish(1)

    assert partly.status_code == 207, partly.body
    assert [r["status"] for r in partly.json_body["results"]] == ["accepted", "accepted", "rejected"]
    assert partly.json_body["results"][2]["errors"][0].startswith("events_limit_reached")
    assert (none.status_code, none.json_body["error"]["code"]) == (429, "events_limit_reached")
    assert int(none.headers["Retry-After"]) > 0


def test_uploads_past_the_storage_quota_are_refused_before_signing(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime
) -> None:
    db, key = signed_runtime.database, f"church/uploads/{secrets.token_hex(4)}.txt"
    ((used,),) = db.read("church", "SELECT coalesce(sum(size), 0)::bigint FROM files WHERE NOT deleted")
    headers = identity.bearer(signer, "church", ["church", "church-admin"], "up") | {
        "Content-Type": "application/json"
    }
    body = json.dumps({"folder": "uploads/", "filename": "a.txt", "content_type": "text/plain", "size": 10})
    with db.tenant("church") as cur:
        cur.execute(
            "INSERT INTO files (key, size, sequencer, event_time) VALUES (%s, 100, '0', now())", (key,)
        )
    try:
        with limits(signed_runtime, "church", storage_bytes=int(used) + 100):
            full = signed_api.http.post("/apps/church/files/uploads", headers=headers, body=body)
        with limits(signed_runtime, "church", storage_bytes=int(used) + 130):
            room = signed_api.http.post("/apps/church/files/uploads", headers=headers, body=body)
    finally:
        with db.tenant("church") as cur:
            cur.execute("DELETE FROM files WHERE key = %s", (key,))

    assert (full.status_code, full.json_body["error"]["code"]) == (403, "storage_limit_reached"), full.body
    assert "[apps.church.limits] storage_bytes" in full.json_body["error"]["message"]
    assert room.status_code == 200, room.body
    policy = json.loads(base64.b64decode(room.json_body["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 30] in policy["conditions"]
