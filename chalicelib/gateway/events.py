"""Cross-app events: publish (the platform stamps the source), read the inbox, acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Request, Response

from chalicelib.gateway.errors import ApiError, request_id
from chalicelib.gateway.params import integer, json_body, query
from chalicelib.gateway.policy import MEMBER, SERVICE_OF_APP, route
from chalicelib.runtime import runtime
from chalicelib.usage.model import EVENTS_PUBLISHED

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

events = Blueprint(__name__)

MAX_INBOX_PAGE = 100


#: Binary mode's Content-Type is the event's own `datacontenttype`, any media type (CloudEvents
#: HTTP binding 3.1.1), and Chalice matches declared types exactly, with `*/*` its only wildcard;
#: so the view admits every type and `messaging.binding` refuses (415) what it cannot read.
#: `*/*` is not among API Gateway's binary types, which keeps the view's types consistent for
#: `chalice deploy` (one binary and one text type in a view is an error there).
ANY_MEDIA_TYPE = ["*/*"]


@route(
    events,
    "/apps/{app}/events",
    methods=["POST"],
    allow=MEMBER,
    service=SERVICE_OF_APP,
    content_types=ANY_MEDIA_TYPE,
)
def publish_events(app: str, tenant: AppRecord) -> Response:
    """Publish 1 to 10 events (CloudEvents 1.0); the platform stamps `source` from the caller.
    The CloudEvents HTTP binding in all three modes: structured (`application/cloudevents+json`,
    one event), batch (`application/cloudevents-batch+json`, an array of 1 to 10) and binary
    (`ce-specversion`, `ce-id`, `ce-type`, ... headers, the data as the body, its type the
    Content-Type); or `application/json`, one event or an array. 202 when every event was sent,
    207 when some were, 400 when none: `results` has an outcome per event."""
    from chalicelib.messaging.publish import publish
    from chalicelib.messaging.section import EVENTS

    request = events.current_request
    # Whether an app may publish a type is its own declaration alone (routing.publish_problem).
    specs = {app: EVENTS.of(tenant)}
    raw = _read_events(request)
    budget, reason = _daily_budget(app, tenant)
    outcomes = publish(app, raw, specs=specs, send_batch=runtime().send_event_batch, budget=(budget, reason))
    sent = sum(o.status == "accepted" for o in outcomes)
    runtime().meter.add(app, EVENTS_PUBLISHED, sent)
    status = 202 if sent == len(outcomes) else 400 if all(o.status == "rejected" for o in outcomes) else 207
    body: dict[str, Any] = {"results": [o.to_json() for o in outcomes]}
    headers: dict[str, str | list[str]] = {}
    if status == 400 and all(reason in o.errors for o in outcomes):  # refused for the budget alone
        status, headers["Retry-After"] = 429, str(_seconds_to_midnight())
        body["error"] = {"code": "events_limit_reached", "message": reason, "request_id": request_id(request)}
    elif status == 400:  # the one error shape, with the per-event reasons beside it
        message = "every event was rejected; `results` says why, per event"
        body["error"] = {"code": "events_rejected", "message": message, "request_id": request_id(request)}
    return Response(body=body, status_code=status, headers=headers)


def _daily_budget(app: str, tenant: AppRecord) -> tuple[int, str]:
    """How many more events the app may publish today (UTC), and why the rest are refused."""
    from chalicelib.usage import store
    from chalicelib.usage.section import LIMITS

    limit = LIMITS.of(tenant).effective()["events_per_day"]
    rt = runtime()
    left = limit - store.today_count(rt.database, rt.meter, app, EVENTS_PUBLISHED)
    return (
        left,
        f"events_limit_reached: {app} may publish {limit} events a day (UTC); it resumes at midnight UTC",
    )


def _seconds_to_midnight() -> int:
    now = datetime.now(UTC)
    return max(1, int((datetime.combine(now.date() + timedelta(days=1), time(0), UTC) - now).total_seconds()))


def _read_events(request: Request | None) -> list[Any]:
    """The request's 1 to 10 events, in whichever mode it was sent; a 400 (or 415) if none."""
    from chalicelib.messaging.binding import BindingError, read_events

    headers, body = (request.headers, request.raw_body) if request else ({}, None)
    try:
        return read_events(headers, body, json_body=lambda: json_body(request))
    except BindingError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc


@route(events, "/apps/{app}/inbox", methods=["GET"], allow=MEMBER, service=SERVICE_OF_APP)
def read_inbox(app: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.messaging import inbox

    params = query(events.current_request)
    after, limit = integer(params, "after", 0, 0, 2**62), integer(params, "limit", 50, 1, MAX_INBOX_PAGE)
    found = inbox.read(runtime().database, app, after, limit)
    return {"app": app, "events": found, "next_after": found[-1]["seq"] if len(found) == limit else None}


@route(events, "/apps/{app}/inbox/{seq}/ack", methods=["POST"], allow=MEMBER, service=SERVICE_OF_APP)
def ack_event(app: str, seq: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.messaging import inbox

    if not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        raise ApiError(400, "invalid_id", "the inbox id is the integer `seq` of a delivery")
    if not inbox.ack(runtime().database, app, int(seq)):
        raise ApiError(404, "unknown_delivery", f"no delivery {seq} in {app}'s inbox")
    return {"app": app, "seq": int(seq), "acked": True}
