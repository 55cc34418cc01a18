"""The platform's own events about an app's life (issue 19), delivered to the inboxes of the
apps that subscribe to them, through the same two-sided consent as apps' events:

    [[apps.events.subscribes]]
    from = "integreat"                        # the platform (a reserved slug: no app is called so)
    types = ["integreat.app.member.*"]

Each event is *about* one app (`subject` and `data.app`). The subscriber consents by subscribing;
the app it is about consents as the producer does, with one difference: an app's `consumers`
absent means "any subscriber" for its own events, but for its lifecycle events only itself.
That an app exists, who joins it and when it hits a limit is its tenancy, not its domain, so
another app learns it only when the app names that app in `consumers` (deny by default).

Source `/integreat`, stamped here; delivered straight into the inboxes (no queue: the platform
is not a sender the consumer could verify by its role, and it holds the database already).
Delivery is best effort: a failure is logged and never fails the change it reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.messaging.envelope import Envelope
from chalicelib.messaging.spec import LIFECYCLE_TYPES as TYPES
from chalicelib.messaging.spec import PLATFORM, EventsSpec, type_matches

if TYPE_CHECKING:
    from chalicelib.tenancy.database import Database

SOURCE = f"/{PLATFORM}"
CREATED, UPDATED, REMOVED = "integreat.app.created", "integreat.app.updated", "integreat.app.removed"
MEMBER_ADDED, MEMBER_REMOVED = "integreat.app.member.added", "integreat.app.member.removed"
LIMIT_REACHED = "integreat.app.limit.reached"
assert set(TYPES) == {CREATED, UPDATED, REMOVED, MEMBER_ADDED, MEMBER_REMOVED, LIMIT_REACHED}

#: Delivers envelopes into one app's inbox: (app, envelopes) -> how many were new.
Deliver = Callable[[str, list[Envelope]], int]


def recipients(specs: Mapping[str, EventsSpec], about: str, event_type: str) -> tuple[str, ...]:
    """The apps that receive `event_type` about `about`, sorted.

    >>> from chalicelib.messaging.spec import Subscription
    >>> sub = EventsSpec(subscribes=(Subscription("integreat", ("integreat.app.*",)),))
    >>> specs = {"church": sub, "events": sub, "students": EventsSpec(consumers=("events",))}
    >>> recipients(specs, "church", "integreat.app.member.added")    # only church itself
    ('church',)
    >>> recipients(specs, "students", "integreat.app.member.added")  # students names events
    ('events',)
    """
    if event_type not in TYPES:
        return ()
    allowed = specs.get(about, EventsSpec()).consumers or ()
    return tuple(
        slug
        for slug in sorted(specs)
        if ((slug == about and event_type != REMOVED) or slug in allowed)  # a removed app has no inbox
        and any(
            s.producer == PLATFORM and any(type_matches(p, event_type) for p in s.patterns)
            for s in specs[slug].subscribes
        )
    )


def envelope(event_type: str, about: str, data: Mapping[str, Any] | None = None) -> Envelope:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Envelope(
        str(uuid.uuid4()), SOURCE, event_type, now, subject=about, data={"app": about, **(data or {})}
    )


def announce(
    specs: Mapping[str, EventsSpec],
    deliver: Deliver,
    event_type: str,
    about: str,
    data: Mapping[str, Any] | None = None,
) -> list[str]:
    """Deliver one lifecycle event to every consenting subscriber; answers who got it."""
    from chalicelib.observability import logger

    event, delivered = envelope(event_type, about, data), []
    for app in recipients(specs, about, event_type):
        try:
            deliver(app, [event])
            delivered.append(app)
        except Exception as exc:  # best effort: the change it reports has happened regardless
            logger.warning(
                "lifecycle event not delivered", extra={"to": app, "type": event_type, "error": str(exc)}
            )
    return delivered


def announce_from_runtime(
    db: Database, event_type: str, about: str, data: Mapping[str, Any] | None = None
) -> list[str]:
    """`announce` with the runtime's registry for the specs and its tenant helper for delivery."""
    from chalicelib.messaging.inbox import deliver
    from chalicelib.messaging.section import EVENTS
    from chalicelib.tenancy.registry import ACTIVE

    try:
        specs = {slug: EVENTS.of(r) for slug, r in db.registry.all().items() if r.status == ACTIVE}
    except Exception as exc:  # the registry unreadable: the change happened; its event is lost (logged)
        from chalicelib.observability import logger

        logger.warning("lifecycle event not sent", extra={"type": event_type, "error": str(exc)})
        return []
    return announce(specs, lambda app, events: deliver(db, app, events), event_type, about, data)
