"""The CloudEvents HTTP binding (chalicelib/messaging/binding.py): each content mode read into the
events `publish()` takes, and each mode's refusals, checked against the spec's own examples
(github.com/cloudevents/spec, cloudevents/bindings/http-protocol-binding.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.messaging.binding import BATCH, STRUCTURED, BindingError, read_events
from chalicelib.messaging.envelope import is_json_media, parse
from chalicelib.messaging.publish import publish
from chalicelib.messaging.spec import EventsSpec

PUBLISHED = "events.event.published"
EVENT = {"specversion": "1.0", "id": "e-1", "type": PUBLISHED, "data": {"title": "Fair"}}
BINARY = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-type": PUBLISHED, "content-type": "application/json"}


def _no_json_body() -> Any:
    raise AssertionError("only an application/json body is read through Chalice's json_body")


def read(headers: dict[str, str], body: bytes | str | None = b"") -> list[Any]:
    return read_events(headers, body, json_body=_no_json_body)


def refused(headers: dict[str, str], body: bytes | str | None = b"", status: int = 400) -> BindingError:
    with pytest.raises(BindingError) as caught:
        read(headers, body)
    assert caught.value.status == status, caught.value
    return caught.value


# --- structured ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        STRUCTURED,
        "application/cloudevents+json; charset=UTF-8",
        'Application/CloudEvents+JSON;charset="utf-8"',
    ],
)
def test_structured_mode_is_the_body_s_one_event(content_type: str) -> None:
    headers = {"Content-Type": content_type, "ce-id": "ignored: the body holds every attribute"}
    assert read(headers, json.dumps(EVENT).encode()) == [EVENT]


def test_structured_mode_takes_a_body_chalice_gave_as_text() -> None:
    assert read({"content-type": STRUCTURED}, json.dumps(EVENT)) == [EVENT]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"{not json", "invalid_json", "structured mode: the body is not JSON"),
        (b"", "invalid_json", "the body is empty: send a JSON value"),
        ('{"id": "caf\u00e9"}'.encode("latin-1"), "invalid_json", "is not UTF-8 text"),
        (b"[" * 100_000, "invalid_json", "nested deeper than 64 levels"),  # deeper than json.loads recurses
        (json.dumps([EVENT]).encode(), "invalid_event", f"got an array (send a list of events as {BATCH})"),
        (b'"an event"', "invalid_event", "one event, a JSON object; got 'an event'"),
        (b"null", "invalid_event", "got null"),
    ],
)
def test_a_structured_body_that_is_not_one_json_object_is_400(body: bytes, code: str, says: str) -> None:
    error = refused({"content-type": STRUCTURED}, body)
    assert error.code == code
    assert says in str(error)


# --- batch ---------------------------------------------------------------------------------------


def test_batch_mode_is_the_body_s_array_of_events() -> None:
    events = [EVENT | {"id": f"e-{n}"} for n in range(10)]
    assert read({"content-type": BATCH}, json.dumps(events).encode()) == events
    # an element that is no event is left to publish(), which rejects it alone (as for JSON)
    assert read({"content-type": f"{BATCH}; charset=utf-8"}, b'[{"id": "a"}, 7]') == [{"id": "a"}, 7]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (json.dumps(EVENT), f"got an object (send one event as {STRUCTURED})"),
        ("[]", "send 1 to 10 events; got 0"),
        (json.dumps([EVENT] * 11), "send 1 to 10 events; got 11"),
        ('"events"', "the body is a JSON array of 1 to 10 events; got 'events'"),
    ],
)
def test_a_batch_that_is_not_an_array_of_1_to_10_is_400(body: str, says: str) -> None:
    error = refused({"content-type": BATCH}, body.encode())
    assert error.code == "invalid_events"
    assert says in str(error)


@pytest.mark.parametrize(
    "content_type", ["application/cloudevents+avro", "application/cloudevents-batch+protobuf"]
)
def test_another_event_format_is_415(content_type: str) -> None:
    error = refused({"content-type": content_type}, b"\x00\x01", status=415)
    assert error.code == "unsupported_media_type"
    assert "only the JSON event format is read" in str(error)


@pytest.mark.parametrize("content_type", [f"{STRUCTURED}; charset=iso-8859-1", f"{BATCH}; charset=utf-16"])
def test_a_charset_other_than_utf8_is_415(content_type: str) -> None:
    error = refused({"content-type": content_type}, b"{}", status=415)
    assert error.code == "unsupported_charset"
    assert "send UTF-8" in str(error)


# --- binary --------------------------------------------------------------------------------------


def test_binary_mode_maps_headers_to_attributes_and_the_body_to_data() -> None:
    # The binding's example (section 3.1.4), its header names in mixed case (RFC 7230: insensitive).
    headers = {
        "CE-SpecVersion": "1.0",
        "ce-type": PUBLISHED,
        "ce-time": "2018-04-05T03:56:24Z",
        "Ce-Id": "1234-1234-1234",
        "ce-source": "/apps/events",
        "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "Content-Type": "application/json; charset=utf-8",
        "Authorization": "Bearer not-an-attribute",
    }
    assert read(headers, b'{"title": "Fair", "seats": [1, 2]}') == [
        {
            "specversion": "1.0",
            "type": PUBLISHED,
            "time": "2018-04-05T03:56:24Z",
            "id": "1234-1234-1234",
            "source": "/apps/events",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "datacontenttype": "application/json; charset=utf-8",
            "data": {"title": "Fair", "seats": [1, 2]},
        }
    ]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro \u20ac \U0001f600"),  # the spec's example
        ("Euro%20%e2%82%ac", "Euro \u20ac"),  # decoding MUST accept lower-case hex
        ("%41%42c", "ABc"),  # unnecessarily encoded: MUST be accepted
        ('"Euro \\"quoted\\" \\\\ %25"', 'Euro "quoted" \\ %'),  # quoted-string first, then one round
        ("100%2525", "100%25"),  # one round of percent-decoding, not two
    ],
)
def test_binary_header_values_are_unquoted_then_percent_decoded(header: str, value: str) -> None:
    (event,) = read(BINARY | {"ce-subject": header}, b"")
    assert event["subject"] == value


def test_binary_text_data_is_a_string_and_json_data_any_json_value() -> None:
    text = read(BINARY | {"content-type": "text/plain; charset=utf-8"}, "caf\u00e9 \u20ac".encode())
    assert text[0]["data"] == "caf\u00e9 \u20ac"
    assert read(BINARY | {"content-type": "text/csv"}, b"a,b\n1,2")[0]["data"] == "a,b\n1,2"
    vendor = read(BINARY | {"content-type": "application/vnd.events.fair+json"}, b"[1, 2]")
    assert vendor[0] == {"specversion": "1.0", "id": "e-1", "type": PUBLISHED,
                         "datacontenttype": "application/vnd.events.fair+json", "data": [1, 2]}  # fmt: skip
    assert read(BINARY, b'"a string is JSON too"')[0]["data"] == "a string is JSON too"


def test_a_binary_event_without_a_body_has_no_data_and_without_content_type_no_datacontenttype() -> None:
    headers = {k: v for k, v in BINARY.items() if k != "content-type"}
    assert read(headers, b"") == [{"specversion": "1.0", "id": "e-1", "type": PUBLISHED}]
    assert read(headers, None) == [{"specversion": "1.0", "id": "e-1", "type": PUBLISHED}]
    # and without a Content-Type the data is JSON, as an absent datacontenttype means JSON
    assert read(headers, b'{"n": 1}')[0]["data"] == {"n": 1}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (("ce-specversion",), "the ce-specversion header must be sent"),
        (("ce-id",), "the ce-id header must be sent"),
        (("ce-type",), "the ce-type header must be sent"),
        (("ce-specversion", "ce-id", "ce-type"), "the ce-specversion, ce-id, ce-type headers must be sent"),
    ],
)
def test_a_binary_request_missing_a_required_header_is_400(missing: tuple[str, ...], named: str) -> None:
    headers = {k: v for k, v in BINARY.items() if k not in missing} | {"ce-subject": "s"}
    error = refused(headers, b"{}")
    assert error.code == "missing_attribute"
    assert named in str(error)


def test_an_unsupported_specversion_is_400() -> None:
    error = refused(BINARY | {"ce-specversion": "0.3"}, b"{}")
    assert error.code == "unsupported_specversion"
    assert "ce-specversion must be '1.0'; got '0.3'" in str(error)


@pytest.mark.parametrize(
    ("header", "value", "says"),
    [
        ("ce-subject", "%C0%A0", "not UTF-8"),  # the spec's overlong encoding: MUST be rejected
        ("ce-subject", "%ED%A0%80", "not UTF-8"),  # a UTF-16 surrogate is not UTF-8 either
        ("ce-subject", "caf\u00e9", "percent-encode characters outside ASCII"),
        ("ce-subject", '"unterminated', "an unterminated quoted string"),
        ("ce-datacontenttype", "text/plain", "the Content-Type header; do not send a ce-datacontenttype"),
        ("ce-data", "{}", "the data is the request body; do not send a ce-data header"),
    ],
)
def test_a_binary_header_that_cannot_be_an_attribute_is_400(header: str, value: str, says: str) -> None:
    error = refused(BINARY | {header: value}, b"{}")
    assert error.code == "invalid_header"
    assert says in str(error)


@pytest.mark.parametrize(
    ("content_type", "body", "code", "says"),
    [
        ("application/json", b"{not json", "invalid_json", "Content-Type 'application/json') is not JSON"),
        ("application/vnd.x+json", b"nope", "invalid_json", "is not JSON"),
        ("application/json", b"\xff\xfe{}", "invalid_json", "is not UTF-8 text"),
        ("text/plain", b"\xff\xfe", "invalid_data", "binary data is not supported"),
        ("application/octet-stream", b"\x89PNG\r\n", "invalid_data", "send JSON or text"),
    ],
)
def test_binary_data_that_is_not_its_content_type_is_400(
    content_type: str, body: bytes, code: str, says: str
) -> None:
    error = refused(BINARY | {"content-type": content_type}, body)
    assert error.code == code
    assert says in str(error)


def test_binary_text_in_another_charset_is_415() -> None:
    error = refused(BINARY | {"content-type": "text/plain; charset=ISO-8859-1"}, b"caf\xe9", status=415)
    assert error.code == "unsupported_charset"
    assert "'iso-8859-1'" in str(error)


# --- our JSON body, and what is none of these ----------------------------------------------------


def test_application_json_without_ce_headers_is_read_by_chalice_as_before() -> None:
    def json_body(value: Any) -> Any:
        return lambda: value

    headers = {"Content-Type": "application/json"}
    assert read_events(headers, b"ignored", json_body=json_body(EVENT)) == [EVENT]
    assert read_events(headers, b"", json_body=json_body([EVENT, EVENT])) == [EVENT, EVENT]
    assert read_events({}, b"", json_body=json_body(None)) == [None]  # publish() rejects it, as before
    for count in (0, 11):
        with pytest.raises(BindingError, match=f"a batch of 1 to 10; got {count}") as caught:
            read_events(headers, b"", json_body=json_body([EVENT] * count))
        assert (caught.value.code, caught.value.status) == ("invalid_events", 400)


@pytest.mark.parametrize(
    "content_type", ["text/html", "text/plain", "application/xml", "multipart/form-data"]
)
def test_another_media_type_without_ce_headers_is_415(content_type: str) -> None:
    error = refused({"content-type": content_type}, b"<p>", status=415)
    assert error.code == "unsupported_media_type"
    assert "application/cloudevents+json" in str(error)
    assert "ce-specversion" in str(error)


@pytest.mark.parametrize(
    ("content_type", "json"),
    [(None, True), ("application/json", True), ("Application/JSON; charset=utf-8", True), ("text/json", True),
     ("application/cloudevents+json", True), ("text/plain", False), ("application/jsonl", False)],
)  # fmt: skip
def test_json_media_types(content_type: str | None, json: bool) -> None:
    assert is_json_media(content_type) is json


# --- through publish(): the same source and type rules in every mode ------------------------------


def _publish(events: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    sent: list[dict[str, str]] = []

    def send_batch(entries: list[dict[str, str]]) -> dict[str, Any]:
        sent.extend(entries)
        return {"Successful": [{"Id": e["Id"]} for e in entries]}

    specs = {"events": EventsSpec(publishes=(PUBLISHED,)), "church": EventsSpec()}
    outcomes = publish("events", events, specs=specs, send_batch=send_batch)
    return [o.to_json() for o in outcomes], sent


def test_a_binary_event_is_sent_as_its_json_twin_would_be() -> None:
    attributes = {"id": "e-1", "type": PUBLISHED, "time": "2026-11-27T10:00:00Z", "subject": "Fair"}
    binary = {f"ce-{k}": v for k, v in attributes.items()} | {"ce-specversion": "1.0", "ce-ext1": "x"}
    twin = {"specversion": "1.0", **attributes, "ext1": "x", "data": {"title": "Fair"}}
    _, from_binary = _publish(read(binary | {"content-type": "application/json"}, b'{"title": "Fair"}'))
    _, from_json = _publish([twin | {"datacontenttype": "application/json"}])
    assert from_binary == from_json
    assert parse(from_binary[0]["MessageBody"]).source == "/apps/events"  # stamped by the platform


def test_a_forged_ce_source_or_undeclared_type_is_rejected_as_a_body_s_would_be() -> None:
    batch = [
        read(BINARY | {"ce-source": "/apps/events"}, b"{}")[0],  # its own source: repeated, fine
        read(BINARY | {"ce-id": "f", "ce-source": "/apps/church"}, b"{}")[0],  # forged
        read(BINARY | {"ce-id": "u", "ce-type": "events.secret.leaked"}, b"{}")[0],  # not declared
        *read({"content-type": BATCH}, json.dumps([EVENT | {"id": "b", "source": "/apps/church"}]).encode()),
    ]
    results, sent = _publish(batch)
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "rejected"]
    assert results[1]["errors"] == [
        "source: set by the platform; a body may not claim another source (got '/apps/church')"
    ]
    assert "events.secret.leaked" in results[2]["errors"][0]
    assert results[3]["errors"] == results[1]["errors"]
    assert len(sent) == 1
