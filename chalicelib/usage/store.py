"""Usage in Postgres (platform migration 0012): the meter's flush, and the reads of the API.

The runtime writes only through `integreat.record_usage` (it cannot rewrite a counter) and reads
`integreat.usage_daily` directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from chalicelib.db.tenant import Database
from chalicelib.usage.meter import Batch, Meter
from chalicelib.usage.model import COUNTERS

_RECORD = (
    "SELECT out_app, out_requests FROM integreat.record_usage(%s, %s, %s, %s, %s, to_timestamp(%s), %s, %s)"
)


def flush(db: Database, meter: Meter) -> int:
    """Send what `meter` holds; answers how many batches were applied. A failure keeps them for
    the next flush and is logged, never raised: usage must not fail the request it rides on."""
    from chalicelib.observability import logger

    applied = 0
    for batch in meter.take():
        try:
            rows = db.platform(_RECORD, _params(batch))
        except Exception as exc:  # any failure (database away, driver error): the batch is kept
            meter.failed(batch)
            logger.warning("usage not flushed; kept for the next flush", extra={"error": str(exc)})
            continue
        meter.confirmed(batch, {str(app): int(n) for app, n in rows})
        _emit(batch)
        applied += 1
    return applied


def _params(batch: Batch) -> tuple[Any, ...]:
    keys = list(batch.daily)
    return (
        batch.id,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [batch.daily[k] for k in keys],
        batch.minute * 60,
        list(batch.requests),
        list(batch.requests.values()),
    )


def _emit(batch: Batch) -> None:
    """The batch's requests and throttles as CloudWatch EMF counts with the app as a dimension
    (the dashboards' per-app view): one count per app and status class, per flush."""
    from chalicelib.observability import REQUESTS_METRIC, THROTTLES, count

    for (app, _day, figure), value in batch.daily.items():
        if figure.startswith("requests_"):
            count(REQUESTS_METRIC, app, value, **{"class": figure.removeprefix("requests_")})
        elif figure == "throttled":
            count(THROTTLES, app, value, limit="requests")


def today_count(db: Database, meter: Meter, app: str, figure: str) -> int:
    """Today's `figure` of `app` so far: what is flushed, plus what this instance still holds.
    With the database away, only the latter: a budget fails open rather than stopping a path
    that survives an outage (publishing), and says so in the log."""
    from chalicelib.db.errors import DatabaseUnavailableError
    from chalicelib.observability import logger

    try:
        flushed = _flushed_today(db, app, figure)
    except DatabaseUnavailableError as exc:
        logger.warning(
            "usage unreadable; the daily budget counts this instance only", extra={"error": str(exc)}
        )
        flushed = 0
    return flushed + meter.pending(app, figure)


def _flushed_today(db: Database, app: str, figure: str) -> int:
    rows = db.platform(
        "SELECT value FROM integreat.usage_daily WHERE app = %s AND day = (now() AT TIME ZONE 'UTC')::date"
        " AND figure = %s",
        (app, figure),
    )
    return int(rows[0][0]) if rows else 0


def daily(db: Database, app: str, start: date, end: date) -> list[dict[str, Any]]:
    """`app`'s counters per day from `start` to `end` (days without activity left out)."""
    rows = db.platform(
        "SELECT day, jsonb_object_agg(figure, value) FROM integreat.usage_daily"
        " WHERE app = %s AND day BETWEEN %s AND %s GROUP BY day ORDER BY day",
        (app, start, end),
    )
    return [_day(None, day, figures) for day, figures in rows]


def across_apps(
    db: Database, app: str | None, start: date, end: date, after: tuple[date, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Every app's counters per day, ordered by (day, app), the page after `after`."""
    since = after or (date.min, "")
    rows = db.platform(
        "SELECT app, day, jsonb_object_agg(figure, value) FROM integreat.usage_daily"
        " WHERE day BETWEEN %s AND %s AND (%s::text IS NULL OR app = %s) AND (day, app) > (%s, %s)"
        " GROUP BY day, app ORDER BY day, app LIMIT %s",
        (start, end, app, app, since[0], since[1], limit),
    )
    return [_day(str(slug), day, figures) for slug, day, figures in rows]


def _day(app: str | None, day: date, figures: Mapping[str, Any] | str) -> dict[str, Any]:
    values = json.loads(figures) if isinstance(figures, str) else figures
    found: dict[str, Any] = {"app": app} if app is not None else {}
    found["day"] = day.isoformat()
    return found | {name: int(values.get(name, 0)) for name in COUNTERS}


def members(db: Database, app: str) -> int:
    rows = db.platform("SELECT integreat.app_members(%s)", (app,))
    return int(rows[0][0]) if rows else 0
