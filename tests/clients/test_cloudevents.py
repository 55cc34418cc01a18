"""CloudEvents SDKs (Python `cloudevents`, npm `cloudevents`) publishing to the local platform.

`POST /apps/events/events` with an events member's token, in the HTTP binding's three modes
(structured, batch, binary). church subscribes to `events.event.*` from events (integreat.toml),
so every accepted event must reach church's inbox. The platform stamps `source` (`/apps/events`)
from the verified caller: a body may repeat that value, a body claiming another source is rejected
per event (README, "Security model (messaging)"): one event 400 `events_rejected`, a mixed batch 207.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.clients.harness import Platform, User, ok, python_client, run_node

TYPE = "events.event.published"
STAMPED = "/apps/events"
FORGED = "/apps/church"
PATH = "/apps/events/events"


@pytest.fixture(scope="module")
def tokens(platform: Platform, events_user: User, church_user: User) -> dict[str, str]:
    return {
        "events": platform.tokens(events_user, "events")["AccessToken"],
        "church": platform.tokens(church_user, "church")["AccessToken"],
    }


def test_church_subscribes_to_events_published_by_events() -> None:
    from chalicelib.tenancy.manifest import load_manifest
    from tests.conftest import ROOT

    apps = {a.slug: a for a in load_manifest(ROOT / "integreat.toml").apps}
    assert TYPE in apps["events"].events.publishes
    consumers = apps["events"].events.consumers
    assert consumers is None or "church" in consumers  # events lets church receive them
    church = [s for s in apps["church"].events.subscribes if s.producer == "events"]
    assert church, apps["church"].events
    assert "events.event.*" in church[0].patterns


def _event(source: str, title: str) -> Any:
    core = python_client("cloudevents.core.v1.event", "cloudevents")
    attributes = {"id": str(uuid.uuid4()), "source": source, "type": TYPE, "time": datetime.now(UTC)}
    return core.CloudEvent(attributes | {"datacontenttype": "application/json"}, {"title": title})


def _post(platform: Platform, token: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    return platform.call("POST", PATH, token, body=body, headers=headers)


def _delivered(platform: Platform, tokens: dict[str, str], event_id: str, title: str) -> None:
    found = platform.inbox_event("church", tokens["church"], event_id)
    assert found is not None, f"event {event_id} never reached church's inbox"
    assert (found["event"]["source"], found["event"]["type"]) == (STAMPED, TYPE)
    assert found["event"]["data"] == {"title": title}


def test_python_structured_mode_is_accepted_and_delivered(platform: Platform, tokens: dict[str, str]) -> None:
    http, fmt = python_client("cloudevents.core.bindings.http", "cloudevents"), _json_format()
    event = _event(STAMPED, "py structured")
    message = http.to_structured(event, fmt)
    assert message.headers["content-type"].startswith("application/cloudevents+json")
    status, body = _post(platform, tokens["events"], message.headers, message.body)
    assert status == 202, body
    assert body["results"] == [{"index": 0, "status": "accepted", "id": event.get_id()}]
    _delivered(platform, tokens, event.get_id(), "py structured")


def test_python_binary_mode_is_accepted_and_delivered(platform: Platform, tokens: dict[str, str]) -> None:
    http, fmt = python_client("cloudevents.core.bindings.http", "cloudevents"), _json_format()
    event = _event(STAMPED, "py binary")
    message = http.to_binary(event, fmt)
    assert message.headers["ce-source"] == STAMPED
    status, body = _post(platform, tokens["events"], message.headers, message.body)
    assert status == 202, body
    assert body["results"] == [{"index": 0, "status": "accepted", "id": event.get_id()}]
    _delivered(platform, tokens, event.get_id(), "py binary")


def _batch(events: list[Any]) -> tuple[dict[str, str], bytes]:
    """The JSON batch format (CloudEvents spec, json-format.md section 4): the SDK writes each event."""
    fmt = _json_format()
    body = b"[" + b",".join(fmt.write(e) for e in events) + b"]"
    return {"Content-Type": "application/cloudevents-batch+json"}, body


def test_python_batch_mode_is_accepted_and_delivered(platform: Platform, tokens: dict[str, str]) -> None:
    events = [_event(STAMPED, "py batch 1"), _event(STAMPED, "py batch 2")]
    status, body = _post(platform, tokens["events"], *_batch(events))
    assert status == 202, body
    assert body["results"] == [
        {"index": i, "status": "accepted", "id": e.get_id()} for i, e in enumerate(events)
    ]
    for number, event in enumerate(events, 1):
        _delivered(platform, tokens, event.get_id(), f"py batch {number}")


def test_a_forged_source_is_rejected_per_event(platform: Platform, tokens: dict[str, str]) -> None:
    http, fmt = python_client("cloudevents.core.bindings.http", "cloudevents"), _json_format()
    forged = http.to_structured(_event(FORGED, "forged"), fmt)
    status, body = _post(platform, tokens["events"], forged.headers, forged.body)
    assert status == 400, body
    assert body["error"]["code"] == "events_rejected"
    assert body["results"][0]["status"] == "rejected"
    assert any("source" in e for e in body["results"][0]["errors"]), body
    good, bad = _event(STAMPED, "mixed good"), _event(FORGED, "mixed forged")
    status, body = _post(platform, tokens["events"], *_batch([good, bad]))
    assert status == 207, body
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    _delivered(platform, tokens, good.get_id(), "mixed good")
    assert platform.inbox_event("church", tokens["church"], bad.get_id(), seconds=1) is None


def _json_format() -> Any:
    return python_client("cloudevents.core.formats.json", "cloudevents").JSONFormat()


@pytest.fixture(scope="module")
def npm_journal(node_clients: None, platform: Platform, tokens: dict[str, str]) -> dict[str, Any]:
    ids = {name: str(uuid.uuid4()) for name in ("binary", "structured", "binaryForged", "structuredForged")}
    config = {"api": platform.api, "token": tokens["events"], "ids": ids}
    return run_node(platform, "cloudevents.mjs", config) | {"ids": ids}


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_npm_emitter_is_accepted_and_delivered(
    platform: Platform, tokens: dict[str, str], npm_journal: dict[str, Any], mode: str
) -> None:
    sent = ok(npm_journal, mode)
    assert sent["id"] == npm_journal["ids"][mode]
    assert sent["body"] == {"results": [{"index": 0, "status": "accepted", "id": sent["id"]}]}, sent
    _delivered(platform, tokens, sent["id"], f"npm {mode}")


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_npm_emitter_with_a_forged_source_is_rejected(npm_journal: dict[str, Any], mode: str) -> None:
    sent = ok(npm_journal, f"{mode}Forged")
    assert sent["body"].get("error", {}).get("code") == "events_rejected", json.dumps(sent)
    assert sent["body"]["results"][0]["status"] == "rejected"
