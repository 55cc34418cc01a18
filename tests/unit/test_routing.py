"""Unit tests for routing: type patterns, the right to publish, consent on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.messaging.routing import (
    Route,
    build_routes,
    publish_problem,
    recipients,
    type_matches,
)
from chalicelib.messaging.spec import EventsSpec, Subscription
from chalicelib.tenancy.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEDULED = "church.service.scheduled"


def subscribes(producer: str, *patterns: str) -> tuple[Subscription, ...]:
    return (Subscription(producer, patterns),)


def church(consumers: tuple[str, ...] | None = None) -> EventsSpec:
    return EventsSpec(publishes=(SCHEDULED, "church.secret.minutes"), consumers=consumers)


def route(
    specs: dict[str, EventsSpec], producer: str = "church", event_type: str = SCHEDULED
) -> tuple[str, ...]:
    """recipients(), checked against the index a consumer builds once: both must agree."""
    found = recipients(specs, producer, event_type)
    assert build_routes(specs).recipients(producer, event_type) == found
    return found


# --- patterns -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event_type", "matches"),
    [
        # exact
        (SCHEDULED, SCHEDULED, True),
        (SCHEDULED, "church.service.scheduledx", False),
        (SCHEDULED, "church.service", False),
        ("church.service", SCHEDULED, False),
        # a prefix of whole segments, then ".*": one segment or more below it
        ("church.service.*", SCHEDULED, True),
        ("church.service.*", "church.service.x.y", True),
        ("church.service.*", "church.services.x", False),
        ("church.service.*", "church.service", False),
        ("church.service.*", "church.servic", False),
        ("church.service.*", "church.volunteer.needed", False),
        ("church.*", SCHEDULED, True),
        ("church.*", "church.x", True),
        ("church.*", "churchy.x", False),
        ("church.*", "church", False),
        ("church.*", "events.church.x", False),
        # "*" is only a wildcard at the end, after a dot
        ("church.serv*", SCHEDULED, False),
        ("*", SCHEDULED, False),
        ("church.*.scheduled", SCHEDULED, False),
    ],
)
def test_type_matches(pattern: str, event_type: str, matches: bool) -> None:
    assert type_matches(pattern, event_type) is matches


# --- the right to publish -----------------------------------------------------------------------


def test_a_declared_type_may_be_published() -> None:
    assert publish_problem({"church": church()}, "church", SCHEDULED) is None


@pytest.mark.parametrize(
    ("specs", "app", "event_type", "problem"),
    [
        (
            {"church": church()},
            "church",
            "church.secret",
            "church may not publish 'church.secret': it publishes 'church.service.scheduled', 'church.secret.minutes'",
        ),
        (
            {"church": church()},
            "church",
            "church.service.*",
            "church may not publish 'church.service.*': it publishes 'church.service.scheduled', 'church.secret.minutes'",
        ),
        (
            {"church": church(), "events": EventsSpec(publishes=("events.ticket.issued",))},
            "church",
            "events.ticket.issued",
            "church may not publish 'events.ticket.issued': event types are namespaced by the producing app (must start with 'church.')",
        ),
        (
            {"church": church(), "events": EventsSpec(publishes=("events.ticket.issued",))},
            "events",
            SCHEDULED,
            "events may not publish 'church.service.scheduled': event types are namespaced by the producing app (must start with 'events.')",
        ),
        (
            {"students": EventsSpec()},
            "students",
            "students.x",
            "students may not publish 'students.x': it publishes nothing (declare types in [apps.students.events] publishes)",
        ),
        (
            {"church": church()},
            "ghost",
            "ghost.x",
            "ghost may not publish 'ghost.x': 'ghost' is not an app with events",
        ),
    ],
)  # fmt: skip
def test_publish_problem_says_why(
    specs: dict[str, EventsSpec], app: str, event_type: str, problem: str
) -> None:
    assert publish_problem(specs, app, event_type) == problem


# --- consent on both sides ----------------------------------------------------------------------

ALL = None
ONLY_EVENTS = ("events",)
NOBODY: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("allowed", "subscribed", "receives"),
    [
        # producer allows (consumers) | consumer subscribes | delivered?
        (ALL, True, True),
        (ONLY_EVENTS, True, True),
        (("students", "events"), True, True),
        (("students",), True, False),  # the producer excluded it
        (NOBODY, True, False),
        (ALL, False, False),  # it never asked
        (ONLY_EVENTS, False, False),
    ],
)
def test_consent_is_needed_on_both_sides(
    allowed: tuple[str, ...] | None, subscribed: bool, receives: bool
) -> None:
    specs = {
        "church": church(allowed),
        "events": EventsSpec(subscribes=subscribes("church", "church.service.*") if subscribed else ()),
    }

    assert route(specs) == (("events",) if receives else ())


def test_a_consumer_only_gets_the_types_it_subscribed_to() -> None:
    specs = {"church": church(), "events": EventsSpec(subscribes=subscribes("church", "church.service.*"))}

    assert route(specs, event_type=SCHEDULED) == ("events",)
    assert route(specs, event_type="church.secret.minutes") == ()


def test_a_subscription_to_another_producer_gets_nothing_from_this_one() -> None:
    specs = {
        "church": church(),
        "events": EventsSpec(publishes=("events.service.scheduled",)),
        "students": EventsSpec(subscribes=subscribes("events", "events.*")),
    }

    assert route(specs) == ()
    assert route(specs, "events", "events.service.scheduled") == ("students",)


def test_the_producer_never_receives_its_own_events() -> None:
    # A spec built by hand (the manifest refuses both): the producer subscribes to and allows itself.
    specs = {"church": church(("church", "events"))._replace(subscribes=subscribes("church", "church.*"))}

    assert route(specs) == ()


def test_an_app_absent_from_the_specs_gets_nothing() -> None:
    specs = {
        "church": church(("events", "students")),
        "events": EventsSpec(subscribes=subscribes("church", "church.*")),
    }

    assert route(specs) == ("events",)  # students is allowed, but has no spec: not an active app


def test_an_absent_producer_routes_nowhere() -> None:
    specs = {"events": EventsSpec(subscribes=subscribes("church", "church.*"))}

    assert route(specs) == ()


def test_an_undeclared_type_has_no_recipients_even_if_a_pattern_matches() -> None:
    specs = {"church": church(), "events": EventsSpec(subscribes=subscribes("church", "church.*"))}

    assert route(specs, event_type="church.undeclared") == ()


def test_recipients_are_sorted_and_listed_once() -> None:
    specs = {
        "church": church(),
        "zeta": EventsSpec(subscribes=subscribes("church", "church.*")),
        "alpha": EventsSpec(subscribes=subscribes("church", SCHEDULED, "church.service.*")),
        "mid": EventsSpec(
            subscribes=(Subscription("church", ("church.*",)), Subscription("church", (SCHEDULED,)))
        ),
        "other": EventsSpec(subscribes=subscribes("church", "church.secret.*")),
    }

    assert route(specs) == ("alpha", "mid", "zeta")


def test_the_index_keeps_only_consenting_pairs() -> None:
    specs = {
        "church": church(ONLY_EVENTS),
        "events": EventsSpec(subscribes=subscribes("church", "church.service.*")),
        "students": EventsSpec(subscribes=subscribes("church", "church.*")),
    }

    routes = build_routes(specs)

    assert routes.routes == {"church": (Route("events", ("church.service.*",)),)}
    assert routes.publishes["church"] == frozenset({SCHEDULED, "church.secret.minutes"})


# --- the shipped manifest -----------------------------------------------------------------------


def test_the_shipped_manifest_routes_as_documented() -> None:
    manifest = load_manifest(REPO_ROOT / "integreat.toml")
    specs = {app.slug: app.events for app in manifest.apps}

    assert route(specs, "church", SCHEDULED) == ("events",)
    assert route(specs, "church", "church.volunteer.needed") == ()  # events subscribed to services only
    assert route(specs, "events", "events.event.published") == ("church", "students")
    assert route(specs, "events", "events.ticket.issued") == ()
    assert publish_problem(specs, "students", "students.x") is not None
    assert publish_problem(specs, "church", "church.service.cancelled") is None
