"""Cross-app events: publish (the platform stamps the source), read the inbox, acknowledge."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.gateway.errors import ApiError, request_id
from chalicelib.gateway.params import integer, query
from chalicelib.gateway.policy import MEMBER, SERVICE_OF_APP, route
from chalicelib.runtime import runtime

events = Blueprint(__name__)

MAX_INBOX_PAGE = 100


@route(events, "/apps/{app}/events", methods=["POST"], allow=MEMBER, service=SERVICE_OF_APP)
def publish_events(app: str) -> Response:
    from chalicelib.messaging.publish import PublishRequestError, publish

    rt = runtime()
    rt.database.registry.get_active(app)
    request = events.current_request
    specs = {slug: a.events for slug, a in rt.database.registry.all().items() if a.status == "active"}
    try:
        outcomes = publish(
            app, request.json_body if request else None, specs=specs, send_batch=rt.send_event_batch
        )
    except PublishRequestError as exc:  # not one event nor a batch of 1 to 10
        raise ApiError(400, "invalid_events", str(exc)) from exc
    accepted = all(o.status == "accepted" for o in outcomes)
    status = 202 if accepted else 400 if all(o.status == "rejected" for o in outcomes) else 207
    body: dict[str, Any] = {"results": [o.to_json() for o in outcomes]}
    if status == 400:  # the one error shape, with the per-event reasons beside it
        message = "every event was rejected; `results` says why, per event"
        body["error"] = {"code": "events_rejected", "message": message, "request_id": request_id(request)}
    return Response(body=body, status_code=status)


@route(events, "/apps/{app}/inbox", methods=["GET"], allow=MEMBER, service=SERVICE_OF_APP)
def read_inbox(app: str) -> dict[str, Any]:
    from chalicelib.messaging import inbox

    runtime().database.registry.get_active(app)
    params = query(events.current_request)
    after, limit = integer(params, "after", 0, 0, 2**62), integer(params, "limit", 50, 1, MAX_INBOX_PAGE)
    found = inbox.read(runtime().database, app, after, limit)
    return {"app": app, "events": found, "next_after": found[-1]["seq"] if len(found) == limit else None}


@route(events, "/apps/{app}/inbox/{seq}/ack", methods=["POST"], allow=MEMBER, service=SERVICE_OF_APP)
def ack_event(app: str, seq: str) -> dict[str, Any]:
    from chalicelib.messaging import inbox

    runtime().database.registry.get_active(app)
    if not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        raise ApiError(400, "invalid_id", "the inbox id is the integer `seq` of a delivery")
    if not inbox.ack(runtime().database, app, int(seq)):
        raise ApiError(404, "unknown_delivery", f"no delivery {seq} in {app}'s inbox")
    return {"app": app, "seq": int(seq), "acked": True}
