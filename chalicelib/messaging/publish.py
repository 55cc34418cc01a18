"""Publishing: validate, stamp the source, check the app may publish the type, send as one batch.

`POST /apps/{app}/events` calls this. The `source` is the verified caller's app, never the body's
(a body claiming another source is rejected). SendMessageBatch sends up to 10 events in one call;
every event gets its own outcome, so one bad event never hides the others' ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from chalicelib.messaging.envelope import Envelope, validate
from chalicelib.messaging.routing import publish_problem
from chalicelib.messaging.spec import EventsSpec

MAX_BATCH = 10  # SendMessageBatch's limit


class PublishRequestError(ValueError):
    """The request is not one event or a batch of 1 to 10 (400)."""


class Outcome(NamedTuple):
    position: int  # the event's place in the request
    status: str  # "accepted", "rejected" (the event is wrong or not allowed), "failed" (retry later)
    id: str | None
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"index": self.position, "status": self.status, "id": self.id} | (
            {"errors": list(self.errors)} if self.errors else {}
        )


def as_batch(body: Any) -> list[Any]:
    events = body if isinstance(body, list) else [body]
    if not 1 <= len(events) <= MAX_BATCH:
        raise PublishRequestError(
            f"send one event (a JSON object) or a batch of 1 to {MAX_BATCH}; got {len(events)}"
        )
    return events


def publish(
    app: str,
    body: Any,
    *,
    specs: Mapping[str, EventsSpec],
    send_batch: Callable[[list[dict[str, str]]], dict[str, Any]],
    now: Callable[[], datetime] | None = None,
    budget: tuple[int, str] | None = None,
) -> list[Outcome]:
    """Validate every event, send the valid ones in one SendMessageBatch, report each. `budget`:
    (how many more the app may publish, the reason given to each valid event beyond that)."""
    outcomes: list[Outcome] = []
    ready: list[tuple[int, Envelope]] = []
    for index, raw in enumerate(as_batch(body)):
        envelope, problems = validate(raw, app=app, **({"now": now} if now else {}))
        if envelope is not None and not problems:
            problem = publish_problem(specs, app, envelope.type)
            problems = [problem] if problem else []
        if envelope is None or problems:
            event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            outcomes.append(Outcome(index, "rejected", event_id, tuple(problems)))
        else:
            ready.append((index, envelope))
    if budget is not None and len(ready) > max(0, budget[0]):
        left = max(0, budget[0])
        outcomes += [
            Outcome(index, "rejected", envelope.id, (budget[1],)) for index, envelope in ready[left:]
        ]
        ready = ready[:left]
    if ready:
        outcomes += _send(ready, send_batch)
    return sorted(outcomes)


def _send(
    ready: list[tuple[int, Envelope]], send_batch: Callable[[list[dict[str, str]]], dict[str, Any]]
) -> list[Outcome]:
    entries = [{"Id": str(index), "MessageBody": envelope.to_json()} for index, envelope in ready]
    ids = {index: envelope.id for index, envelope in ready}
    try:
        result = send_batch(entries)
    except Exception as exc:  # the queue is unreachable: nothing was sent, the caller may retry
        return [Outcome(index, "failed", ids[index], (f"queue unavailable: {exc}",)) for index, _ in ready]
    sent = [Outcome(int(s["Id"]), "accepted", ids[int(s["Id"])]) for s in result.get("Successful", [])]
    failed = [
        Outcome(
            int(f["Id"]),
            "failed",
            ids[int(f["Id"])],
            (f"{f.get('Code', 'error')}: {f.get('Message', '')}".strip(),),
        )
        for f in result.get("Failed", [])
    ]
    return sent + failed
