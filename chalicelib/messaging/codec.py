"""An app's events section to and from its JSON form in the registry (the `events` key of its sections)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.messaging.model import EventsSpec, Subscription


def to_data(spec: EventsSpec) -> dict[str, Any]:
    return {
        "publishes": list(spec.publishes),
        "consumers": None if spec.consumers is None else list(spec.consumers),
        "subscribes": [{"from": s.producer, "types": list(s.patterns)} for s in spec.subscribes],
        "forward_to_queue": spec.forward_to_queue,
    }


def to_json(spec: EventsSpec) -> str:
    return json.dumps(to_data(spec))


def from_json(value: Any) -> EventsSpec:
    data = json.loads(value) if isinstance(value, str) else (value or {})
    consumers = data.get("consumers")
    return EventsSpec(
        publishes=tuple(data.get("publishes", ())),
        consumers=None if consumers is None else tuple(consumers),
        subscribes=tuple(Subscription(s["from"], tuple(s["types"])) for s in data.get("subscribes", ())),
        forward_to_queue=bool(data.get("forward_to_queue", False)),
    )
