"""Platform admin routes."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.gateway.policy import PLATFORM_ADMIN, route
from chalicelib.runtime import runtime

admin = Blueprint(__name__)


@route(admin, "/admin/apps", methods=["GET"], allow=PLATFORM_ADMIN)
def list_apps() -> dict[str, Any]:
    registry = runtime().database.registry
    registry.invalidate()  # admins see the registry as it is now, not as cached
    return {
        "apps": [
            {
                "app": a.slug,
                "name": a.name,
                "status": a.status,
                "enrollment": a.enrollment,
                "roles": list(a.roles),
                "clients": list(a.clients),
                "created_at": a.created_at.isoformat() if a.created_at else None,
                "updated_at": a.updated_at.isoformat() if a.updated_at else None,
            }
            for a in sorted(registry.all().values(), key=lambda a: a.slug)
        ]
    }
