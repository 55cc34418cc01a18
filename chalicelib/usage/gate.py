"""Where the API meets usage: which app a request counts for, its request limit, and the
per-request bookkeeping (`chalicelib.gateway.authz` calls these; nothing here answers HTTP)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.identity.tokens import Caller


def metered_app(path_app: str | None, caller: Caller | None) -> str | None:
    """The app a request counts for: the path's, else the caller's own (a platform admin's
    requests outside an app's path count for no app, and are never limited)."""
    if path_app:
        return path_app
    if caller is not None and not caller.is_admin and caller.app:
        return caller.app
    return None


def over_limit(app: str) -> tuple[int, int] | None:
    """(the app's requests per minute, seconds until its minute ends) when this request is over
    its limit, else None (and the request is counted toward it). An app the registry does not
    serve is not limited here: the route answers it (404/410)."""
    from chalicelib.tenancy.errors import TenancyError
    from chalicelib.usage.model import BUILT_IN
    from chalicelib.usage.section import LIMITS

    if not runtime().settings.usage:
        return None
    try:
        record = runtime().database.registry.get_active(app)
    except TenancyError:
        return None
    limit = LIMITS.of(record).requests_per_minute or BUILT_IN["requests_per_minute"]
    retry = runtime().meter.admit(app, limit)
    if retry is None:
        return None
    _reached(app, limit)
    return limit, retry


_announced: dict[str, int] = {}  # app -> the minute its limit.reached was last announced here


def _reached(app: str, limit: int) -> None:
    """`integreat.app.limit.reached`, once per app and minute per instance (not per refusal)."""
    import time

    minute = int(time.time() // 60)
    if _announced.get(app) == minute:
        return
    _announced[app] = minute
    from chalicelib.messaging.lifecycle import LIMIT_REACHED, announce_from_runtime

    announce_from_runtime(
        runtime().database, LIMIT_REACHED, app, {"limit": "requests_per_minute", "value": limit}
    )


def after_request(app: str | None, status: int) -> None:
    """Count the request for its app, and flush the instance's usage when the interval is over.
    Usage never fails the request it rides on: a fault here is logged, the response goes out."""
    try:
        _count(app, status)
    except Exception as exc:
        from chalicelib.observability import logger

        logger.warning("usage not counted", extra={"error": repr(exc)})


def _count(app: str | None, status: int) -> None:
    if not runtime().settings.usage:
        return
    meter = runtime().meter
    if app is not None and _served(app):  # never a row for a name a client made up
        meter.record_request(app, status)
    if meter.due():
        from chalicelib.usage.store import flush

        flush(runtime().database, meter)


def _served(app: str) -> bool:
    from chalicelib.db.errors import DatabaseError
    from chalicelib.tenancy.errors import TenancyError

    try:
        runtime().database.registry.get_active(app)
    except (TenancyError, DatabaseError):
        return False
    return True


def flush_now() -> None:
    """Flush this instance's usage whatever the interval (a long-lived server's timer)."""
    try:
        from chalicelib.usage.store import flush

        flush(runtime().database, runtime().meter)
    except Exception as exc:  # no runtime installed (stopping), or the database away: logged
        from chalicelib.observability import logger

        logger.warning("usage not flushed", extra={"error": repr(exc)})
