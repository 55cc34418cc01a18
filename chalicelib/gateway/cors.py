"""CORS per app, deny by default: which browser origins may read the API's answers.

    /apps/<slug>/...          the origins of <slug>'s frontend (`[apps.<slug>.frontend]`)
    /service/...              none: app backends are not browser pages
    /admin/...                the admin console's only (`[console] origins`)
    anything else (/me ...)   the union of every active app's origins

The console's origins are added to every route but /service: it reads each app's routes with the
signed-in user's token, and the routes' policies decide what that user sees.

The authorization middleware (authz.py) asks `preflight` for an `OPTIONS` request before any
policy (a preflight carries no token: the browser sends one only once the preflight says yes)
and passes every other answer, denials included, through `decorate`, so that a 401 or 403 is
readable by the page it refuses. An origin not allowed gets an answer without
`Access-Control-Allow-Origin`, which the browser does not let the page read. Credentials are bearer
tokens, never cookies: no `Access-Control-Allow-Credentials`.

Outside the `local` stage only https origins count (FrontendSpec.allowed_origins). API Gateway's
own refusals (no such route, throttling) are answered by the gateway, not here:
integreat/infra/api.py gives them the same headers. Each `OPTIONS` is a route of its own
(`policy.route` declares one per path), so that API Gateway hands preflights to this code
instead of answering them itself.
"""

from __future__ import annotations

import re

from chalice.app import Request, Response

from chalicelib.frontends.section import FRONTEND
from chalicelib.runtime import runtime
from chalicelib.tenancy.errors import TenancyError
from chalicelib.tenancy.registry import ACTIVE

PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer (Chromium caps it at 7200)
EXPOSED = "Retry-After"  # headers a page may read besides the CORS-safelisted ones
_SERVICE, _ADMIN = "/service", "/admin"  # app backends only; operators (and the console)
_HEADER_NAMES = re.compile(r"[A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*")
_union: tuple[object, frozenset[str]] = (None, frozenset())


def allowed(request: Request) -> frozenset[str]:
    """The origins that may read answers of the route `request` matched."""
    route = request.context.get("resourcePath") or ""
    if route.startswith(_SERVICE):
        return frozenset()
    local = runtime().settings.emulated  # make dev (and the test stage): loopback origins count
    console = _console(local)
    if route.startswith(_ADMIN):
        return console
    app = (request.uri_params or {}).get("app")
    if app is not None:
        try:
            return console | FRONTEND.of(runtime().database.registry.get_active(app)).allowed_origins(local)
        except TenancyError:  # unknown, removed or malformed: the view answers it; no origin reads it
            return frozenset()
    return console | _every_origin(local)


def _console(local: bool) -> frozenset[str]:
    """The admin console's origins (INTEGREAT_CONSOLE_ORIGINS): every route but /service."""
    origins = runtime().settings.console_origins
    return frozenset(o for o in origins if local or o.startswith("https://")) if origins else frozenset()


def _every_origin(local: bool) -> frozenset[str]:
    """The union of every active app's origins, recomputed only when the registry reloads (the
    reload builds a new mapping), so 1,000 apps cost one set lookup per request."""
    global _union
    apps = runtime().database.registry.all()
    key = (id(apps), local)
    if _union[0] != key:
        union = (FRONTEND.of(r).allowed_origins(local) for r in apps.values() if r.status == ACTIVE)
        _union = (key, frozenset().union(*union))
    return _union[1]


def preflight(request: Request) -> Response:
    """The answer to a browser's preflight: 204 allowing the route's methods to an allowed origin;
    a 403 the browser cannot read (no CORS headers) to any other."""
    from chalicelib.gateway.errors import error_response

    origin = request.headers.get("origin")
    wanted = (request.headers.get("access-control-request-method") or "").upper()
    methods = _methods(request)
    if origin is None or origin not in allowed(request) or wanted not in methods:
        reason = "this origin may not call this route from a browser" if origin else "not a CORS preflight"
        response = error_response(request, 403, "cors_denied", reason)
        response.headers["Vary"] = "Origin"
        return response
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Vary": "Origin",
    }
    asked = (request.headers.get("access-control-request-headers") or "").strip()
    if asked and len(asked) <= 1024 and _HEADER_NAMES.fullmatch(asked):
        headers["Access-Control-Allow-Headers"] = asked  # the origin is allowed; any header name may come
    return Response(body="", status_code=204, headers=headers)


def _methods(request: Request) -> list[str]:
    from chalicelib.gateway.policy import methods_of

    return methods_of(request.context.get("resourcePath"))


def decorate(request: Request, response: Response) -> Response:
    """Let an allowed origin's page read `response` (whatever its status); others cannot."""
    origin = request.headers.get("origin")
    if origin is None:
        return response
    response.headers["Vary"] = "Origin"  # caches must not hand one origin's answer to another
    try:
        admitted = origin in allowed(request)
    except Exception:  # the registry unreadable (a 503 is being answered): no origin reads it
        admitted = False
    if admitted:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
    return response
