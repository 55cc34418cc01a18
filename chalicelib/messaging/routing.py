"""Who may publish an event type, and who receives it: the one place that routes events.

Delivery needs consent on both sides (issue 5): the consumer subscribes to the producer's type
by pattern, and the producer allows that consumer (it names no consumers, or names this one).
An app never receives its own events, and an app with no spec receives nothing.

Pure and quick to import (`spec` and typing only): the publisher asks `publish_problem` per
event, the consumer `recipients`. A consumer handling many events builds `build_routes(specs)`
once per registry snapshot; its lookups then cost the same with 3 apps or 1,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from chalicelib.messaging.spec import EventsSpec, show
from chalicelib.messaging.spec import type_matches as type_matches  # re-exported: part of this API


def publish_problem(specs: Mapping[str, EventsSpec], app: str, event_type: str) -> str | None:
    """Why `app` may not publish `event_type`, or None if it may (it declared that exact type).

    >>> from chalicelib.messaging.spec import EventsSpec
    >>> publish_problem({"church": EventsSpec(("church.service.scheduled",))}, "church", "church.secret")
    "church may not publish 'church.secret': it publishes 'church.service.scheduled'"
    """
    spec = specs.get(app)
    namespaced = event_type.startswith(f"{app}.")
    if spec is not None and namespaced and event_type in spec.publishes:
        return None  # the common case (every delivered event), decided without building a message
    refusal = f"{app} may not publish {show(event_type)}"
    if spec is None:
        return f"{refusal}: {app!r} is not an app with events"
    if not namespaced:
        return f"{refusal}: event types are namespaced by the producing app (must start with {app + '.'!r})"
    if not spec.publishes:
        return f"{refusal}: it publishes nothing (declare types in [apps.{app}.events] publishes)"
    return f"{refusal}: it publishes {', '.join(repr(t) for t in spec.publishes)}"


def recipients(specs: Mapping[str, EventsSpec], producer: str, event_type: str) -> tuple[str, ...]:
    """The apps that receive `event_type` from `producer`, sorted; () if none may.

    >>> from chalicelib.messaging.spec import EventsSpec, Subscription
    >>> specs = {
    ...     "church": EventsSpec(("church.service.scheduled",), consumers=("events",)),
    ...     "events": EventsSpec(subscribes=(Subscription("church", ("church.service.*",)),)),
    ...     "students": EventsSpec(subscribes=(Subscription("church", ("church.*",)),)),
    ... }
    >>> recipients(specs, "church", "church.service.scheduled")  # church does not allow students
    ('events',)
    """
    return build_routes(specs).recipients(producer, event_type)


class Route(NamedTuple):
    """A consenting pair: `consumer` subscribed to these patterns, and the producer allows it."""

    consumer: str
    patterns: tuple[str, ...]


class Routes(NamedTuple):
    """The routing decisions of one set of specs, indexed by producer. Build with `build_routes`."""

    publishes: Mapping[str, frozenset[str]]  # producer -> the exact types it declared
    routes: Mapping[str, tuple[Route, ...]]  # producer -> consenting consumers, sorted by slug

    def recipients(self, producer: str, event_type: str) -> tuple[str, ...]:
        """As `recipients(specs, producer, event_type)`, without looking at the other producers."""
        # A type the producer never declared has no consent from the producer: nobody gets it.
        if event_type not in self.publishes.get(producer, ()):
            return ()
        found = (
            route.consumer
            for route in self.routes.get(producer, ())
            if any(type_matches(pattern, event_type) for pattern in route.patterns)
        )
        return tuple(dict.fromkeys(found))  # one delivery per consumer, whatever its patterns


def build_routes(specs: Mapping[str, EventsSpec]) -> Routes:
    """Index `specs` by producer, keeping only the subscriptions both sides consent to."""
    routes: dict[str, list[Route]] = {}
    for consumer in sorted(specs):
        for subscription in specs[consumer].subscribes:
            producer = specs.get(subscription.producer)
            if producer is None or subscription.producer == consumer:
                continue
            if producer.consumers is None or consumer in producer.consumers:
                routes.setdefault(subscription.producer, []).append(Route(consumer, subscription.patterns))
    publishes = {slug: frozenset(spec.publishes) for slug, spec in specs.items()}
    return Routes(publishes, {producer: tuple(found) for producer, found in routes.items()})
