"""The platform's lifecycle events (issue 19) on real Postgres and moto: provisioning announces
`integreat.app.created` / `.updated`, the members routes `.member.added` / `.member.removed`;
each reaches only the apps that subscribe *and* that the app it is about consents to (itself,
or the apps it names in `consumers`), never another app by default."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib.db.pool import connector
from chalicelib.messaging.model import EventsSpec, Subscription
from chalicelib.provisioning.database import sync_apps
from chalicelib.runtime import Runtime
from chalicelib.tenancy.manifest import AppSpec, ManifestError, parse_manifest
from tests.conftest import IdentityPlatform, Platform
from tests.identity import Users
from tests.tokens import Signer

LIFE = EventsSpec(subscribes=(Subscription("integreat", ("integreat.app.*",)),))


def _inbox(platform: Platform, slug: str) -> list[tuple[str, str | None, Any]]:
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            f'SELECT type, subject, data FROM "app_{slug}".inbox WHERE source = %s ORDER BY seq',
            ("/integreat",),
        )
        found = [(str(t), s, d) for t, s, d in cur.fetchall()]
    conn.close()
    return found


def _app(slug: str, events: EventsSpec, name: str = "Life") -> AppSpec:
    return AppSpec(slug, name, "invite", ("member",), events=events)


def test_provisioning_announces_created_and_updated_to_the_app_itself(platform: Platform) -> None:
    slug = f"lc{secrets.token_hex(3)}"
    sync = lambda apps: sync_apps(connector(platform.operator_url), apps)  # noqa: E731

    assert sync([_app(slug, LIFE)]).ok
    assert sync([_app(slug, LIFE)]).ok  # unchanged: nothing announced
    assert sync([_app(slug, LIFE, name="Life renamed")]).ok

    assert _inbox(platform, slug) == [
        ("integreat.app.created", slug, {"app": slug, "name": "Life"}),
        ("integreat.app.updated", slug, {"app": slug, "name": "Life renamed"}),
    ]


def test_another_app_hears_of_an_app_only_if_that_app_names_it(platform: Platform) -> None:
    quiet, open_, listener = (f"{p}{secrets.token_hex(3)}" for p in ("lq", "lo", "ll"))
    apps = [
        _app(listener, LIFE),
        _app(quiet, EventsSpec()),  # names nobody: its lifecycle is its own
        _app(open_, EventsSpec(consumers=(listener,))),
    ]

    assert sync_apps(connector(platform.operator_url), apps).ok

    heard = {(subject, kind) for kind, subject, _ in _inbox(platform, listener)}
    assert heard == {(listener, "integreat.app.created"), (open_, "integreat.app.created")}


@pytest.fixture
def church_listens(installed_runtime: Runtime) -> Iterator[None]:
    yield from _listening(installed_runtime)


def _listening(rt: Runtime) -> Iterator[None]:
    """church subscribed to the platform's lifecycle events, in the registry, for the test."""
    db = rt.database
    operator = connector(rt.settings.database_url or "")()
    with operator.cursor() as cur:
        cur.execute("SELECT sections FROM integreat.apps WHERE slug = 'church'")
        (before,) = cur.fetchone()  # type: ignore[misc]
        events = json.loads(json.dumps(before.get("events") or {}))
        events["subscribes"] = [
            {"from": "integreat", "types": ["integreat.app.member.*", "integreat.app.limit.reached"]}
        ]
        cur.execute(
            "UPDATE integreat.apps SET sections = jsonb_set(sections, '{events}', %s::jsonb) WHERE slug = 'church'",
            (json.dumps(events),),
        )
    db.registry.invalidate()
    yield
    with operator.cursor() as cur:
        cur.execute("UPDATE integreat.apps SET sections = %s WHERE slug = 'church'", (json.dumps(before),))
    operator.close()
    db.registry.invalidate()


@pytest.mark.usefixtures("church_listens")
def test_the_members_routes_announce_added_and_removed(
    identity: IdentityPlatform, installed_runtime: Runtime, platform: Platform
) -> None:
    users = Users(identity)
    admin, member = (users.sign_up("church", f"{p}-{secrets.token_hex(3)}@example.org") for p in ("la", "lm"))
    users.add_to_group(admin, "church-admin")
    token = {"Authorization": f"Bearer {users.login('church', admin)['access']}"}
    before = len(_inbox(platform, "church"))

    with Client(chalice_app.app) as api:
        assert api.http.put(f"/apps/church/members/{member}", headers=token).status_code == 200
        assert api.http.delete(f"/apps/church/members/{member}", headers=token).status_code == 204

    new = _inbox(platform, "church")[before:]
    assert [(kind, subject, data["user"]) for kind, subject, data in new] == [
        ("integreat.app.member.added", "church", member),
        ("integreat.app.member.removed", "church", member),
    ]
    assert all(subject != "church" for _, subject, _ in _inbox(platform, "events"))  # not events' to know


def test_a_subscription_to_the_platform_names_only_its_types() -> None:
    head = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n[apps.a]\nname = "A"\n'
    ok = parse_manifest(
        head + '[[apps.a.events.subscribes]]\nfrom = "integreat"\ntypes = ["integreat.app.*"]\n'
    )
    assert ok.app("a").events.subscribes == (Subscription("integreat", ("integreat.app.*",)),)
    with pytest.raises(ManifestError, match=r"integreat publishes no type matching 'integreat\.apps\.x'"):
        parse_manifest(
            head + '[[apps.a.events.subscribes]]\nfrom = "integreat"\ntypes = ["integreat.apps.x"]\n'
        )


def test_an_app_hitting_its_request_limit_hears_it_once_a_minute(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime, platform: Platform
) -> None:
    from chalicelib.usage import gate
    from chalicelib.usage.meter import Meter
    from tests.integration.test_usage import NOON, limits

    signed_runtime.__dict__["meter"] = Meter(clock=lambda: NOON)
    gate._announced.pop("church", None)
    listening = _listening(signed_runtime)
    next(listening)
    before = len(_inbox(platform, "church"))
    try:
        with limits(signed_runtime, "church", requests_per_minute=1):
            answers = [
                signed_api.http.get("/me", headers=identity.bearer(signer, "church", ["church"]))
                for _ in range(4)
            ]
    finally:
        next(listening, None)
        signed_runtime.__dict__.pop("meter", None)

    assert [a.status_code for a in answers] == [200, 429, 429, 429]
    new = _inbox(platform, "church")[before:]
    assert [(kind, data["limit"], data["value"]) for kind, _, data in new] == [
        ("integreat.app.limit.reached", "requests_per_minute", 1)
    ]
