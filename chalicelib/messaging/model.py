"""The events section's value types, alone: the registry imports them at every cold start, so
they live apart from the parser and its regular expressions (chalicelib/messaging/spec.py)."""

from __future__ import annotations

from typing import NamedTuple


class Subscription(NamedTuple):
    """A consumer's side of consent: the types of one producer it wants to receive."""

    producer: str
    patterns: tuple[str, ...]


class EventsSpec(NamedTuple):
    """An app's events. The default publishes nothing and subscribes to nothing."""

    publishes: tuple[str, ...] = ()
    consumers: tuple[str, ...] | None = None  # None: any subscriber; () nobody
    subscribes: tuple[Subscription, ...] = ()
    forward_to_queue: bool = False
