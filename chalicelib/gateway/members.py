"""Who am I, and an app's members and roles (managed by the app's admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.gateway.authz import current_caller
from chalicelib.gateway.policy import ANY_SERVICE, AUTHENTICATED, app_role, route
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

members = Blueprint(__name__)

# chalicelib.identity.membership (and the Cognito wrapper under it) is imported inside the
# views that manage members: the API's cold start does not pay for them.

APP_ADMIN = app_role("admin")


@route(members, "/me", methods=["GET"], allow=AUTHENTICATED, service=ANY_SERVICE)
def get_me() -> dict[str, Any]:
    """Who is calling: the verified user (or, at /service/me, the app backend's role)."""
    caller = current_caller()
    return {
        "principal": "service" if caller.is_service else "user",
        "user_id": caller.user_id,
        "username": caller.username,
        "app": caller.app,
        "member": caller.is_member,
        "roles": list(caller.roles),
        "platform_admin": caller.is_admin,
    }


@route(members, "/apps/{app}/members", methods=["GET"], allow=APP_ADMIN)
def list_members(app: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.identity import membership

    found = membership.list_members(tenant, runtime().directory)
    return {"app": app, "members": [m._asdict() | {"roles": list(m.roles)} for m in found]}


@route(members, "/apps/{app}/members/{user}", methods=["PUT"], allow=APP_ADMIN)
def admit_member(app: str, user: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.identity import membership

    rt = runtime()
    membership.admit(tenant, user, rt.directory, rt.exclusions)
    _announce("integreat.app.member.added", app, user)
    return {"app": app, "user": user, "member": True}


@route(members, "/apps/{app}/members/{user}", methods=["DELETE"], allow=APP_ADMIN)
def remove_member(app: str, user: str, tenant: AppRecord) -> Response:
    from chalicelib.identity import membership

    rt = runtime()
    membership.remove(tenant, user, current_caller().username, rt.directory, rt.exclusions)
    _announce("integreat.app.member.removed", app, user)
    return Response(body="", status_code=204)


def _announce(event_type: str, app: str, user: str) -> None:
    """The lifecycle event to the apps that consent (chalicelib/messaging/lifecycle.py)."""
    from chalicelib.messaging.lifecycle import announce_from_runtime

    announce_from_runtime(runtime().database, event_type, app, {"user": user})


@route(members, "/apps/{app}/members/{user}/roles/{role}", methods=["PUT"], allow=APP_ADMIN)
def grant_role(app: str, user: str, role: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.identity import membership

    membership.set_role(tenant, user, role, True, runtime().directory)
    return {"app": app, "user": user, "role": role, "granted": True}


@route(members, "/apps/{app}/members/{user}/roles/{role}", methods=["DELETE"], allow=APP_ADMIN)
def revoke_role(app: str, user: str, role: str, tenant: AppRecord) -> Response:
    from chalicelib.identity import membership

    membership.set_role(tenant, user, role, False, runtime().directory)
    return Response(body="", status_code=204)
