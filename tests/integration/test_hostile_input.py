"""Issue 14: client input that answered 500. One request per finding, through the real app, and
each answer a 4xx in the one error shape; then the last line of defence for what slips past.

1. JSON nested ~1,000 deep (json.loads raises RecursionError, not ValueError): in a token's
   header segment (anyone, no account needed) and in a request body.
2. NUL in a query value that reaches SQL (psycopg2 refuses NUL in a string literal).
3. A lone surrogate in a file name (UTF-8 cannot encode it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import psycopg2.extensions
import pytest
from chalice.app import Request, Response

from chalicelib.gateway.authz import authorize
from chalicelib.gateway.errors import input_fault, unexpected
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.storage.errors import StorageRequestError
from chalicelib.storage.uploads import parse_upload
from tests.conftest import IdentityPlatform
from tests.tokens import Signer

DEEP = '{"a": ' * 1000 + "1" + "}" * 1000
UPLOAD = {"folder": "uploads/", "filename": "a.txt", "content_type": "text/plain", "size": 10}
JSON = {"Content-Type": "application/json"}


def _shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body: dict[str, Any] = response.json_body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- 1. deep JSON ----------------------------------------------------------------------------------


def test_a_token_header_nested_1000_deep_is_401_for_anyone(signed_api: Any) -> None:
    token = f"{_b64url(DEEP.encode())}.{_b64url(b'{}')}.{_b64url(b'signature')}"
    response = signed_api.http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert _shape(response, 401, "invalid_token")["message"] == "malformed token"


@pytest.mark.parametrize("route", ["/apps/church/events", "/apps/church/files/uploads"])
def test_a_body_nested_1000_deep_is_400(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, route: str
) -> None:
    headers = identity.bearer(signer, "church", ["church"]) | JSON
    error = _shape(signed_api.http.post(route, headers=headers, body=DEEP), 400, "invalid_json")
    assert "nested deeper than 64" in error["message"]


def test_a_body_nested_1000_deep_is_400_for_a_service(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    path = "/service/apps/church/events"
    headers = identity.sigv4(service_keys, "church", "POST", path, DEEP.encode()) | JSON
    _shape(signed_api.http.post(path, headers=headers, body=DEEP), 400, "invalid_json")


# --- 2. NUL in a query value that reaches SQL -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "groups"),
    [
        ("/apps/church/files?folder=uploads/&cursor=%00", ["church"]),
        ("/apps/church/datasets/services?cursor=%00", ["church"]),
        ("/admin/audit?kind=%00", ["integreat-admin"]),
    ],
)
def test_nul_in_a_query_value_is_400(
    identity: IdentityPlatform,
    signer: Signer,
    signed_api: Any,
    church_view: None,
    path: str,
    groups: list[str],
) -> None:
    response = signed_api.http.get(path, headers=identity.bearer(signer, "church", groups))
    assert "NUL" in _shape(response, 400, "invalid_request")["message"]


# --- 3. a lone surrogate in a file name ---------------------------------------------------------------


def test_a_lone_surrogate_in_a_file_name_is_400(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    body = json.dumps(UPLOAD | {"filename": "a\ud800.txt"})  # ensure_ascii: sent as the escape \ud800
    headers = identity.bearer(signer, "church", ["church"]) | JSON
    response = signed_api.http.post("/apps/church/files/uploads", headers=headers, body=body)
    assert "surrogate" in _shape(response, 400, "invalid_json")["message"]


def test_parse_upload_itself_refuses_a_lone_surrogate() -> None:
    # Off the HTTP path too (the boundary refuses it first there): the key is built from the name.
    with pytest.raises(StorageRequestError, match="surrogate"):
        parse_upload(UPLOAD | {"filename": "a\ud800.txt"})


# --- the last line of defence -------------------------------------------------------------------------


def _driver_nul_error() -> ValueError:
    try:
        psycopg2.extensions.QuotedString("a\x00").getquoted()
    except ValueError as exc:
        return exc
    raise AssertionError("psycopg2 quoted a NUL")


def _request(path: str = "/health") -> Request:
    context = {"resourcePath": path, "httpMethod": "GET", "requestId": "rid-14", "path": path}
    event = {"requestContext": context, "headers": {}, "pathParameters": None, "body": None,
             "multiValueQueryStringParameters": None, "stageVariables": None}  # fmt: skip
    return Request(event)


def _raising(exc: BaseException) -> Callable[[Request], Response]:
    def get_response(request: Request) -> Response:
        raise exc

    return get_response


@pytest.mark.parametrize(
    "exc",
    [RecursionError("maximum recursion depth exceeded"), UnicodeEncodeError("utf-8", "\ud800", 0, 1, "x")],
)
def test_an_input_fault_nobody_translated_is_400(exc: BaseException) -> None:
    response = unexpected(_request(), exc)
    assert (response.status_code, response.body["error"]["code"]) == (400, "invalid_request")
    assert response.body["error"]["request_id"] == "rid-14"


def test_the_driver_s_nul_error_is_an_input_fault_and_a_bug_of_ours_is_not() -> None:
    assert input_fault(_driver_nul_error())
    assert not input_fault(ValueError("invalid literal for int() with base 10: 'x'"))
    assert not input_fault(KeyError("apps"))


def test_a_server_fault_is_500_counted_and_tells_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    response = unexpected(_request(), KeyError("secret-host.internal"))
    assert response.status_code == 500
    assert response.body["error"] == {
        "code": "internal_error", "message": "internal error; quote the request id", "request_id": "rid-14",
    }  # fmt: skip
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics] == ["ServerErrors"]


@pytest.mark.parametrize(("exc", "status"), [(RecursionError(), 400), (LookupError("bug"), 500)])
def test_an_exception_inside_the_middleware_is_answered_in_the_error_shape(
    exc: BaseException, status: int
) -> None:
    # Raised past the view (Chalice's own 500, {"Code", "Message"}, before this): the middleware
    # answers itself. /health is public, so no runtime is needed to get there.
    response = authorize(_request(), _raising(exc))
    assert response.status_code == status
    assert set(response.body["error"]) == {"code", "message", "request_id"}
