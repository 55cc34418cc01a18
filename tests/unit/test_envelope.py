"""Unit tests for the CloudEvents envelope: validation, stamping, limits, wire text."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.messaging.envelope import (
    MAX_EVENT_BYTES,
    SPECVERSION,
    Envelope,
    EnvelopeError,
    app_of_source,
    parse,
    source_for,
    validate,
)

CLOCK = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return CLOCK


def clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def event(**attributes: Any) -> dict[str, Any]:
    """A valid event from church; pass an attribute as None to leave it out."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "type": "church.service.scheduled",
        "time": "2026-12-24T22:00:00Z",
        "data": {"service": "Midnight Mass", "seats": 120},
    }
    body.update(attributes)
    return {name: value for name, value in body.items() if value is not None}


def problems_of(raw: Any, app: str = "church") -> list[str]:
    envelope, problems = validate(raw, app=app, now=fixed_clock)
    assert envelope is None
    return problems


def sized(total: int) -> dict[str, Any]:
    """A valid event whose wire text is exactly `total` bytes."""
    base = event(data="")
    stamped = validate(base, app="church", now=fixed_clock)[0]
    assert stamped is not None
    return event(data="x" * (total - len(stamped.to_json())))


# --- valid events -------------------------------------------------------------------------------


def test_a_valid_event_is_stamped_and_completed() -> None:
    envelope, problems = validate(event(), app="church", now=fixed_clock)

    assert problems == []
    assert envelope == Envelope(
        id="evt-1",
        source="/apps/church",
        type="church.service.scheduled",
        time="2026-12-24T22:00:00Z",
        specversion=SPECVERSION,
        subject=None,
        datacontenttype="application/json",
        data={"service": "Midnight Mass", "seats": 120},
    )


def test_the_minimal_event_has_specversion_id_and_type() -> None:
    envelope, problems = validate(
        {"specversion": "1.0", "id": "1", "type": "church.x"}, app="church", now=fixed_clock
    )

    assert problems == []
    assert envelope is not None
    assert (envelope.data, envelope.subject, envelope.time) == (None, None, "2026-11-27T10:00:00Z")


def test_every_optional_attribute_is_kept() -> None:
    raw = event(subject="mass-2026", datacontenttype="application/cloudevents+json; charset=utf-8")

    envelope, problems = validate(raw, app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert envelope.subject == "mass-2026"
    assert envelope.datacontenttype == "application/cloudevents+json; charset=utf-8"


@pytest.mark.parametrize(
    "data", [None, 0, 1.5, "text", True, [], [1, "a", None], {"a": {"b": [{}]}}, "a\\u0000b", "🎄"]
)
def test_data_may_be_any_json(data: Any) -> None:
    raw = event(data=None) | {"data": data}

    envelope, problems = validate(raw, app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert envelope.data == data


def test_text_data_with_a_text_content_type() -> None:
    envelope, problems = validate(event(datacontenttype="text/plain", data="hello"), app="church")

    assert problems == []
    assert envelope is not None
    assert envelope.data == "hello"


def test_null_optional_attributes_count_as_absent() -> None:
    raw = event() | {"subject": None, "datacontenttype": None, "source": None, "traceparent": None}

    envelope, problems = validate(raw, app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert (envelope.subject, envelope.datacontenttype, envelope.extensions) == (None, "application/json", {})


@pytest.mark.parametrize(
    "time",
    [
        "2026-11-27T10:00:00Z",
        "2026-11-27t10:00:00z",
        "2026-11-27T10:00:00.123456789Z",
        "2026-11-27T10:00:00+01:00",
        "2026-11-27T10:00:00.5-05:30",
        "2024-02-29T23:59:59Z",
    ],
)
def test_rfc3339_times_are_accepted_as_given(time: str) -> None:
    envelope, problems = validate(event(time=time), app="church")

    assert problems == []
    assert envelope is not None
    assert envelope.time == time


# --- stamping -----------------------------------------------------------------------------------


def test_source_is_stamped_from_the_verified_app() -> None:
    church, _ = validate(event(), app="church", now=fixed_clock)
    events, _ = validate(event(type="events.ticket.issued"), app="events", now=fixed_clock)

    assert church is not None
    assert events is not None
    assert (church.source, events.source) == (source_for("church"), source_for("events"))
    assert source_for("church") == "/apps/church"


def test_a_body_may_repeat_its_own_source() -> None:
    envelope, problems = validate(event(source="/apps/church"), app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert envelope.source == "/apps/church"


@pytest.mark.parametrize(
    "forged", ["/apps/events", "/apps/church/", "/apps/Church", "apps/church", "https://x/apps/church", ""]
)
def test_a_forged_source_is_refused(forged: str) -> None:
    assert problems_of(event(source=forged)) == [
        f"source: set by the platform; a body may not claim another source (got {forged!r})"
    ]


def test_a_non_string_source_is_refused() -> None:
    assert problems_of(event(source=["/apps/church"])) == [
        "source: set by the platform; a body may not claim another source (got an array)"
    ]


def test_time_is_filled_by_the_injected_clock() -> None:
    clocks = [
        (datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "2026-11-27T10:00:00Z"),
        (datetime(2026, 11, 27, 11, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1))), "2026-11-27T10:00:00.250000Z"),
        (datetime(2026, 11, 27, 10, 0), "2026-11-27T10:00:00Z"),  # naive: taken as UTC
    ]  # fmt: skip
    for moment, expected in clocks:
        envelope, problems = validate(event(time=None), app="church", now=clock(moment))

        assert problems == []
        assert envelope is not None
        assert envelope.time == expected


def test_the_default_clock_is_now_in_utc() -> None:
    before = datetime.now(UTC)
    envelope, _ = validate(event(time=None), app="church")
    after = datetime.now(UTC)

    assert envelope is not None
    assert envelope.time.endswith("Z")
    assert before.replace(microsecond=0) <= datetime.fromisoformat(envelope.time) <= after


def test_source_for_refuses_what_is_not_a_slug() -> None:
    with pytest.raises(ValueError, match="invalid app slug"):
        source_for("../events")


@pytest.mark.parametrize(
    ("source", "app"),
    [
        ("/apps/church", "church"),
        ("/apps/a_b2", "a_b2"),
        ("/apps/church/", None),
        ("/apps/", None),
        ("/apps/Church", None),
        ("apps/church", None),
        ("/apps/church\n", None),
        (None, None),
        (7, None),
    ],
)
def test_app_of_source(source: Any, app: str | None) -> None:
    assert app_of_source(source) == app


# --- problems, each precise ---------------------------------------------------------------------

TIME_RULE = "time: must be RFC 3339, e.g. 2026-11-27T10:00:00Z"
ID_RULE = "id: must be a non-empty string of at most 256 characters"
EXTENSION_RULE = "extension attributes are named with 1 to 20 lowercase letters and digits"


def case(case_id: str, raw: Any, problem: str) -> object:
    return pytest.param(raw, problem, id=case_id)


PROBLEMS = [
    case("not-an-object", ["church.x"], "event: must be a JSON object; got an array"),
    case("not-an-object-string", "{}", "event: must be a JSON object; got '{}'"),
    case("specversion-missing", event(specversion=None), "specversion: must be '1.0'; it is missing"),
    case("specversion-old", event(specversion="0.3"), "specversion: must be '1.0'; got '0.3'"),
    case("specversion-number", event(specversion=1.0), "specversion: must be '1.0'; got a number 1.0"),
    case("id-missing", event(id=None), f"{ID_RULE}; it is missing"),
    case("id-empty", event(id=""), f"{ID_RULE}; got ''"),
    case("id-number", event(id=7), f"{ID_RULE}; got a number 7"),
    case("id-too-long", event(id="x" * 257), f"{ID_RULE}; got '{'x' * 56}..."),
    case("id-newline", event(id="a\nb"), "id: must not contain U+000A; got 'a\\nb'"),
    case("id-nul", event(id="a\x00"), "id: must not contain U+0000; got 'a\\x00'"),
    case("type-missing", event(type=None), "type: is required: an event type namespaced by church, such as 'church.thing.happened'"),
    case("type-number", event(type=3), "type: must be a string such as 'church.thing.happened'; got a number 3"),
    case("type-other-app", event(type="events.x"), "type: 'events.x' is not namespaced by church (must start with 'church.')"),
    case("type-bare-slug", event(type="church"), "type: 'church' is not namespaced by church (must start with 'church.')"),
    case("type-grammar", event(type="church.Service"), "type: 'church.Service' is not an event type: '<app>.<segment>[.<segment>...]', each segment a-z or 0-9, then up to 62 of a-z, 0-9, '_', '-'"),
    case("type-too-long", event(type="church." + "a." * 97), "type: is 201 characters long; the limit is 200"),
    case("time-not-rfc3339", event(time="27/11/2026"), f"{TIME_RULE}; got '27/11/2026'"),
    case("time-no-zone", event(time="2026-11-27T10:00:00"), f"{TIME_RULE}; got '2026-11-27T10:00:00'"),
    case("time-space", event(time="2026-11-27 10:00:00Z"), f"{TIME_RULE}; got '2026-11-27 10:00:00Z'"),
    case("time-number", event(time=1764237600), f"{TIME_RULE}; got a number 1764237600"),
    case("time-impossible", event(time="2026-02-30T10:00:00Z"), f"{TIME_RULE}; got '2026-02-30T10:00:00Z' (day is out of range for month)"),
    case("time-hour-25", event(time="2026-11-27T25:00:00Z"), f"{TIME_RULE}; got '2026-11-27T25:00:00Z' (hour must be in 0..23)"),
    case("subject-empty", event(subject=""), "subject: must be a non-empty string without U+0000; got ''"),
    case("subject-number", event(subject=1), "subject: must be a non-empty string without U+0000; got a number 1"),
    case("subject-nul", event(subject="a\x00"), "subject: must be a non-empty string without U+0000; got 'a\\x00'"),
    case("content-type-bad", event(datacontenttype="json"), "datacontenttype: must be a media type such as 'application/json'; got 'json'"),
    case("content-type-object", event(datacontenttype={}), "datacontenttype: must be a media type such as 'application/json'; got an object"),
    case("unknown-attribute-upper", event(Foo=1), f"unknown attribute 'Foo': {EXTENSION_RULE}"),
    case("unknown-attribute-underscore", event(foo_bar="x"), f"unknown attribute 'foo_bar': {EXTENSION_RULE}"),
    case("unknown-attribute-too-long", event(a21charactersisalot_="x"), f"unknown attribute 'a21charactersisalot_': {EXTENSION_RULE}"),
    case("unknown-attribute-21", event(abcdefghijklmnopqrstu="x"), f"unknown attribute 'abcdefghijklmnopqrstu': {EXTENSION_RULE}"),
    case("data-base64", event(data_base64="aGk="), "data_base64: binary data is not supported; send JSON or text in 'data'"),
    case("extension-object", event(traceparent={"a": 1}), "traceparent: an extension attribute must be a string, an integer or a boolean; got an object"),
    case("extension-float", event(priority=1.5), "priority: an extension attribute must be a string, an integer or a boolean; got a number 1.5"),
    case("extension-int-range", event(priority=2**31), "priority: must fit a 32-bit integer; got 2147483648"),
    case("extension-empty", event(traceparent=""), "traceparent: must be a non-empty string without U+0000; got ''"),
    case("data-nul", event(data={"a": [1, {"b": "x\x00"}]}), "data.a[1].b: contains U+0000, which the inbox cannot store"),
    case("data-surrogate", event(data=["\ud800"]), "data[0]: contains U+D800, which the inbox cannot store"),
    case("data-key-nul", event(data={"a\x00": 1}), "data: has a key the inbox cannot store: 'a\\x00'"),
    case("data-odd-key-path", event(data={"a b": {"c-d": "\x00"}}), "data['a b']['c-d']: contains U+0000, which the inbox cannot store"),
    case("data-nan", event(data={"x": float("nan")}), "data.x: must be a finite number; got nan (not JSON)"),
    case("data-infinity", event(data=[float("inf")]), "data[0]: must be a finite number; got inf (not JSON)"),
    case("data-not-json", event(data={"when": CLOCK}), "data.when: must be JSON (object, array, string, number, boolean or null); got a datetime"),
    case("data-set", event(data={1, 2}), "data: must be JSON (object, array, string, number, boolean or null); got a set"),
    case("data-tuple-inner", event(data=(1, "\x00")), "data[1]: contains U+0000, which the inbox cannot store"),
    case("data-not-text", event(datacontenttype="text/plain", data={"a": 1}), "data: with datacontenttype 'text/plain' must be a string; got an object"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "problem"), PROBLEMS)
def test_each_problem_is_reported_precisely(raw: Any, problem: str) -> None:
    assert problems_of(raw) == [problem]


def test_every_problem_is_listed_together_in_attribute_order() -> None:
    raw = {
        "id": "",
        "type": "events.x",
        "source": "/apps/events",
        "time": "soon",
        "Foo": 1,
        "data": [float("nan")],
    }

    assert problems_of(raw) == [
        "specversion: must be '1.0'; it is missing",
        f"{ID_RULE}; got ''",
        "source: set by the platform; a body may not claim another source (got '/apps/events')",
        "type: 'events.x' is not namespaced by church (must start with 'church.')",
        f"{TIME_RULE}; got 'soon'",
        f"unknown attribute 'Foo': {EXTENSION_RULE}",
        "data[0]: must be a finite number; got nan (not JSON)",
    ]


def test_a_long_value_is_cut_in_messages() -> None:
    (problem,) = problems_of(event(subject=None, specversion="v" * 1000))

    assert len(problem) < 100
    assert problem.endswith("...")


def test_deeply_nested_data_does_not_exhaust_the_stack() -> None:
    deep: Any = "\x00"
    for _ in range(5000):
        deep = [deep]

    (problem,) = problems_of(event(data=deep))

    assert problem.startswith("data[0][0][0]")
    assert problem.endswith("...: contains U+0000, which the inbox cannot store")


# --- extensions ---------------------------------------------------------------------------------


def test_extension_attributes_are_kept_and_sorted_on_the_wire() -> None:
    raw = event(traceparent="00-abc-01", priority=3, urgent=True, dataschema="https://x/schema", a1=-(2**31))

    envelope, problems = validate(raw, app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert dict(envelope.extensions) == {
        "traceparent": "00-abc-01",
        "priority": 3,
        "urgent": True,
        "dataschema": "https://x/schema",
        "a1": -(2**31),
    }
    keys = list(json.loads(envelope.to_json()))
    assert keys[-6:] == ["a1", "dataschema", "priority", "traceparent", "urgent", "data"]


def test_an_extension_name_may_have_twenty_characters() -> None:
    envelope, problems = validate(event(abcdefghijklmnopqrst="x"), app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert envelope.extensions == {"abcdefghijklmnopqrst": "x"}


def test_extensions_cannot_be_changed_after_validation() -> None:
    envelope, _ = validate(event(traceparent="t"), app="church", now=fixed_clock)

    assert envelope is not None
    with pytest.raises(TypeError):
        envelope.extensions["traceparent"] = "forged"  # type: ignore[index]


# --- the size limit -----------------------------------------------------------------------------


def test_an_event_of_exactly_the_limit_is_accepted() -> None:
    envelope, problems = validate(sized(MAX_EVENT_BYTES), app="church", now=fixed_clock)

    assert problems == []
    assert envelope is not None
    assert len(envelope.to_json().encode()) == MAX_EVENT_BYTES == 240 * 1024


def test_one_byte_over_the_limit_is_refused() -> None:
    assert problems_of(sized(MAX_EVENT_BYTES + 1)) == ["event is 245,761 bytes; the limit is 240 KiB"]


def test_the_size_is_that_of_the_wire_text_where_non_ascii_is_escaped() -> None:
    # "é" travels as \u00e9: 6 bytes, not 2.
    raw = sized(MAX_EVENT_BYTES)
    raw["data"] = raw["data"][:-6] + "é"

    assert validate(raw, app="church", now=fixed_clock)[1] == []
    raw["data"] = raw["data"][:-1] + "éx"
    assert problems_of(raw) == ["event is 245,761 bytes; the limit is 240 KiB"]


def test_an_oversized_event_with_other_problems_reports_them_all() -> None:
    raw = event(id="", data="x" * 300 * 1024)

    problems = problems_of(raw)

    assert problems[0] == f"{ID_RULE}; got ''"
    assert problems[1].startswith("event is 307,")
    assert problems[1].endswith("; the limit is 240 KiB")


def test_a_whole_number_of_kib_is_shown_in_kib() -> None:
    raw = event(id="", data=None)
    raw["data"] = "x" * (300 * 1024 - len(json.dumps(raw, separators=(",", ":"))) - len(',"data":""'))

    assert problems_of(raw)[-1] == "event is 300 KiB; the limit is 240 KiB"


# --- the wire text ------------------------------------------------------------------------------


def test_to_json_is_compact_and_deterministic() -> None:
    envelope, _ = validate(event(subject="s", data={"b": 1, "a": "é"}), app="church", now=fixed_clock)
    assert envelope is not None

    text = envelope.to_json()

    assert text == (
        '{"specversion":"1.0","id":"evt-1","source":"/apps/church","type":"church.service.scheduled",'
        '"time":"2026-12-24T22:00:00Z","subject":"s","datacontenttype":"application/json",'
        '"data":{"b":1,"a":"\\u00e9"}}'
    )
    assert text.isascii()
    assert envelope._replace(extensions={}).to_json() == text


def test_parse_round_trips_to_json() -> None:
    raw = event(subject="mass", traceparent="00-ab-01", priority=2, data={"emoji": "🎄", "n": [1, 2.5, None]})
    envelope, _ = validate(raw, app="church", now=fixed_clock)
    assert envelope is not None

    assert parse(envelope.to_json()) == envelope
    assert parse(envelope.to_json()).to_json() == envelope.to_json()


def test_parse_round_trips_an_event_without_data_or_subject() -> None:
    envelope, _ = validate(event(data=None), app="church", now=fixed_clock)
    assert envelope is not None

    assert parse(envelope.to_json()) == envelope


def test_parse_takes_the_app_from_the_source() -> None:
    text = json.dumps(event() | {"source": "/apps/events", "type": "events.ticket.issued"})

    assert parse(text).source == "/apps/events"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", ["event: is not JSON text (Expecting value: line 1 column 1 (char 0))"]),
        ("{", ["event: is not JSON text (Expecting property name enclosed in double quotes: line 1...)"]),
        ("[]", ["event: must be a JSON object; got an array"]),
        ('"x"', ["event: must be a JSON object; got 'x'"]),
        ("null", ["event: must be a JSON object; got null"]),
        (json.dumps(event()), ["source: must be '/apps/<slug>', stamped by the platform; got null"]),
        (json.dumps(event(source="church")), ["source: must be '/apps/<slug>', stamped by the platform; got 'church'"]),
        (json.dumps(event(source="/apps/church", time=None)), [f"{TIME_RULE}; it is missing"]),
        (json.dumps(event(source="/apps/events")), ["type: 'church.service.scheduled' is not namespaced by events (must start with 'events.')"]),
        (json.dumps(event(source="/apps/church", specversion="2.0", id="")), ["specversion: must be '1.0'; got '2.0'", f"{ID_RULE}; got ''"]),
        ('{"specversion":"1.0","id":"1","source":"/apps/church","type":"church.x","time":"2026-11-27T10:00:00Z","data":NaN}', ["data: must be a finite number; got nan (not JSON)"]),
        ('{"specversion":"1.0","id":"1","source":"/apps/church","type":"church.x","time":"2026-11-27T10:00:00Z","data":"\\u0000"}', ["data: contains U+0000, which the inbox cannot store"]),
    ],
)  # fmt: skip
def test_parse_refuses_junk_with_every_problem(text: str, problems: list[str]) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse(text)

    assert list(caught.value.problems) == problems
    assert str(caught.value) == "; ".join(problems)
    assert isinstance(caught.value, ValueError)


def test_parse_refuses_text_over_the_limit() -> None:
    envelope, _ = validate(sized(MAX_EVENT_BYTES), app="church", now=fixed_clock)
    assert envelope is not None
    text = envelope.to_json()

    assert parse(text) == envelope
    with pytest.raises(EnvelopeError, match="event is 245,761 bytes; the limit is 240 KiB"):
        parse(text[:-1] + " }")


def test_parse_counts_utf8_bytes_of_text_it_did_not_write() -> None:
    envelope, _ = validate(sized(MAX_EVENT_BYTES), app="church", now=fixed_clock)
    assert envelope is not None
    text = envelope.to_json()
    unescaped = text.replace('"x', '"é', 1)  # as many characters, one more byte in UTF-8

    with pytest.raises(EnvelopeError, match="event is 245,761 bytes"):
        parse(unescaped)
