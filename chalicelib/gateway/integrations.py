"""Third-party integrations: `/apps/{app}/integrations/{name}/{p1}/.../{pN}` (N = 1 to 8) calls a
declared API for the app, with the platform's secret injected; the caller never sees or supplies the secret or
the URL. Deny by default: the integration must list the app, the method and the path prefix."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.gateway.authz import current_caller
from chalicelib.gateway.errors import ApiError, error_response
from chalicelib.gateway.policy import MEMBER, SERVICE_OF_APP, route
from chalicelib.integrations import METHODS
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.integrations.model import IntegrationSpec

integrations = Blueprint(__name__)

#: What a client may send through the proxy (Chalice refuses other request media types with 415).
#: Text types only. `chalice deploy` requires one route's types to be all binary or all text
#: (chalice/deploy/validate.py, `validate_route_content_types`), and binary is one API-wide list
#: (`app.api.binary_types`, the API's binaryMediaTypes). Declaring JSON binary would base64 every
#: JSON response of every route, which Chalice then answers only to an `Accept` naming a binary type.
#: So a binary request body (octet-stream) is refused with 415 before any upstream call; a binary
#: *answer* is still relayed (`_forward`, as octet-stream).
CONTENT_TYPES = [
    "application/json", "text/plain", "application/x-www-form-urlencoded", "application/xml", "text/csv",
]  # fmt: skip
#: ForwardError code -> status: the upstream failed (502) or was too slow (504); our input (400).
_STATUS = {"upstream_timeout": 504, "invalid_upstream_path": 400, "invalid_upstream_header": 400}


#: Chalice supports no greedy `{proxy+}` (neither `chalice local` nor the view's arguments:
#: aws/chalice#2012), so the proxy is declared at each depth: /{p1}, /{p1}/{p2}, ... /{p1}/.../{p8}.
MAX_DEPTH = 8
BASE = "/apps/{app}/integrations/{name}/"
PATTERNS = [BASE + "/".join(f"{{p{i}}}" for i in range(1, depth + 1)) for depth in range(1, MAX_DEPTH + 1)]


def call_integration(app: str, name: str, **segments: str) -> Response:
    """Call integration `name` for app `app`, at the path after the name (relative to its base
    URL, 1 to 8 segments): its secret is injected, the upstream's status and body come back. 403
    when the app may not use it (whether or not it exists), 405 for a method it does not allow,
    413 over its request size, 429 over its per-app rate (Retry-After), 502/504 when the upstream
    fails or is too slow."""
    proxy = "/".join(segments[f"p{i}"] for i in range(1, len(segments) + 1))
    request = integrations.current_request
    assert request is not None
    spec = _allowed(app, name, request.method, proxy)
    body = request.raw_body if isinstance(request.raw_body, bytes) else request.raw_body.encode()
    if len(body) > spec.max_request_bytes:
        raise ApiError(413, "request_too_large", f"{name} accepts at most {spec.max_request_bytes} bytes")
    wait = _take_call(app, spec)
    if wait:
        return error_response(
            request, 429, "rate_limited", f"{app} may call {name} {spec.per_minute} times a minute",
            **{"Retry-After": str(wait)},
        )  # fmt: skip
    query = _query_string(request.to_original_event())
    return _forward(app, spec, request.method, proxy, query, dict(request.headers), body)


for _pattern in PATTERNS:
    route(
        integrations,
        _pattern,
        methods=list(METHODS),
        allow=MEMBER,
        service=SERVICE_OF_APP,
        content_types=CONTENT_TYPES,
        # The integration decides (`_allowed`): an app it does not list is 403 whether or not
        # the app exists, so the path's app is not looked up in the registry at all.
        tenant=None,
    )(call_integration)


def _allowed(app: str, name: str, method: str, proxy: str) -> IntegrationSpec:
    spec = runtime().integrations.get(name)
    if spec is None or app not in spec.apps:
        raise ApiError(403, "forbidden", f"app {app!r} may not call integration {name!r}")
    if method not in spec.methods:
        raise ApiError(405, "method_not_allowed", f"{name} allows {', '.join(spec.methods)}")
    if not spec.allows_path(proxy):
        raise ApiError(403, "path_not_allowed", f"{name} allows only paths under: {', '.join(spec.paths)}")
    return spec


def _take_call(app: str, spec: IntegrationSpec) -> int:
    rows = runtime().database.platform(
        "SELECT integreat.take_integration_call(%s, %s, %s)", (app, spec.name, spec.per_minute)
    )
    wait = int(rows[0][0])
    if not wait:
        from chalicelib.usage.model import INTEGRATION_CALLS

        runtime().meter.add(app, INTEGRATION_CALLS)
    return wait


def _query_string(event: dict[str, Any]) -> str:
    """The caller's query, re-encoded from the decoded parameters (never passed through raw)."""
    from urllib.parse import quote

    params: dict[str, list[str]] = event.get("multiValueQueryStringParameters") or {}
    return "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, values in params.items() for v in values
    )


def _forward(
    app: str, spec: IntegrationSpec, method: str, proxy: str, query: str, headers: dict[str, str], body: bytes
) -> Response:
    from chalicelib.integrations.forward import ForwardError, Upstream, forward
    from chalicelib.integrations.secrets import SecretUnavailableError

    rt = runtime()
    base = spec.local_base_url if rt.settings.emulated and spec.local_base_url else spec.base_url
    upstream = Upstream(base, min(3.0, spec.timeout_seconds), spec.timeout_seconds, spec.max_response_bytes)
    started = time.perf_counter()
    try:
        secret = rt.secrets.get(spec.secret)
        answer = forward(
            upstream,
            method,
            proxy,
            query,
            headers,
            body or None,
            (spec.header, spec.value.replace("{secret}", secret)),
        )
    except SecretUnavailableError:
        _audit(app, spec, method, proxy, 503, started)
        raise ApiError(
            503, "integration_unavailable", f"{spec.name} is not configured; tell the platform team"
        ) from None
    except ForwardError as exc:
        status = _STATUS.get(exc.code, 502)
        _audit(app, spec, method, proxy, status, started)
        raise ApiError(status, exc.code, str(exc)) from None
    _audit(app, spec, method, proxy, answer.status, started)
    text: str | bytes
    try:
        text = answer.body.decode()
    except UnicodeDecodeError:  # relayed as binary: API Gateway base64-encodes octet-stream
        text, answer = answer.body, answer._replace(headers=[("Content-Type", "application/octet-stream")])
    return Response(body=text, status_code=answer.status, headers=dict(answer.headers))


def _audit(app: str, spec: IntegrationSpec, method: str, proxy: str, status: int, started: float) -> None:
    """One audit row per upstream call: who, what, outcome, latency. Never headers or the secret."""
    import uuid  # here, not at the top: it imports `platform`, ~3 ms of every cold start

    from chalicelib import audit

    caller = current_caller()
    detail = {
        "integration": spec.name,
        "caller": caller.username,
        "principal": "service" if caller.is_service else "user",
        "caller_app": caller.app,
        "method": method,
        "path": proxy,
        "status": status,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    subject = f"{method} {spec.name}/{proxy}"[:500]
    audit.write(
        runtime().database,
        kind="integration.call",
        app=app,
        subject=subject,
        reason=str(status),
        detail=detail,
        dedupe=uuid.uuid4().hex,
    )
