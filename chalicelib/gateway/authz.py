"""The authorization middleware: every HTTP request passes here, in every stage (decision 6).

Deny by default: no declared policy -> 403; missing or bad token -> 401; a `/service` route
without a valid SigV4 signature of an app's role -> 403; policy says no -> 403, with no data. The verified caller is available to handlers through `current_caller()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar

from chalice.app import Blueprint, Request, Response

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.gateway import cors
from chalicelib.gateway.errors import (
    ApiError,
    chalice_error,
    database_unavailable,
    error_response,
    unexpected,
)
from chalicelib.gateway.params import check_request
from chalicelib.gateway.policy import policy_for
from chalicelib.identity.tokens import Caller, TokenError
from chalicelib.observability import DENIALS, count, logger, start_invocation
from chalicelib.runtime import runtime
from chalicelib.usage import gate

authz = Blueprint(__name__)

_caller: ContextVar[Caller | None] = ContextVar("integreat_caller", default=None)
#: The app the request counts for (usage): the path's until the caller is known.
#: The app a request counts for, and whether the registry serves it (None: not looked up yet).
_metered: ContextVar[tuple[str | None, bool | None]] = ContextVar(
    "integreat_metered_app", default=(None, None)
)


def current_caller() -> Caller:
    """The verified caller of the request being handled (only under an authenticated policy)."""
    caller = _caller.get()
    if caller is None:
        raise LookupError("no verified caller: the route's policy does not authenticate")
    return caller


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@authz.middleware("http")
def authorize(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Check the request's text, authorize it, and answer in the one error shape whatever is
    raised here: an exception escaping a middleware is Chalice's own 500 (issue 14: a token with
    deeply nested JSON), which would also skip the request's log line."""
    try:
        check_request(request)  # before any of it reaches a log line (the path's app is on each)
        if request.method == "OPTIONS":
            return cors.preflight(request)  # a preflight carries no token: it asks before sending one
        _metered.set(((request.uri_params or {}).get("app"), None))
        response = _authorize(request, get_response)
    except ApiError as exc:
        response = _refuse(request, exc)
    except DatabaseUnavailableError:  # a preflight's registry read, with no copy to serve from
        response = database_unavailable(request)
    except Exception as exc:
        response = unexpected(request, exc)
    if request.method != "OPTIONS":
        metered, served = _metered.get()
        gate.after_request(metered, response.status_code, served)  # every outcome, for its app
        _metered.set((None, None))
    return cors.decorate(request, response)  # denials too: the page may read why it was refused


def _authorize(request: Request, get_response: Callable[[Request], Response]) -> Response:
    path_app = (request.uri_params or {}).get("app")
    start_invocation(request.context.get("requestId"), path_app)
    policy = policy_for(request.context.get("resourcePath"), request.method)
    if policy is None:
        return _deny(request, 403, "forbidden", "no access policy is declared for this route", path_app)
    caller = None
    if policy.service:
        found = _service_caller(request)
        if isinstance(found, Response):
            return found
        caller = found
    elif policy.authenticate:
        token = bearer_token(request)
        if token is None:
            return _deny(request, 401, "unauthorized", "a bearer token is required", path_app)
        try:
            caller = runtime().verifier.verify(token, policy.token_use)
        except TokenError as exc:
            return _deny(request, 401, "invalid_token", exc.reason, path_app)
        except DatabaseUnavailableError as exc:  # the registry could not be loaded to check the client
            logger.warning("database unavailable", extra={"error": str(exc)})
            return database_unavailable(request)
    if not policy.allows(caller, path_app):
        return _deny(request, 403, "forbidden", f"this route is for: {policy.description}", path_app)
    app = gate.metered_app(path_app, caller)
    admission = gate.admit(app) if app else gate.Admission(False)
    _metered.set((app, admission.served))
    if admission.over is not None:
        return _throttled(request, app or "", *admission.over)
    reset = _caller.set(caller)
    started = time.perf_counter()
    try:
        response = chalice_error(request, get_response(request))
    finally:
        _caller.reset(reset)
    # One line per admitted request (denials log their own): who, what, outcome, cost. The
    # path app is already on every line (start_invocation); the caller's app may differ.
    logger.info(
        "request",
        extra={
            "method": request.method,
            "route": request.context.get("resourcePath"),
            "status": response.status_code,
            "caller_app": caller.app if caller else None,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response


def _service_caller(request: Request) -> Caller | Response:
    """The app backend that signed `request`; a bad or missing signature is 403, as in AWS."""
    from chalicelib.identity.sigv4 import SignatureError

    path_app = (request.uri_params or {}).get("app")
    try:
        role_id = runtime().service_auth.role_id(request)
        record = runtime().database.registry.app_for_role(role_id)
    except SignatureError as exc:
        return _deny(request, 403, "invalid_signature", exc.reason, path_app)
    except DatabaseUnavailableError as exc:
        logger.warning("database unavailable", extra={"error": str(exc)})
        return database_unavailable(request)
    if record is None:
        return _deny(request, 403, "unknown_principal", "the signing role belongs to no active app", path_app)
    return Caller(role_id, f"{record.slug} service", record.slug, (), False, "", "service", True)


def _refuse(request: Request, exc: ApiError) -> Response:
    """Input the boundary refused: not a denial (no Denials metric), and no app on the log line."""
    start_invocation(request.context.get("requestId"))
    logger.info("request refused", extra={"status": exc.status, "code": exc.code,
                                          "route": request.context.get("resourcePath")})  # fmt: skip
    return error_response(request, exc.status, exc.code, exc.message)


def _throttled(request: Request, app: str, limit: int, retry: int) -> Response:
    logger.info("request throttled", extra={"status": 429, "limit": limit, "retry_after": retry})
    message = f"app {app!r} is over its limit of {limit} requests per minute; retry in {retry} s"
    return error_response(request, 429, "rate_limited", message, **{"Retry-After": str(retry)})


def _deny(request: Request, status: int, code: str, message: str, app: str | None) -> Response:
    count(DENIALS, app, reason=code)
    logger.info("request denied", extra={"status": status, "code": code, "path": request.path})
    return error_response(request, status, code, message)
