"""`integreat usage`: each app's usage over the last days, as a table with a sparkline per figure."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from chalicelib.db.pool import connector
from chalicelib.tenancy.slugs import validate_slug
from chalicelib.usage.model import COUNTERS
from integreat.commands.common import console, operator_url

#: Eight heights of a bar. A sparkline is these and one line of arithmetic; no library of the
#: ones on PyPI is kept better than that line, so it stays here.
BARS = "▁▂▃▄▅▆▇█"
SHOWN = ("requests", "requests_4xx", "requests_5xx", "throttled", "events_published", "events_delivered",
         "dead_letters", "integration_calls")  # fmt: skip


def sparkline(values: list[int]) -> str:
    """One character per value, scaled to the largest; a blank for 0.

    >>> sparkline([0, 1, 4, 8])
    ' ▁▄█'
    """
    top = max(values, default=0)
    return "".join(" " if v == 0 else BARS[max(0, min(7, round(v / top * 8) - 1))] for v in values)


def usage(
    app: Annotated[
        str | None, typer.Option("--app", help="One app: every figure, with a sparkline each.")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="How many days back, today included.")
    ] = 30,
) -> None:
    """Usage per app and day: requests by status class, throttled requests, events published and
    delivered, dead letters, integration calls (counted by the API and the consumers, flushed
    every few seconds).

    Example: integreat usage --app church --days 7
    """
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    rows = _read(validate_slug(app) if app else None, start, end)
    span = [start + timedelta(days=n) for n in range(days)]
    if app:
        _one_app(app, rows.get(app, {}), span)
    else:
        _every_app(rows, span)


def _read(app: str | None, start: date, end: date) -> dict[str, dict[tuple[date, str], int]]:
    conn = connector(operator_url())()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT app, day, figure, value FROM integreat.usage_daily WHERE day BETWEEN %s AND %s"
                " AND (%s::text IS NULL OR app = %s)",
                (start, end, app, app),
            )
            found: dict[str, dict[tuple[date, str], int]] = defaultdict(dict)
            for slug, day, figure, value in cur.fetchall():
                found[str(slug)][(day, str(figure))] = int(value)
    finally:
        conn.close()
    return found


def _series(figures: dict[tuple[date, str], int], figure: str, span: list[date]) -> list[int]:
    return [figures.get((day, figure), 0) for day in span]


def _one_app(app: str, figures: dict[tuple[date, str], int], span: list[date]) -> None:
    table = Table(title=f"{app}: {span[0]} to {span[-1]} (UTC days)")
    for column in ("figure", "total", "today", "per day"):
        table.add_column(column, justify="left" if column in ("figure", "per day") else "right")
    for figure in COUNTERS:
        series = _series(figures, figure, span)
        table.add_row(figure, f"{sum(series):,}", f"{series[-1]:,}", sparkline(series))
    console.print(table)
    if not figures:
        console.print(f"no usage recorded for {app} in these days")


def _every_app(rows: dict[str, dict[tuple[date, str], int]], span: list[date]) -> None:
    table = Table(title=f"usage per app: {span[0]} to {span[-1]} (UTC days)")
    table.add_column("app")
    for figure in SHOWN:
        table.add_column(figure.replace("_", " "), justify="right")
    table.add_column("requests per day")
    for app in sorted(rows):
        totals = [f"{sum(_series(rows[app], figure, span)):,}" for figure in SHOWN]
        table.add_row(app, *totals, sparkline(_series(rows[app], "requests", span)))
    console.print(table)
    if not rows:
        console.print("no usage recorded in these days (the API and the consumers count it as they run)")
