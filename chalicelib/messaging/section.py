"""Messaging's section of the app model: `[apps.<slug>.events]`, what an app publishes and to
whom, and what it subscribes to; between apps, that every consumer and producer named exists and
every subscription matches a published type.

Imported whenever the registry is decoded: the parser and the codec load when first called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.messaging.model import EventsSpec
from chalicelib.tenancy.sections import AppContext, AppSection

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table


def _parse(app: Table, context: AppContext) -> EventsSpec | None:
    from chalicelib.messaging.spec import parse_events

    return parse_events(app, context.slug)


def _check(apps: Table, events: Mapping[str, EventsSpec | None]) -> None:
    from chalicelib.messaging.spec import check_event_links

    check_event_links(apps, events)


def _encode(spec: EventsSpec) -> Any:
    from chalicelib.messaging.codec import to_data

    return to_data(spec)


def _decode(data: Any) -> EventsSpec:
    from chalicelib.messaging.codec import from_json

    return from_json(data)


#: None declared: no events either way.
EVENTS: AppSection[EventsSpec] = AppSection(
    "events", EventsSpec(), parse=_parse, check=_check, encode=_encode, decode=_decode
)
