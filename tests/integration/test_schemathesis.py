"""Schemathesis against the local API: bounded, and not one server error (the issue's acceptance).

The Chalice app is served over real HTTP by Chalice local, as `integreat dev` serves it
(integreat/local/platform.py), with `signed_runtime` installed: real Postgres and moto, real token
and SigV4 verification. Every operation of the app's own OpenAPI document is fuzzed, and every
generated request is sent twice: anonymously (a 401 or 403, never a 500) and with credentials that
get past authorization into the handler: a bearer token of church's client with the church admin
and platform admin groups for user routes, and for `/service/...` routes a SigV4 signature of
church's role, computed over the exact method, path, query and body sent (a `requests` auth hook).

The document declares path parameters only (the handlers read query strings and bodies
themselves), so `_fuzzable` adds what the handlers read: their query parameters and JSON bodies,
and biases the path parameters towards real values (the demo apps, church's dataset, roles) so
requests reach past `registry.get_active(app)` instead of stopping at 404. The integration proxy
is never pointed at a declared integration (none is synced in the `identity` fixture), so no
request leaves for an upstream: it answers 403.

Bounded: schemathesis' fuzzing phase only (no coverage or stateful phase, positive mode), at
most MAX_EXAMPLES examples per operation and PROXY_EXAMPLES per proxy operation (two requests
each), a fixed seed (repeatable runs; shrinking only on a failure), no example
database, 10 s per request, and of the proxy's eight depths x five methods (and their /service
twins) only depths 1, 2 and 8: the route is one view registered at each depth (Chalice has no
greedy path, aws/chalice#2012), so the middle depths add requests and no code. 52 operations,
about 1,900 requests, some 20 s on two cores.

Passing: no 5xx but 502/503/504 (an upstream or the database, never a crash); no body holds
"Traceback"; every error body is JSON in the API's shape {"error": {"code", "message",
"request_id"}} (publishing's 400 carries its per-event `results` beside it). A failure
shows the request and the server's own log of the unhandled error.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import requests
import schemathesis
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

import app as chalice_app
from chalicelib.gateway.openapi import document
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.runtime import Runtime
from integreat.local.postgres import free_port
from tests.conftest import IdentityPlatform, ReadLines
from tests.tokens import Signer

MAX_EXAMPLES = 40  # per operation; the proxy's operations (one view, 403 here) get PROXY_EXAMPLES
PROXY_EXAMPLES = 8
REQUEST_TIMEOUT = 10.0
ALLOWED_5XX = {502, 503, 504}  # an upstream failed or was slow; the database is unreachable
CALLER_APP = "church"
ADMIN_GROUPS = ["church", "church-admin", "integreat-admin"]
PROXY = r"^(/service)?/apps/\{app\}/integrations/"
SKIPPED_DEPTHS = PROXY + r"\{name\}(/\{p\d\}){3,7}$"


def _string(name: str, strategy: st.SearchStrategy[str]) -> dict[str, Any]:
    """A string schema drawn from `strategy` (a custom format, registered under `name`)."""
    schemathesis.openapi.format(f"integreat-{name}", strategy)
    return {"type": "string", "format": f"integreat-{name}"}


def _one_of(name: str, *values: str) -> dict[str, Any]:
    """One of `values` about half the time, any string otherwise. (A format, as hypothesis-jsonschema
    would merge `anyOf: [{enum}, {type: string}]` into the plain string and lose the bias.)"""
    return _string(name, st.sampled_from(values) | st.text())


#: Query values the handlers parse as integers: numbers, Unicode digits ("²" passes str.isdigit
#: but not int()), anything.
NUMBERISH = _string(
    "number", st.integers().map(str) | st.text(st.characters(categories=["Nd", "No"]), min_size=1) | st.text()
)
ANY: dict[str, Any] = {}  # any JSON value


def _objects(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    """A JSON body: an object with `properties`, a list of such, or a number. (Few branches:
    Hypothesis picks among them evenly, and a body of any JSON would mostly be scalars.)"""
    item = {"type": "object", "properties": properties, "required": required, **extra}
    return {"anyOf": [item, {"type": "array", "items": item, "maxItems": 12}, {"type": "number"}]}


PATH_PARAMETERS = {
    "app": _one_of("app", "church", "events", "students"),
    "name": _one_of("dataset", "services"),  # church's dataset; as an integration, none is declared
    "role": _one_of("role", "member", "admin", "volunteer"),
    "seq": NUMBERISH,
}
QUERY_PARAMETERS: dict[str, dict[str, dict[str, Any]]] = {
    "/admin/audit": {"app": PATH_PARAMETERS["app"], "kind": {"type": "string"}, "limit": NUMBERISH, "cursor": NUMBERISH},
    "/apps/{app}/datasets/{name}": {"limit": NUMBERISH, "cursor": {"type": "string"}},
    "/apps/{app}/files": {"folder": _one_of("folder", "uploads/", "public/", "private/"), "limit": NUMBERISH, "cursor": {"type": "string"}},
    "/apps/{app}/files/download": {"key": _one_of("key", "church/uploads/a.txt", "church/public/")},
    "/apps/{app}/inbox": {"after": NUMBERISH, "limit": NUMBERISH},
}  # fmt: skip
BODIES = {
    "/apps/{app}/files/uploads": _objects(
        {
            "folder": QUERY_PARAMETERS["/apps/{app}/files"]["folder"],
            "filename": _one_of("filename", "a.txt", "b.pdf", "../x"),
            "content_type": _one_of("content-type", "text/plain", "application/pdf", "image/png"),
            "size": {"type": "integer"},
        },
        ["folder", "filename", "content_type", "size"],
        additionalProperties=False,  # unknown keys are refused first; the other branches probe that
    ),
    # Never a publishable event: `type` is never one the app declares, so nothing reaches the
    # session's shared events queue (tests/integration/test_messaging.py counts its messages).
    "/apps/{app}/events": _objects(
        {
            "specversion": _one_of("specversion", "1.0"),
            "type": {"type": "string"},
            "id": {"type": "string"},
            "source": {"type": "string"},
            "time": {"type": "string"},
            "datacontenttype": _one_of("datacontenttype", "application/json"),
            "data": ANY,
        },
        ["specversion", "id", "type"],
    ),
}


def _fuzzable(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the query parameters and bodies the handlers read, path parameters biased."""
    doc = copy.deepcopy(doc)
    for path, operations in doc["paths"].items():
        route = path.removeprefix("/service")
        for method, operation in operations.items():
            for parameter in operation["parameters"]:
                parameter["schema"] = PATH_PARAMETERS.get(parameter["name"], {"type": "string"})
            operation["parameters"] += [
                {"name": name, "in": "query", "required": False, "schema": schema}
                for name, schema in QUERY_PARAMETERS.get(route, {}).items()
            ]
            body = BODIES.get(route, ANY if "/integrations/" in route and method != "get" else None)
            if body is not None:
                operation["requestBody"] = {"content": {"application/json": {"schema": body}}}
    return doc


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240611,
        # 502/503/504 are the API's answers for a failed upstream or database, not crashes
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503", "504"]}},
        "phases": {"enabled": False, "fuzzing": {"enabled": True}},  # no coverage or stateful phase
        "generation": {
            "mode": "positive",
            "max-examples": MAX_EXAMPLES,
            "database": "none",
            "unique-inputs": True,  # no budget spent on repeats
            "with-security-parameters": False,  # the test sends its own credentials
        },
        "operations": [{"include-path-regex": PROXY, "generation": {"max-examples": PROXY_EXAMPLES}}],
    }
)
schema = schemathesis.openapi.from_dict(_fuzzable(document()), config=CONFIG).exclude(
    path_regex=SKIPPED_DEPTHS
)


class QuietHandler(ChaliceRequestHandler):
    """Chalice local's request handler, without an access-log line per request on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """The Chalice app on a free port of 127.0.0.1 (the runtime is whatever the test installs)."""
    port = free_port()
    config = Config.create(chalice_stage="local")
    server = LocalDevServer(chalice_app.app, config, "127.0.0.1", port, handler_cls=QuietHandler)
    thread = threading.Thread(target=server.server.serve_forever, name="schemathesis-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)


class SigV4(requests.auth.AuthBase):
    """Signs the prepared request (its final path, query and body) as church's backend would. The
    query is first encoded as SigV4 canonicalizes it (`requests` sends a space as "+" and leaves
    "*" bare, which a signer then reads literally), as a correct client sends it."""

    def __init__(self, identity: IdentityPlatform, keys: ServiceKeys) -> None:
        self.identity, self.keys = identity, keys

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(request.url or "")
        query = urlencode(parse_qsl(url.query, keep_blank_values=True), quote_via=quote, safe="-_.~")
        request.url = url._replace(query=query).geturl()
        body = request.body  # bytes (JSON) or None here; never a stream
        raw = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
        method, path = request.method or "GET", request.path_url
        request.headers.update(self.identity.sigv4(self.keys, CALLER_APP, method, path, raw, url.netloc))
        return request


def _expect_no_server_error(response: schemathesis.Response, server_log: ReadLines) -> None:
    """The API's own error contract, beyond schemathesis' status check: no crash, no stack trace,
    error bodies in the API's shape; on a crash, the server's log of it."""
    text = response.content.decode(errors="replace")
    request = response.request
    sent = f"{request.method} {request.url} {request.body!r}"[:1000]
    context = f"{sent} -> {response.status_code}: {text[:500]}"
    if response.status_code >= 500 and response.status_code not in ALLOWED_5XX:
        crashes = [line.get("exception") for line in server_log() if line.get("level") == "ERROR"]
        pytest.fail(f"{context}\nserver log:\n{crashes[-1] if crashes else '(nothing logged)'}")
    assert "Traceback" not in text, context
    if response.status_code >= 400:
        body = json.loads(text)  # a non-JSON body fails here
        assert isinstance(body, dict), context
        assert set(body.get("error") or {}) == {"code", "message", "request_id"}, context


@pytest.mark.timeout(300)
@settings(deadline=None, suppress_health_check=list(HealthCheck))
@schema.parametrize()
def test_no_server_errors(
    case: schemathesis.Case[Any],
    api_url: str,
    identity: IdentityPlatform,
    signer: Signer,
    service_keys: ServiceKeys,
    signed_runtime: Runtime,
    log_lines: ReadLines,
) -> None:
    signed: dict[str, Any]
    if case.path.startswith("/service/"):
        signed = {"auth": SigV4(identity, service_keys)}
    else:
        signed = {"headers": identity.bearer(signer, CALLER_APP, ADMIN_GROUPS, "fuzzer")}
    for credentials in ({}, signed):
        response = case.call(base_url=api_url, timeout=REQUEST_TIMEOUT, **credentials)
        _expect_no_server_error(response, log_lines)
        case.validate_response(response, checks=[not_a_server_error])
