"""What an app may publish and receive, as declared by `[apps.<slug>.events]`, and its parser.

Delivery needs consent on both sides (issue 5): the producer declares the exact types it
publishes and may name the only apps allowed to receive them; the consumer subscribes to a
producer's types by pattern. `chalicelib.messaging.routing` decides from these specs alone.

The model and the type grammar are read at run time (the publisher and the consumer route from
them), so they are NamedTuples and plain functions, and this module imports nothing beyond `re`
and `typing`. The parser only runs for the manifest (operator tooling and provisioning); it reads
through the `Table` it is handed, so the TOML reader is only imported inside it.

    [apps.church.events]
    publishes = ["church.service.scheduled", "church.service.cancelled"]
    consumers = ["events"]          # optional; absent: any app that subscribes
    forward_to_queue = false        # optional: also copy delivered events to the app's own queue

    [[apps.events.events.subscribes]]
    from = "church"
    types = ["church.service.*"]    # an exact type, or a prefix ending in ".*"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from chalicelib.messaging.model import EventsSpec as EventsSpec
from chalicelib.messaging.model import Subscription as Subscription

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

#: An event type: the producing app's slug, then one or more dot-separated segments.
SEGMENT = r"[a-z0-9][a-z0-9_-]{0,62}"
_SLUG = r"[a-z][a-z0-9_]{0,39}"
EVENT_TYPE = re.compile(rf"{_SLUG}(?:\.{SEGMENT})+")
#: A subscription's pattern: an exact type, or a prefix of whole segments followed by ".*".
TYPE_PATTERN = re.compile(rf"{_SLUG}(?:\.{SEGMENT})*\.\*|{_SLUG}(?:\.{SEGMENT})+")
MAX_TYPE_LENGTH = 200
TYPE_RULE = "'<app>.<segment>[.<segment>...]', each segment a-z or 0-9, then up to 62 of a-z, 0-9, '_', '-'"
PATTERN_RULE = "an event type, or a prefix of whole segments ending in '.*' such as 'church.service.*'"
#: A pattern ending in this matches every type below its prefix: "church.service.*".
WILDCARD = ".*"

_JSON_TYPES = {dict: "an object", list: "an array", type(None): "null"}

EVENTS_KEYS = ("publishes", "consumers", "subscribes", "forward_to_queue")
SUBSCRIPTION_KEYS = ("from", "types")


def type_problem(event_type: str, app: str) -> str | None:
    """What is wrong with `event_type` as a type published by `app`, or None.

    >>> type_problem("events.ticket.issued", "church")
    "'events.ticket.issued' is not namespaced by church (must start with 'church.')"
    """
    if not event_type.startswith(f"{app}."):
        return f"{show(event_type)} is not namespaced by {app} (must start with {app + '.'!r})"
    if len(event_type) > MAX_TYPE_LENGTH:
        return f"is {len(event_type)} characters long; the limit is {MAX_TYPE_LENGTH}"
    if not EVENT_TYPE.fullmatch(event_type):
        return f"{show(event_type)} is not an event type: {TYPE_RULE}"
    return None


def pattern_problem(pattern: str, producer: str) -> str | None:
    """What is wrong with `pattern` in a subscription to `producer`, or None."""
    if not pattern.startswith(f"{producer}."):
        return f"{show(pattern)} does not name {producer}'s events (must start with {producer + '.'!r})"
    if len(pattern) > MAX_TYPE_LENGTH:
        return f"is {len(pattern)} characters long; the limit is {MAX_TYPE_LENGTH}"
    if not TYPE_PATTERN.fullmatch(pattern):
        return f"{show(pattern)} is not a type pattern: {PATTERN_RULE}"
    return None


def type_matches(pattern: str, event_type: str) -> bool:
    """Is `event_type` the type `pattern` names, or, for "<prefix>.*", a type below that prefix?

    The wildcard stands for one or more whole segments, never part of one:

    >>> type_matches("church.service.*", "church.service.x.y"), type_matches("church.service.*", "church.services.x")
    (True, False)
    >>> type_matches("church.service.*", "church.service")
    False
    """
    if pattern.endswith(WILDCARD):
        prefix = pattern[:-1]  # keeps the dot: "church.service."
        return len(event_type) > len(prefix) and event_type.startswith(prefix)
    return event_type == pattern


def show(value: object, limit: int = 60) -> str:
    """A value for a one-line message: strings quoted, escaped and cut; others by their JSON type."""
    if isinstance(value, str):
        return cut(repr(value), limit)
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"a number {value}"
    return _JSON_TYPES.get(type(value), f"a {type(value).__name__}")


def cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


# --- the manifest parser -------------------------------------------------------------------------


def parse_events(app: Table, slug: str) -> EventsSpec | None:
    """The app's `events` table; None if it breaks a rule (each problem is reported on `app`).

    Rules between apps (is a consumer or producer an app at all, does a pattern match anything
    the producer publishes) need every app parsed first: `check_event_links`.
    """
    table = app.table("events", "a table, written [apps.<slug>.events]", default={})
    if table is None:
        return None
    before = len(table.issues)
    table.check_keys(EVENTS_KEYS)
    rule = f'an array of event types such as ["{slug}.thing.happened"]'
    publishes = _strings(table, "publishes", rule, lambda item: type_problem(item, slug))
    consumers = _consumers(table, slug) if "consumers" in table.values else None
    subscribes = _subscriptions(table, slug)
    forward = table.values.get("forward_to_queue", False)
    if not isinstance(forward, bool):
        table.reject("forward_to_queue", "true or false", forward)
    elif forward:
        # Refused rather than ignored: forwarding to an app's own queue is not built yet (it needs a
        # queue and IAM grants per app); accepting `true` would silently drop deliveries.
        table.report(
            "forward_to_queue", "true is not supported yet: read the inbox (API or the app's LOGIN role)"
        )
    if len(table.issues) != before:
        return None
    return EventsSpec(publishes, consumers, subscribes, forward)


def _strings(table: Table, name: str, rule: str, problem: Callable[[str], str | None]) -> tuple[str, ...]:
    """The array of strings `name` (absent: empty); each item checked by `problem`, listed once."""
    raw = table.values.get(name, [])
    if not isinstance(raw, list):
        table.reject(name, rule, raw)
        return ()
    items = table.child(name)
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            items.reject(index, "a string", item)
        elif (found := problem(item)) is not None:
            items.report(index, found)
        elif item in seen:
            items.report(index, f"duplicate {item!r}, first at {name}[{seen[item]}]; list it once")
        else:
            seen[item] = index
    return tuple(seen)


def _consumers(table: Table, slug: str) -> tuple[str, ...]:
    def problem(consumer: str) -> str | None:
        return "is the app itself; an app never receives its own events" if consumer == slug else None

    return _strings(table, "consumers", 'an array of app slugs such as ["events"]', problem)


def _subscriptions(table: Table, slug: str) -> tuple[Subscription, ...]:
    raw = table.values.get("subscribes", [])
    if not isinstance(raw, list):
        table.reject("subscribes", "an array of tables, written [[apps.<slug>.events.subscribes]]", raw)
        return ()
    items = table.child("subscribes")
    found: dict[str, int] = {}
    subscriptions = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            items.reject(
                index, f"a table with keys {SUBSCRIPTION_KEYS[0]!r} and {SUBSCRIPTION_KEYS[1]!r}", entry
            )
            continue
        fields = _entry(items, index, entry)
        subscription = _subscription(fields, slug)
        if subscription is None:
            continue
        if subscription.producer in found:
            where = f"subscribes[{found[subscription.producer]}]"
            fields.report(
                "from",
                f"{subscription.producer!r} is subscribed to at {where} already; list all its types there",
            )
            continue
        found[subscription.producer] = index
        subscriptions.append(subscription)
    return tuple(subscriptions)


def _entry(items: Table, index: int, values: Mapping[str, Any]) -> Table:
    """A table for entry `index` of an array of tables, so that issues read `subscribes[0].from`."""
    from chalicelib.tenancy.toml_reader import Table

    # `Table.where` is typed as names only, but `dotted_key` renders an int part as "[index]".
    return Table(values, cast("tuple[str, ...]", (*items.where, index)), items.issues)


def _subscription(entry: Table, slug: str) -> Subscription | None:
    before = len(entry.issues)
    entry.check_keys(SUBSCRIPTION_KEYS)
    producer = entry.text("from", "the slug of the producing app, such as 'church'")
    if producer == slug:
        entry.report("from", "is the app itself; an app does not subscribe to its own events")
    patterns = _patterns(entry, producer)
    if producer is None or len(entry.issues) != before:
        return None
    return Subscription(producer, patterns)


def _patterns(entry: Table, producer: str | None) -> tuple[str, ...]:
    rule = 'a non-empty array of type patterns such as ["church.service.*", "church.volunteer.needed"]'
    if "types" not in entry.values:
        entry.report("types", f"is required: {rule}")
        return ()
    if entry.values["types"] == []:
        entry.report("types", f"is empty: it must be {rule}")
        return ()

    def problem(pattern: str) -> str | None:
        # Without a valid `from` (already reported) there is no namespace to check against.
        return None if producer is None else pattern_problem(pattern, producer)

    return _strings(entry, "types", rule, problem)


# --- rules between apps --------------------------------------------------------------------------


def check_event_links(apps: Table, events: Mapping[str, EventsSpec | None]) -> None:
    """Report what one app's events say about other apps, once every app is parsed.

    `apps` is the `[apps]` table; `events` maps every declared app's slug to its events (None:
    invalid and already reported, so neither checked nor checked against).
    """
    for slug, spec in events.items():
        if spec is not None:
            _check_links(apps.child(slug).child("events"), spec, events)


def _check_links(table: Table, spec: EventsSpec, events: Mapping[str, EventsSpec | None]) -> None:
    consumers = table.child("consumers")
    for index, consumer in enumerate(spec.consumers or ()):
        if consumer not in events:
            consumers.report(index, _unknown_app(consumer, events))
    subscribes = table.child("subscribes")
    for index, subscription in enumerate(spec.subscribes):
        entry = _entry(subscribes, index, {})
        if subscription.producer == PLATFORM:  # the platform's lifecycle events (messaging/lifecycle.py)
            _check_patterns(entry.child("types"), subscription, LIFECYCLE_TYPES)
            continue
        if subscription.producer not in events:
            entry.report("from", _unknown_app(subscription.producer, events))
            continue
        producer = events[subscription.producer]
        if producer is not None:
            _check_patterns(entry.child("types"), subscription, producer.publishes)


#: The platform's own producer and the types of its lifecycle events (chalicelib/messaging/lifecycle.py).
PLATFORM = "integreat"
LIFECYCLE_TYPES = (
    "integreat.app.created", "integreat.app.updated", "integreat.app.removed",
    "integreat.app.member.added", "integreat.app.member.removed", "integreat.app.limit.reached",
)  # fmt: skip


def _check_patterns(types: Table, subscription: Subscription, published: tuple[str, ...]) -> None:
    """Consent needs something to consent to: each pattern must match a type the producer publishes."""
    name = subscription.producer
    offer = ", ".join(repr(t) for t in published) or f"none (its [apps.{name}.events] publishes nothing)"
    for index, pattern in enumerate(subscription.patterns):
        if not any(type_matches(pattern, event_type) for event_type in published):
            types.report(index, f"{name} publishes no type matching {pattern!r}; it publishes: {offer}")


def _unknown_app(slug: str, events: Mapping[str, object]) -> str:
    import difflib

    close = difflib.get_close_matches(slug, list(events), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{show(slug)} is not an app of this manifest{hint}"
