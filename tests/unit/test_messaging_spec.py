"""Unit tests for `[apps.<slug>.events]`: the shipped events, the model, and every rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.messaging.spec import (
    MAX_TYPE_LENGTH,
    EventsSpec,
    Subscription,
    pattern_problem,
    type_problem,
)
from chalicelib.tenancy.manifest import AppSpec, ManifestError, ManifestIssue, load_manifest, parse_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
APPS = '[apps.church]\nname = "Grace"\n[apps.events]\nname = "City"\n[apps.students]\nname = "Hub"\n'
CHURCH = "apps.church.events"
EVENTS = "apps.events.events"
#: A producer every test may subscribe to.
CHURCH_PUBLISHES = (
    '[apps.church.events]\npublishes = ["church.service.scheduled", "church.service.cancelled"]\n'
)


def events_toml(body: str) -> str:
    """A valid platform with three apps, plus the events tables in `body`."""
    return f"{PLATFORM}\n{APPS}\n{body}"


def subscription(app: str, producer: str, *types: str, extra: str = "") -> str:
    listed = ", ".join(f'"{t}"' for t in types)
    return f'[[apps.{app}.events.subscribes]]\nfrom = "{producer}"\ntypes = [{listed}]\n{extra}'


def specs(body: str) -> dict[str, EventsSpec]:
    return {app.slug: app.events for app in parse_manifest(events_toml(body)).apps}


def issues_of(body: str) -> tuple[ManifestIssue, ...]:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(events_toml(body), "bad.toml")
    return caught.value.issues


# --- the shipped manifest -----------------------------------------------------------------------


def test_shipped_manifest_declares_the_demo_events() -> None:
    manifest = load_manifest(REPO_ROOT / "integreat.toml")

    church, events, students = (manifest.app(slug).events for slug in ("church", "events", "students"))

    assert church == EventsSpec(
        publishes=("church.service.scheduled", "church.service.cancelled", "church.volunteer.needed"),
        consumers=("events",),
        subscribes=(Subscription("events", ("events.event.*",)),),
    )
    assert events == EventsSpec(
        publishes=("events.event.published", "events.ticket.issued"),
        consumers=None,
        subscribes=(Subscription("church", ("church.service.*",)),),
    )
    assert students == EventsSpec(subscribes=(Subscription("events", ("events.event.published",)),))


# --- valid events tables ------------------------------------------------------------------------


def test_an_app_without_events_publishes_and_receives_nothing() -> None:
    spec = specs("")["church"]

    assert spec == EventsSpec(publishes=(), consumers=None, subscribes=(), forward_to_queue=False)
    assert AppSpec("church", "Grace", "invite", ("member",)).events == EventsSpec()


def test_every_key_is_kept() -> None:
    body = (
        '[apps.church.events]\npublishes = ["church.service.scheduled", "church.a-b_c.d9"]\n'
        'consumers = ["events", "students"]\nforward_to_queue = false\n'
        + subscription("church", "events", "events.*")
        + '[apps.events.events]\npublishes = ["events.event.published"]\n'
    )

    assert specs(body)["church"] == EventsSpec(
        publishes=("church.service.scheduled", "church.a-b_c.d9"),
        consumers=("events", "students"),
        subscribes=(Subscription("events", ("events.*",)),),
        forward_to_queue=False,
    )


def test_an_empty_consumers_list_allows_nobody_and_differs_from_absent() -> None:
    assert specs("[apps.church.events]\nconsumers = []\n")["church"].consumers == ()
    assert specs("[apps.church.events]\n")["church"].consumers is None


def test_subscriptions_keep_file_order_and_every_pattern_kind() -> None:
    body = (
        CHURCH_PUBLISHES
        + '[apps.events.events]\npublishes = ["events.ticket.issued"]\n'
        + subscription("students", "church", "church.*", "church.service.*", "church.service.cancelled")
        + subscription("students", "events", "events.ticket.issued")
    )

    assert specs(body)["students"].subscribes == (
        Subscription("church", ("church.*", "church.service.*", "church.service.cancelled")),
        Subscription("events", ("events.ticket.issued",)),
    )


def test_subscriptions_may_be_written_inline() -> None:
    body = CHURCH_PUBLISHES + '[apps.events.events]\nsubscribes = [{from = "church", types = ["church.*"]}]\n'

    assert specs(body)["events"].subscribes == (Subscription("church", ("church.*",)),)


def test_a_subscriber_the_producer_does_not_allow_is_still_a_valid_manifest() -> None:
    # Consent is per side: the subscription stands and delivers nothing until the producer agrees.
    body = CHURCH_PUBLISHES + 'consumers = ["events"]\n' + subscription("students", "church", "church.*")

    assert specs(body)["students"].subscribes == (Subscription("church", ("church.*",)),)


@pytest.mark.parametrize(
    "event_type",
    ["church.x", "church.0", "church.a.b.c.d", "church.x-y_z", "church." + "a" * 63, "church.a" * 25],
)
def test_valid_event_types(event_type: str) -> None:
    assert len(event_type) <= MAX_TYPE_LENGTH
    assert type_problem(event_type, "church") is None


@pytest.mark.parametrize("pattern", ["church.*", "church.service.*", "church.a.b.*", "church.exact.type"])
def test_valid_patterns(pattern: str) -> None:
    assert pattern_problem(pattern, "church") is None


# --- invalid events tables: one case per rule, with the exact message ----------------------------

TYPE_RULE = "'<app>.<segment>[.<segment>...]', each segment a-z or 0-9, then up to 62 of a-z, 0-9, '_', '-'"
PATTERN_RULE = "an event type, or a prefix of whole segments ending in '.*' such as 'church.service.*'"
ALLOWED = "allowed: 'publishes', 'consumers', 'subscribes', 'forward_to_queue'"
LONG = "church." + "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + ".ddddddddddd"
assert len(LONG) == MAX_TYPE_LENGTH + 1
#: How a message shows a value too long to quote whole: cut to 60 characters.
CUT = "'church." + "a" * 49 + "..."


def case(case_id: str, body: str, key: str, message: str) -> object:
    return pytest.param(body, key, message, id=case_id)


def publishes(*types: str) -> str:
    return "[apps.church.events]\npublishes = [" + ", ".join(f'"{t}"' for t in types) + "]\n"


INVALID = [
    # the events table
    # (APPS ends with [apps.students], so a body's first lines are keys of that table.)
    case("events-not-table", 'events = ["x"]\n', "apps.students.events", "must be a table, written [apps.<slug>.events]; got array ['x']"),
    case("unknown-key", "[apps.church.events]\npublish = []\n", f"{CHURCH}.publish", f"unknown key (did you mean 'publishes'?); {ALLOWED}"),
    # publishes
    case("publishes-not-array", '[apps.church.events]\npublishes = "church.x"\n', f"{CHURCH}.publishes", """must be an array of event types such as ["church.thing.happened"]; got 'church.x'"""),
    case("type-not-string", "[apps.church.events]\npublishes = [1]\n", f"{CHURCH}.publishes[0]", "must be a string; got integer 1"),
    case("type-other-app", publishes("church.x", "events.x"), f"{CHURCH}.publishes[1]", "'events.x' is not namespaced by church (must start with 'church.')"),
    case("type-bare-slug", publishes("church"), f"{CHURCH}.publishes[0]", "'church' is not namespaced by church (must start with 'church.')"),
    case("type-prefix-of-slug", publishes("churchy.x"), f"{CHURCH}.publishes[0]", "'churchy.x' is not namespaced by church (must start with 'church.')"),
    case("type-upper", publishes("church.Service"), f"{CHURCH}.publishes[0]", f"'church.Service' is not an event type: {TYPE_RULE}"),
    case("type-empty-segment", publishes("church..x"), f"{CHURCH}.publishes[0]", f"'church..x' is not an event type: {TYPE_RULE}"),
    case("type-trailing-dot", publishes("church.x."), f"{CHURCH}.publishes[0]", f"'church.x.' is not an event type: {TYPE_RULE}"),
    case("type-wildcard", publishes("church.*"), f"{CHURCH}.publishes[0]", f"'church.*' is not an event type: {TYPE_RULE}"),
    case("type-segment-start", publishes("church._x"), f"{CHURCH}.publishes[0]", f"'church._x' is not an event type: {TYPE_RULE}"),
    case("type-segment-too-long", publishes("church." + "a" * 64), f"{CHURCH}.publishes[0]", f"{CUT} is not an event type: {TYPE_RULE}"),
    case("type-too-long", publishes(LONG), f"{CHURCH}.publishes[0]", "is 201 characters long; the limit is 200"),
    case("type-space", publishes("church.a b"), f"{CHURCH}.publishes[0]", f"'church.a b' is not an event type: {TYPE_RULE}"),
    case("type-duplicate", publishes("church.x", "church.y", "church.x"), f"{CHURCH}.publishes[2]", "duplicate 'church.x', first at publishes[0]; list it once"),
    # consumers
    case("consumers-not-array", '[apps.church.events]\nconsumers = "events"\n', f"{CHURCH}.consumers", """must be an array of app slugs such as ["events"]; got 'events'"""),
    case("consumer-not-string", "[apps.church.events]\nconsumers = [true]\n", f"{CHURCH}.consumers[0]", "must be a string; got boolean true"),
    case("consumer-self", '[apps.church.events]\nconsumers = ["events", "church"]\n', f"{CHURCH}.consumers[1]", "is the app itself; an app never receives its own events"),
    case("consumer-duplicate", '[apps.church.events]\nconsumers = ["events", "events"]\n', f"{CHURCH}.consumers[1]", "duplicate 'events', first at consumers[0]; list it once"),
    case("consumer-unknown", '[apps.church.events]\nconsumers = ["evnts"]\n', f"{CHURCH}.consumers[0]", "'evnts' is not an app of this manifest (did you mean 'events'?)"),
    case("consumer-unknown-no-hint", '[apps.church.events]\nconsumers = ["zzz"]\n', f"{CHURCH}.consumers[0]", "'zzz' is not an app of this manifest"),
    # forward_to_queue
    case("forward-not-bool", '[apps.church.events]\nforward_to_queue = "yes"\n', f"{CHURCH}.forward_to_queue", "must be true or false; got 'yes'"),
    # subscribes
    case("subscribes-not-array", '[apps.events.events]\nsubscribes = "church"\n', f"{EVENTS}.subscribes", "must be an array of tables, written [[apps.<slug>.events.subscribes]]; got 'church'"),
    case("subscription-not-table", '[apps.events.events]\nsubscribes = ["church"]\n', f"{EVENTS}.subscribes[0]", "must be a table with keys 'from' and 'types'; got 'church'"),
    case("subscription-unknown-key", CHURCH_PUBLISHES + subscription("events", "church", "church.*", extra="type = 1\n"), f"{EVENTS}.subscribes[0].type", "unknown key (did you mean 'types'?); allowed: 'from', 'types'"),
    case("from-missing", '[[apps.events.events.subscribes]]\ntypes = ["church.*"]\n', f"{EVENTS}.subscribes[0].from", "is required: the slug of the producing app, such as 'church'"),
    case("from-not-string", '[[apps.events.events.subscribes]]\nfrom = 1\ntypes = ["church.*"]\n', f"{EVENTS}.subscribes[0].from", "must be a string, the slug of the producing app, such as 'church'; got integer 1"),
    case("from-self", CHURCH_PUBLISHES + subscription("church", "church", "church.*"), f"{CHURCH}.subscribes[0].from", "is the app itself; an app does not subscribe to its own events"),
    case("from-unknown", subscription("events", "chruch", "chruch.*"), f"{EVENTS}.subscribes[0].from", "'chruch' is not an app of this manifest (did you mean 'church'?)"),
    case("from-twice", CHURCH_PUBLISHES + subscription("events", "church", "church.*") + subscription("events", "church", "church.service.*"), f"{EVENTS}.subscribes[1].from", "'church' is subscribed to at subscribes[0] already; list all its types there"),
    case("types-missing", CHURCH_PUBLISHES + '[[apps.events.events.subscribes]]\nfrom = "church"\n', f"{EVENTS}.subscribes[0].types", """is required: a non-empty array of type patterns such as ["church.service.*", "church.volunteer.needed"]"""),
    case("types-empty", CHURCH_PUBLISHES + subscription("events", "church"), f"{EVENTS}.subscribes[0].types", """is empty: it must be a non-empty array of type patterns such as ["church.service.*", "church.volunteer.needed"]"""),
    case("types-not-array", CHURCH_PUBLISHES + '[[apps.events.events.subscribes]]\nfrom = "church"\ntypes = "church.*"\n', f"{EVENTS}.subscribes[0].types", """must be a non-empty array of type patterns such as ["church.service.*", "church.volunteer.needed"]; got 'church.*'"""),
    case("pattern-not-string", CHURCH_PUBLISHES + '[[apps.events.events.subscribes]]\nfrom = "church"\ntypes = [2]\n', f"{EVENTS}.subscribes[0].types[0]", "must be a string; got integer 2"),
    case("pattern-other-producer", CHURCH_PUBLISHES + subscription("events", "church", "church.*", "students.*"), f"{EVENTS}.subscribes[0].types[1]", "'students.*' does not name church's events (must start with 'church.')"),
    case("pattern-star-alone", CHURCH_PUBLISHES + subscription("events", "church", "*"), f"{EVENTS}.subscribes[0].types[0]", "'*' does not name church's events (must start with 'church.')"),
    case("pattern-partial-segment", CHURCH_PUBLISHES + subscription("events", "church", "church.serv*"), f"{EVENTS}.subscribes[0].types[0]", f"'church.serv*' is not a type pattern: {PATTERN_RULE}"),
    case("pattern-inner-star", CHURCH_PUBLISHES + subscription("events", "church", "church.*.scheduled"), f"{EVENTS}.subscribes[0].types[0]", f"'church.*.scheduled' is not a type pattern: {PATTERN_RULE}"),
    case("pattern-double-star", CHURCH_PUBLISHES + subscription("events", "church", "church.**"), f"{EVENTS}.subscribes[0].types[0]", f"'church.**' is not a type pattern: {PATTERN_RULE}"),
    case("pattern-too-long", CHURCH_PUBLISHES + subscription("events", "church", LONG), f"{EVENTS}.subscribes[0].types[0]", "is 201 characters long; the limit is 200"),
    case("pattern-duplicate", CHURCH_PUBLISHES + subscription("events", "church", "church.*", "church.*"), f"{EVENTS}.subscribes[0].types[1]", "duplicate 'church.*', first at types[0]; list it once"),
    case("pattern-matches-nothing", CHURCH_PUBLISHES + subscription("events", "church", "church.service.*", "church.nothing.*"), f"{EVENTS}.subscribes[0].types[1]", "church publishes no type matching 'church.nothing.*'; it publishes: 'church.service.scheduled', 'church.service.cancelled'"),
    case("pattern-exact-not-published", CHURCH_PUBLISHES + subscription("events", "church", "church.service"), f"{EVENTS}.subscribes[0].types[0]", "church publishes no type matching 'church.service'; it publishes: 'church.service.scheduled', 'church.service.cancelled'"),
    case("pattern-producer-publishes-nothing", subscription("events", "church", "church.*"), f"{EVENTS}.subscribes[0].types[0]", "church publishes no type matching 'church.*'; it publishes: none (its [apps.church.events] publishes nothing)"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "key", "message"), INVALID)
def test_invalid_events_are_reported_with_key_and_exact_message(body: str, key: str, message: str) -> None:
    issues = issues_of(body)

    assert ManifestIssue(key, message) in issues, issues


def test_every_problem_is_reported_in_one_pass() -> None:
    body = (
        CHURCH_PUBLISHES
        + 'consumers = ["nobody"]\n'
        + '[apps.events.events]\npublishes = ["church.x", "events.ok", "events.ok"]\n'
        + subscription("students", "church", "church.none.*")
        + subscription("students", "ghost", "ghost.*")
    )

    keys = [issue.key for issue in issues_of(body)]

    # Each app's own rules first, in file order; then the rules between apps.
    assert keys == [
        f"{EVENTS}.publishes[0]",
        f"{EVENTS}.publishes[2]",
        f"{CHURCH}.consumers[0]",
        "apps.students.events.subscribes[0].types[0]",
        "apps.students.events.subscribes[1].from",
    ]


def test_an_invalid_producer_is_not_checked_against() -> None:
    # church's own table is wrong: its publishes are unknown, so a pattern is not judged against them.
    body = '[apps.church.events]\npublishes = ["events.x"]\n' + subscription(
        "events", "church", "church.any.*"
    )

    keys = [issue.key for issue in issues_of(body)]

    assert keys == [f"{CHURCH}.publishes[0]"]


def test_an_app_invalid_for_another_reason_is_still_an_app_for_links() -> None:
    text = PLATFORM + '[apps.church]\nname = ""\n' + CHURCH_PUBLISHES + '[apps.events]\nname = "City"\n'
    text += (
        subscription("events", "church", "church.service.*")
        + '[apps.events.events]\nconsumers = ["church"]\n'
    )

    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)

    assert [issue.key for issue in caught.value.issues] == ["apps.church.name"]


def test_cross_app_issues_name_the_file_and_key_on_one_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(events_toml(subscription("events", "church", "church.*")), "apps.toml")

    assert str(caught.value) == (
        "apps.toml: apps.events.events.subscribes[0].types[0]: church publishes no type matching "
        "'church.*'; it publishes: none (its [apps.church.events] publishes nothing)"
    )


def test_hostile_strings_stay_on_one_line() -> None:
    body = '[apps.church.events]\npublishes = ["church.a\\nb"]\n[apps.events.events]\nconsumers = ["x\\ny"]\n'

    issues = issues_of(body)

    assert all("\n" not in issue.message for issue in issues)
    assert [issue.key for issue in issues] == [f"{CHURCH}.publishes[0]", f"{EVENTS}.consumers[0]"]


def test_forwarding_to_an_apps_own_queue_is_refused_until_it_exists() -> None:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(
            '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
            '[apps.church]\nname = "C"\n[apps.church.events]\nforward_to_queue = true\n'
        )
    assert "not supported yet" in str(raised.value)
