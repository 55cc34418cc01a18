"""Unit tests for the inbox row (issue 20): an event's data serialized once, for both columns."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest

from chalicelib.messaging.envelope import Envelope, parse
from chalicelib.messaging.inbox import row

BASE = {
    "id": "e-1",
    "source": "/apps/church",
    "type": "church.service.scheduled",
    "time": "2026-11-27T10:00:00Z",
}


def encoded(event: Envelope) -> str:
    """The envelope text as the plain encoder writes it: attributes, sorted extensions, data last."""
    body: dict[str, Any] = {"specversion": event.specversion, "id": event.id, "source": event.source,
                            "type": event.type, "time": event.time, "subject": event.subject,
                            "datacontenttype": event.datacontenttype}  # fmt: skip
    body = {name: value for name, value in body.items() if value is not None}
    body.update(sorted(event.extensions.items()))
    if event.data is not None:
        body["data"] = event.data
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"data": {"n": 1, "text": "Café ☕ 😀", "list": [1, 2.5, None, True, {"x": []}]}},
        {"data": 0},
        {"data": False},
        {"data": ""},
        {"data": [], "subject": "s", "datacontenttype": None},
        {
            "data": "plain text",
            "datacontenttype": "text/plain",
            "extensions": MappingProxyType({"zz": 1, "aa": "x"}),
        },
    ],
)
def test_the_envelope_text_is_what_the_encoder_writes(extra: dict[str, Any]) -> None:
    event = Envelope(**(BASE | extra))

    assert event.to_json() == encoded(event)
    assert event.to_json().isascii()  # SQS carries it


@pytest.mark.parametrize("data", [None, {"n": 1, "text": "Café 😀"}, [1, "two"], 3, "x"])
def test_the_row_stores_the_data_and_the_envelope_read_back_equal(data: Any) -> None:
    event = Envelope(**BASE, data=data)

    event_id, source, event_type, time, subject, content_type, data_text, envelope_text = row(event)

    assert (event_id, source, event_type, time, subject) == (
        "e-1",
        "/apps/church",
        BASE["type"],
        BASE["time"],
        None,
    )
    assert content_type == "application/json"
    assert (None if data_text is None else json.loads(data_text)) == data
    assert envelope_text == event.to_json()
    assert parse(envelope_text) == event


def test_data_that_is_not_json_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        row(Envelope(**BASE, data={"x": float("nan")}))
