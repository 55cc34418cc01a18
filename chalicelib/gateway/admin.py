"""Platform admin routes: the apps with their figures, and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.gateway.errors import ApiError
from chalicelib.gateway.params import integer, query
from chalicelib.gateway.policy import PLATFORM_ADMIN, route
from chalicelib.runtime import Runtime, runtime

if TYPE_CHECKING:
    from chalicelib.db.figures import AppFigures
    from chalicelib.tenancy.registry import AppRecord

admin = Blueprint(__name__)

MAX_AUDIT_PAGE = 200


@route(admin, "/admin/apps", methods=["GET"], allow=PLATFORM_ADMIN)
def list_apps() -> dict[str, Any]:
    """Every app in the registry with its figures (members, files, bytes, inbox depth; null for
    removed apps) and the depth of the shared events queue and its dead-letter queue."""
    from chalicelib.db.figures import app_figures

    rt = runtime()
    registry = rt.database.registry
    registry.invalidate()  # admins see the registry as it is now, not as cached
    apps = sorted(registry.all().values(), key=lambda a: a.slug)
    active = [a for a in apps if a.status == "active"]
    figures = app_figures(
        rt.database,
        [a.slug for a in active if a.cell is None],
        [a.slug for a in active if a.cell is not None],
    )
    return {"apps": [_app(a, figures.get(a.slug)) for a in apps], "queues": _queue_depths()}


@route(admin, "/admin/audit", methods=["GET"], allow=PLATFORM_ADMIN)
def read_audit() -> dict[str, Any]:
    """The audit log, newest first: ?app=&kind= filter, ?limit= (1-200, default 50) and
    ?cursor= (the previous page's next_cursor) page."""
    from chalicelib.audit import page
    from chalicelib.tenancy.slugs import slug_problem

    params = query(admin.current_request)
    app = params.get("app")
    if app is not None and (problem := slug_problem(app)) is not None:
        raise ApiError(400, "invalid_app", f"app {app!r} {problem}")
    before = integer(params, "cursor", 0, 1, 2**62) or None
    limit = integer(params, "limit", 50, 1, MAX_AUDIT_PAGE)
    rows = page(runtime().database, app=app, kind=params.get("kind"), before=before, limit=limit)
    return {"entries": rows, "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None}


def _app(a: AppRecord, figures: AppFigures | None) -> dict[str, Any]:
    rt = runtime()
    return {
        "app": a.slug,
        "name": a.name,
        "status": a.status,
        "enrollment": a.enrollment,
        "roles": list(a.roles),
        "clients": list(a.clients),
        "created_at": a.created_at.isoformat() if a.created_at else None,
        "updated_at": a.updated_at.isoformat() if a.updated_at else None,
        "figures": None if figures is None else {**figures._asdict(), "members": _members(rt, a.slug)},
    }


def _members(rt: Runtime, slug: str) -> int | None:
    from chalicelib.identity.errors import UnknownGroupError
    from chalicelib.identity.names import membership_group

    try:
        return len(rt.directory.members_of(membership_group(slug)))
    except UnknownGroupError:
        return None  # registered but its Cognito groups not yet created: `integreat apps sync`


def _queue_depths() -> dict[str, int]:
    # One shared dead-letter queue serves every app (one queue set per platform, by design), so its
    # depth is a platform figure; attributing dead letters per app would mean receiving them.
    rt = runtime()
    depths: dict[str, int] = {}
    for name in (rt.settings.events_queue, f"{rt.settings.events_queue}-dlq"):
        url = rt.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = rt.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        depths[name] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return depths
