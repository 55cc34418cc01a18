"""The lifecycle events provisioning reports (`integreat.app.created`, `.updated`, `.removed`):
delivered by the operator's own connections, as the app's role (SET LOCAL ROLE, as migrations
run), into each consenting subscriber's inbox in its cell (chalicelib/messaging/lifecycle.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from psycopg2.extras import execute_values

from chalicelib.db.pool import Connect
from chalicelib.messaging import lifecycle
from chalicelib.messaging.envelope import Envelope
from chalicelib.messaging.inbox import INSERT, row
from chalicelib.messaging.spec import EventsSpec
from chalicelib.tenancy.slugs import app_role, schema_name


def operator_delivery(connect_of: Callable[[str], Connect]) -> lifecycle.Deliver:
    """Delivery into `app`'s inbox over the operator connection of the app's cell."""

    def deliver(app: str, events: list[Envelope]) -> int:
        conn = connect_of(app)()
        try:
            with conn.cursor() as cur:
                cur.execute(f'BEGIN; SET LOCAL ROLE "{app_role(app)}"')
                statement = INSERT.replace("INSERT INTO inbox", f'INSERT INTO "{schema_name(app)}".inbox', 1)
                execute_values(cur, statement, [row(e) for e in events])
                cur.execute("COMMIT")
                return len(events)
        finally:
            conn.close()

    return deliver


def announce_changes(
    specs: Mapping[str, EventsSpec],
    deliver: lifecycle.Deliver,
    created: Iterable[str],
    updated: Iterable[str],
    names: Mapping[str, str],
) -> None:
    for slug in created:
        lifecycle.announce(specs, deliver, lifecycle.CREATED, slug, _about(slug, names))
    for slug in updated:
        lifecycle.announce(specs, deliver, lifecycle.UPDATED, slug, _about(slug, names))


def _about(slug: str, names: Mapping[str, str]) -> dict[str, Any]:
    return {"name": names.get(slug, slug)}
