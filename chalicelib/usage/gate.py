"""Where the API meets usage: which app a request counts for, its request limit, and the
per-request bookkeeping (`chalicelib.gateway.authz` calls these; nothing here answers HTTP).

Imported at module level, unlike most of the usage package: every one of these is loaded by
`import app` anyway, and an import statement inside a function costs ~0.5 us a call on the path
every request takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from chalicelib.db.errors import DatabaseError
from chalicelib.runtime import runtime
from chalicelib.tenancy.errors import TenancyError
from chalicelib.usage.model import BUILT_IN
from chalicelib.usage.section import LIMITS

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


class Admission(NamedTuple):
    """What `admit` found: whether the registry serves the app (its requests are then counted),
    and (its requests per minute, seconds until the minute ends) when this one is over its limit."""

    served: bool
    over: tuple[int, int] | None = None


def admit(app: str) -> Admission:
    """Count this request toward its app's limit, with the one registry look-up a request's
    usage needs (`after_request` is told what it found). An app the registry does not serve is
    not limited here: the route answers it (404/410)."""
    current = runtime()
    if not current.settings.usage:
        return Admission(False)
    try:
        record = current.database.registry.get_active(app)
    except TenancyError:
        return Admission(False)
    limit = LIMITS.of(record).requests_per_minute or BUILT_IN["requests_per_minute"]
    retry = current.meter.admit(app, limit)
    if retry is None:
        return Admission(True)
    _reached(app, limit)
    return Admission(True, (limit, retry))


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


def after_request(app: str | None, status: int, served: bool | None = None) -> None:
    """Count the request for its app, and flush the instance's usage when the interval is over.
    `served`: what `admit` found (None: not asked, e.g. a request denied before it; looked up).
    Usage never fails the request it rides on: a fault here is logged, the response goes out."""
    try:
        _count(app, status, served)
    except Exception as exc:
        from chalicelib.observability import logger

        logger.warning("usage not counted", extra={"error": repr(exc)})


def _count(app: str | None, status: int, served: bool | None) -> None:
    current = runtime()
    if not current.settings.usage:
        return
    meter = current.meter
    if app is not None and (_served(app) if served is None else served):  # never a made-up name
        meter.record_request(app, status)
    if meter.due():
        from chalicelib.usage.store import flush

        flush(current.database, meter)


def _served(app: str) -> bool:
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
