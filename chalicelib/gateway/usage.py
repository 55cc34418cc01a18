"""Usage per app: an app's own (its admins), and every app's (the platform admin), per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.gateway.errors import ApiError
from chalicelib.gateway.params import integer, query
from chalicelib.gateway.policy import PLATFORM_ADMIN, app_role, route
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

usage = Blueprint(__name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_PAGE = 500


@route(usage, "/apps/{app}/usage", methods=["GET"], allow=app_role("admin"))
def app_usage(app: str, tenant: AppRecord) -> dict[str, Any]:
    """The app's counters per day (?from=&to=, ISO dates, default the last 30 days; days without
    activity left out), its files, bytes and members now, and its limits as they apply."""
    from chalicelib.db.figures import app_figures
    from chalicelib.usage import store
    from chalicelib.usage.section import LIMITS

    start, end = _range(query(usage.current_request))
    db = runtime().database
    home = tenant.cell is None
    figures = app_figures(db, [app] if home else [], None if home else [app]).get(app)
    current = {
        "storage_objects": figures.files if figures else 0,
        "storage_bytes": figures.bytes if figures else 0,
        "members": store.members(db, app),
    }
    return {
        "app": app,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": store.daily(db, app, start, end),
        "current": current,
        "limits": LIMITS.of(tenant).effective(),
    }


@route(usage, "/admin/usage", methods=["GET"], allow=PLATFORM_ADMIN)
def all_usage() -> dict[str, Any]:
    """Every app's counters per day, ordered by day then app: ?app= one app, ?from=&to=,
    ?limit= (1-500, default 100) and ?after= (the previous page's `next`)."""
    from chalicelib.tenancy.slugs import slug_problem
    from chalicelib.usage import store

    params = query(usage.current_request)
    app = params.get("app")
    if app is not None and (problem := slug_problem(app)) is not None:
        raise ApiError(400, "invalid_app", f"app {app!r} {problem}")
    start, end = _range(params)
    limit = integer(params, "limit", 100, 1, MAX_PAGE)
    rows = store.across_apps(runtime().database, app, start, end, _cursor(params.get("after")), limit)
    after = f"{rows[-1]['day']}.{rows[-1]['app']}" if len(rows) == limit else None
    return {"from": start.isoformat(), "to": end.isoformat(), "usage": rows, "next": after}


def _range(params: dict[str, str]) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    end = _date(params, "to", today)
    start = _date(params, "from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        raise ApiError(400, "invalid_range", f"from ({start}) is after to ({end})")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(400, "invalid_range", f"ask for at most {MAX_DAYS} days at a time")
    return start, end


def _date(params: dict[str, str], name: str, default: date) -> date:
    text = params.get(name)
    if text is None:
        return default
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_date(name, text)
    except ValueError:
        return _bad_date(name, text)


def _bad_date(name: str, text: str) -> date:
    raise ApiError(400, f"invalid_{name}", f"?{name}= must be a date written YYYY-MM-DD; got {text[:40]!r}")


def _cursor(text: str | None) -> tuple[date, str] | None:
    """`<day>.<app>` as `next` gave it."""
    if text is None:
        return None
    day, _, app = text.partition(".")
    try:
        return date.fromisoformat(day), app
    except ValueError:
        raise ApiError(400, "invalid_after", "?after= must be the `next` of the previous page") from None
