"""An app's limits (`[apps.<slug>.limits]`, defaults in `[platform.limits]`) and the usage figures.

Standard library only: the registry decodes the section on the request path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

#: The counters kept per app and day (usage_daily.figure), in the order reports show them.
REQUESTS = "requests"
THROTTLED = "throttled"
EVENTS_PUBLISHED = "events_published"
EVENTS_DELIVERED = "events_delivered"
DEAD_LETTERS = "dead_letters"
INTEGRATION_CALLS = "integration_calls"
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
COUNTERS = (
    REQUESTS,
    *(f"requests_{c}" for c in STATUS_CLASSES),
    THROTTLED,
    EVENTS_PUBLISHED,
    EVENTS_DELIVERED,
    DEAD_LETTERS,
    INTEGRATION_CALLS,
)

#: What applies when neither the app nor `[platform.limits]` says: 20 requests a second sustained
#: per app (the stage's API concurrency is shared by every app), 5 GB of files, 50,000 events a day.
BUILT_IN = {"requests_per_minute": 1200, "storage_bytes": 5 * 1024**3, "events_per_day": 50_000}
KEYS = tuple(BUILT_IN)


class LimitsSpec(NamedTuple):
    """An app's limits; None: not declared here (the platform's default, then the built-in)."""

    requests_per_minute: int | None = None
    storage_bytes: int | None = None
    events_per_day: int | None = None

    def over(self, defaults: LimitsSpec) -> LimitsSpec:
        """These limits, each undeclared one taken from `defaults`."""
        return LimitsSpec(
            *(mine if mine is not None else theirs for mine, theirs in zip(self, defaults, strict=True))
        )

    def effective(self) -> dict[str, int]:
        """Every limit as it applies: declared, else the built-in."""
        return {key: value if value is not None else BUILT_IN[key] for key, value in self._asdict().items()}


def to_data(spec: LimitsSpec) -> Any:
    return {key: value for key, value in spec._asdict().items() if value is not None}


def from_data(data: Any) -> LimitsSpec:
    return LimitsSpec(**{key: int(data[key]) for key in KEYS if key in (data or {})})
