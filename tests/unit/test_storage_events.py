"""Unit tests for reading S3 notifications out of SQS bodies (chalicelib/storage/events.py).

The records are read as typed dicts, not through Powertools' view (issue 20): a record missing a
field S3 always sends, or holding the wrong type, must still be a malformed message.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chalicelib.storage.events import CREATED, REMOVED, StorageEventError, parse_body
from tests.conftest import load_event


def recorded() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(load_event("sqs_s3_object_created")["Records"][0]["body"])
    return message


def body(change: Any = None) -> str:
    message = recorded()
    if change is not None:
        change(message["Records"][0])
    return json.dumps(message)


def test_the_recorded_event_is_read_and_its_key_decoded_once() -> None:
    [event] = parse_body(body())

    assert event.action == CREATED
    assert event.name == "ObjectCreated:Post"
    assert event.bucket == "integreat-test-files"
    assert event.key == "church/uploads/a b+c.txt"  # '+' is a space, '%2B' a plus: decoded once
    assert (event.size, event.etag) == (1024, "d41d8cd98f00b204e9800998ecf8427e")
    assert event.sequencer == "0055AED6DCD90281E5".rjust(32, "0")
    assert event.principal == "AWS:AROAEXAMPLEPRESIGNER:integreat-dev-api"
    assert event.time == "2026-11-27T10:00:00.000Z"


def test_fields_s3_or_moto_leave_out_are_optional() -> None:
    def removal_from_moto(record: dict[str, Any]) -> None:
        record["eventName"] = "ObjectRemoved:Delete"
        record.pop("userIdentity")
        for field in ("size", "eTag", "sequencer"):
            record["s3"]["object"].pop(field)

    [event] = parse_body(body(removal_from_moto))

    assert (event.action, event.size, event.etag, event.principal) == (REMOVED, 0, None, None)
    assert len(event.sequencer) == 32  # ordered by event time instead


def _drop(*path: str) -> Any:
    def change(record: dict[str, Any]) -> None:
        for step in path[:-1]:
            record = record[step]
        del record[path[-1]]

    return change


def _set(value: Any, *path: str) -> Any:
    def change(record: dict[str, Any]) -> None:
        for step in path[:-1]:
            record = record[step]
        record[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change",
    [
        _drop("eventName"),
        _drop("eventTime"),
        _drop("s3"),
        _drop("s3", "object"),
        _drop("s3", "object", "key"),
        _drop("s3", "bucket"),
        _set("a string", "s3"),
        _set(["a", "list"], "s3", "object"),
        _set("not a number", "s3", "object", "size"),
        _set("XYZ", "s3", "object", "sequencer"),
        _set("ObjectRestore:Completed", "eventName"),
        _set(7, "eventName"),
        _set("yes", "userIdentity"),
    ],
)
def test_a_malformed_record_is_a_malformed_message(change: Any) -> None:
    with pytest.raises(StorageEventError):
        parse_body(body(change))


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"Records": []}', '{"Records": ["x"]}', '{"Records": [null]}']
)
def test_a_body_without_s3_records_is_a_malformed_message(text: str) -> None:
    with pytest.raises(StorageEventError):
        parse_body(text)


def test_s3s_test_event_has_no_records() -> None:
    assert parse_body(json.dumps({"Event": "s3:TestEvent", "Bucket": "b"})) == []


def test_every_record_of_a_message_is_read() -> None:
    message = recorded()
    second = copy.deepcopy(message["Records"][0])
    second["s3"]["object"]["key"] = "church/uploads/second.txt"
    message["Records"].append(second)

    assert [e.key for e in parse_body(json.dumps(message))] == [
        "church/uploads/a b+c.txt",
        "church/uploads/second.txt",
    ]
