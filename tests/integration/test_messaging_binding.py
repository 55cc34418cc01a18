"""The CloudEvents HTTP binding on the publish routes, with the Python CloudEvents SDK making the
requests: each mode published through the real Chalice app (real Postgres, moto SQS, the real
consumer), delivered as its JSON twin is; refused as a JSON body is; the `/service` twin signed
with SigV4; and the route table accepted by `chalice deploy`'s own validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.app import Chalice
from chalice.config import Config
from chalice.deploy.swagger import SwaggerGenerator
from chalice.deploy.validate import validate_configuration, validate_route_content_types
from cloudevents.core.bindings.http import HTTPMessage, to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

import app as chalice_app
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.messaging.binding import BATCH
from chalicelib.runtime import Runtime
from integreat.local.service_credentials import signed_headers
from tests.conftest import ROOT, IdentityPlatform
from tests.messaging import drain
from tests.queues import depth
from tests.tokens import Signer

PUBLISHED = "events.event.published"  # events publishes it; church and students subscribe
USER_PATH, SERVICE_PATH = "/apps/events/events", "/service/apps/events/events"
FORMAT = JSONFormat()
Post = Callable[[HTTPMessage], Any]


def event(event_type: str = PUBLISHED, data: Any = None, **attributes: Any) -> CloudEvent:
    """An event as an app's backend builds it with the SDK: its own app's source, as stamped."""
    return CloudEvent({"type": event_type, "source": "/apps/events", **attributes}, data)


def batch(*events: CloudEvent) -> HTTPMessage:
    # The SDK writes one event in the JSON format, not a batch: the batch format is their array.
    return HTTPMessage({"content-type": BATCH}, b"[" + b",".join(FORMAT.write(e) for e in events) + b"]")


def as_json(*events: CloudEvent) -> HTTPMessage:
    """The same events as our own application/json body."""
    return HTTPMessage({"content-type": "application/json"}, json.dumps([twin(e) for e in events]).encode())


def twin(e: CloudEvent) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FORMAT.write(e))
    return body


MODES: dict[str, Callable[[CloudEvent], HTTPMessage]] = {
    "structured": lambda e: to_structured(e, FORMAT),
    "binary": lambda e: to_binary(e, FORMAT),
    "batch": batch,
}


@pytest.fixture
def member(identity: IdentityPlatform, signer: Signer, signed_api: Any, signed_runtime: Runtime) -> Post:
    """POST as a member of events (a bearer token), the queue drained first."""
    drain(identity, signed_runtime)
    bearer = identity.bearer(signer, "events", ["events"])
    return lambda message: signed_api.http.post(
        USER_PATH, headers=bearer | message.headers, body=message.body
    )


@pytest.fixture
def backend(identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any) -> Post:
    """POST as events' backend: SigV4 over the method, path, body and every header it sends."""
    credentials = service_keys.issue(identity.roles["events"])

    def post(message: HTTPMessage) -> Any:
        url = f"http://localhost{SERVICE_PATH}"
        headers = {"Host": "localhost", **message.headers}
        signed = signed_headers(credentials, identity.settings.region, "POST", url, message.body, headers)
        return signed_api.http.post(SERVICE_PATH, headers=signed, body=message.body)

    return post


def envelopes(rt: Runtime, app: str, *ids: str) -> list[dict[str, Any]]:
    rows = rt.database.read(app, "SELECT envelope FROM inbox WHERE event_id = ANY(%s)", (list(ids),))
    found = {row[0]["id"]: row[0] for row in rows}
    return [found[i] for i in ids]


def without_id(envelope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in envelope.items() if k != "id"}


# --- accepted and delivered ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_is_delivered_as_its_json_twin(
    mode: str, member: Post, identity: IdentityPlatform, signed_runtime: Runtime
) -> None:
    moment = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    attributes: dict[str, Any] = {"subject": "Euro \u20ac fair", "time": moment, "traceid": "abc123"}
    sent = event(data={"title": "Fair", "seats": [1, 2]}, datacontenttype="application/json", **attributes)
    json_twin = event(
        data={"title": "Fair", "seats": [1, 2]}, datacontenttype="application/json", **attributes
    )
    response = member(MODES[mode](sent))
    assert response.status_code == 202, response.body
    assert response.json_body["results"] == [{"index": 0, "status": "accepted", "id": sent.get_id()}]
    assert member(as_json(json_twin)).status_code == 202
    drain(identity, signed_runtime)
    for subscriber in ("church", "students"):
        delivered, expected = envelopes(signed_runtime, subscriber, sent.get_id(), json_twin.get_id())
        assert delivered["source"] == "/apps/events"
        assert delivered["subject"] == "Euro \u20ac fair"  # percent-encoded in binary mode's header
        assert without_id(delivered) == without_id(expected)


def test_binary_text_data_and_a_batch_of_ten(
    member: Post, identity: IdentityPlatform, signed_runtime: Runtime
) -> None:
    text = event(data="caf\u00e9 at 10", datacontenttype="text/plain; charset=utf-8")
    assert member(to_binary(text, FORMAT)).status_code == 202
    ten = [event(data={"n": n}) for n in range(10)]
    response = member(batch(*ten))
    assert response.status_code == 202, response.body
    assert [r["id"] for r in response.json_body["results"]] == [e.get_id() for e in ten]
    drain(identity, signed_runtime)
    (delivered,) = envelopes(signed_runtime, "church", text.get_id())
    assert (delivered["datacontenttype"], delivered["data"]) == (
        "text/plain; charset=utf-8",
        "caf\u00e9 at 10",
    )
    assert [e["data"] for e in envelopes(signed_runtime, "church", *(e.get_id() for e in ten))] == [
        {"n": n} for n in range(10)
    ]


@pytest.mark.parametrize("mode", [*MODES, "json"])
def test_the_service_twin_accepts_every_mode(mode: str, backend: Post) -> None:
    sent = event(data={"from": "the backend"})
    response = backend(as_json(sent) if mode == "json" else MODES[mode](sent))
    assert response.status_code == 202, response.body
    assert response.json_body["results"][0]["id"] == sent.get_id()


# --- refused as a JSON body is -------------------------------------------------------------------


def refusals() -> list[CloudEvent]:
    return [
        event(),
        event(source="/apps/church"),  # forged: another app's source
        event("events.secret.leaked"),  # a type events does not declare
        event("church.service.scheduled"),  # another app's type
    ]


def _results(response: Any) -> tuple[int, list[dict[str, Any]]]:
    return response.status_code, response.json_body["results"]


@pytest.mark.parametrize("caller", ["member", "backend"])
def test_a_batch_is_refused_event_by_event_exactly_as_json(
    caller: str, request: pytest.FixtureRequest, identity: IdentityPlatform
) -> None:
    post: Post = request.getfixturevalue(caller)
    events = refusals()
    before = depth(identity.settings, identity.events.url)
    as_batch = _results(post(batch(*events)))
    assert as_batch == _results(post(as_json(*events)))
    status, results = as_batch
    assert status == 207
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "rejected"]
    assert results[1]["errors"] == [
        "source: set by the platform; a body may not claim another source (got '/apps/church')"
    ]
    assert depth(identity.settings, identity.events.url) == before + 2  # the valid one, twice


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_one_forged_or_undeclared_event_is_refused_exactly_as_json(mode: str, member: Post) -> None:
    for refused in refusals()[1:]:
        response = member(MODES[mode](refused))
        assert response.status_code == 400
        assert response.json_body["error"]["code"] == "events_rejected"
        assert _results(response) == _results(member(as_json(refused)))


# --- precise 400s, in the one error shape --------------------------------------------------------


def _shape(response: Any, status: int, code: str, says: str) -> None:
    assert response.status_code == status, response.body
    assert set(response.json_body) == {"error"}
    assert set(response.json_body["error"]) == {"code", "message", "request_id"}
    assert response.json_body["error"]["code"] == code
    assert says in response.json_body["error"]["message"]


def _binary_without(*names: str) -> HTTPMessage:
    message = to_binary(event(data={"n": 1}), FORMAT)
    return HTTPMessage({k: v for k, v in message.headers.items() if k not in names}, message.body)


CASES = {
    "no specversion": (_binary_without("ce-specversion"), 400, "missing_attribute", "ce-specversion header"),
    "no id nor type": (_binary_without("ce-id", "ce-type"), 400, "missing_attribute", "ce-id, ce-type headers"),
    "specversion 0.3": (
        HTTPMessage({"ce-specversion": "0.3", "ce-id": "x", "ce-type": PUBLISHED}, b""),
        400, "unsupported_specversion", "got '0.3'",
    ),
    "overlong UTF-8": (
        HTTPMessage({"ce-specversion": "1.0", "ce-id": "%C0%A0", "ce-type": PUBLISHED}, b""),
        400, "invalid_header", "ce-id: the percent-encoded bytes are not UTF-8",
    ),
    "structured array": (
        HTTPMessage({"content-type": "application/cloudevents+json"}, b"[]"),
        400, "invalid_event", "one event, a JSON object",
    ),
    "structured not JSON": (
        HTTPMessage({"content-type": "application/cloudevents+json"}, b"{"),
        400, "invalid_json", "structured mode: the body is not JSON",
    ),
    "empty batch": (HTTPMessage({"content-type": BATCH}, b"[]"), 400, "invalid_events", "got 0"),
    "batch of 11": (batch(*(event() for _ in range(11))), 400, "invalid_events", "got 11"),
    "batch object": (HTTPMessage({"content-type": BATCH}, b"{}"), 400, "invalid_events", "a JSON array"),
    "binary bad JSON": (
        HTTPMessage(_binary_without().headers | {"content-type": "application/json"}, b"{nope"),
        400, "invalid_json", "binary mode: the body",
    ),
    "latin-1": (
        HTTPMessage({"content-type": "application/cloudevents+json; charset=ISO-8859-1"}, b"{}"),
        415, "unsupported_charset", "send UTF-8",
    ),
    "avro": (
        HTTPMessage({"content-type": "application/cloudevents+avro"}, b"\x00"),
        415, "unsupported_media_type", "only the JSON event format",
    ),
    "html": (HTTPMessage({"content-type": "text/html"}, b"<p>"), 415, "unsupported_media_type", "ce-specversion"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_what_is_no_event_is_a_precise_error(case: str, member: Post, backend: Post) -> None:
    message, status, code, says = CASES[case]
    _shape(member(message), status, code, says)
    _shape(backend(message), status, code, says)


# --- chalice deploy ------------------------------------------------------------------------------


def test_chalice_deploy_validation_accepts_the_routes_in_every_stage() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in config["stages"]:
        validate_configuration(
            Config.create(chalice_stage=stage, chalice_app=chalice_app.app, project_dir=str(ROOT),
                          config_from_disk=config, app_name=config["app_name"])
        )  # fmt: skip
    swagger = SwaggerGenerator("eu-west-1", {"api_handler_arn": "arn:aws:lambda:eu-west-1:1:function:f"})
    paths = swagger.generate_swagger(chalice_app.app)["paths"]
    for path in (USER_PATH, SERVICE_PATH):
        assert paths[path.replace("events/events", "{app}/events")]["post"]["consumes"] == ["*/*"]


def test_the_validation_refuses_a_view_mixing_binary_and_text_types() -> None:
    # The failure the route avoids: application/octet-stream is one of API Gateway's binary types.
    mixed = Chalice(app_name="mixed")
    mixed.route("/e", methods=["POST"], content_types=["application/json", "application/octet-stream"])(
        lambda: {}
    )
    with pytest.raises(ValueError, match="support binary"):
        validate_route_content_types(mixed.routes, mixed.api.binary_types)
    assert "*/*" not in chalice_app.app.api.binary_types
