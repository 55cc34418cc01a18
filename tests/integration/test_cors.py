"""CORS per app, deny by default, through the Chalice app as `make dev` and API Gateway run it:
preflights and answers on /apps/<slug>/... admit that app's origins only, /me any app's, /admin
and /service none, and a denial is readable by the page it refuses. The demo manifest declares
http://localhost:5173 (church), :5174 (events) and :5175 (students).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.runtime import Runtime
from integreat.local.api_server import ApiServer
from integreat.local.postgres import free_port
from tests.conftest import IdentityPlatform
from tests.tokens import Signer

CHURCH, EVENTS, STUDENTS = "http://localhost:5173", "http://localhost:5174", "http://localhost:5175"
UNDECLARED = "http://localhost:5999"


def preflight(api: Any, path: str, origin: str, method: str = "GET", headers: str = "authorization") -> Any:
    return api.http.request(
        "OPTIONS", path,
        headers={"Origin": origin, "Access-Control-Request-Method": method,
                 "Access-Control-Request-Headers": headers},
    )  # fmt: skip


def test_an_apps_preflight_admits_its_own_origin(signed_api: Any) -> None:
    answer = preflight(signed_api, "/apps/church/files", CHURCH)

    assert answer.status_code == 204, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == CHURCH
    assert "GET" in answer.headers["Access-Control-Allow-Methods"].split(", ")
    assert answer.headers["Access-Control-Allow-Headers"] == "authorization"
    assert answer.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in answer.headers  # bearer tokens, never cookies


@pytest.mark.parametrize(
    "origin", [EVENTS, STUDENTS, UNDECLARED, "null", "http://localhost:5173.evil.example"]
)
def test_an_apps_preflight_refuses_every_other_origin(signed_api: Any, origin: str) -> None:
    answer = preflight(signed_api, "/apps/church/files", origin)

    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert answer.json_body["error"]["code"] == "cors_denied"


@pytest.mark.parametrize("origin", [CHURCH, EVENTS, STUDENTS])
def test_app_independent_routes_admit_every_apps_origin(signed_api: Any, origin: str) -> None:
    answer = preflight(signed_api, "/me", origin)

    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == origin


def test_app_independent_routes_refuse_an_undeclared_origin(signed_api: Any) -> None:
    assert "Access-Control-Allow-Origin" not in preflight(signed_api, "/me", UNDECLARED).headers


@pytest.mark.parametrize("path", ["/admin/apps", "/admin/audit"])
def test_admin_routes_admit_no_origin(signed_api: Any, path: str) -> None:
    answer = preflight(signed_api, path, CHURCH)

    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.fixture
def served(signed_runtime: Runtime) -> Iterator[int]:
    """The app over real HTTP, as `make dev` serves it (integreat/local/api_server.py)."""
    import app as chalice_app

    server = ApiServer(chalice_app.app, free_port())
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def _options(port: int, path: str, method: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("OPTIONS", path, headers={"Origin": CHURCH, "Access-Control-Request-Method": method})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer


def test_over_http_a_preflight_is_answered_and_a_service_route_has_none(served: int) -> None:
    import app as chalice_app

    me = _options(served, "/me", "GET")
    service = _options(served, "/service/apps/church/events", "POST")

    assert me.status == 204
    assert me.getheader("Access-Control-Allow-Origin") == CHURCH
    # No OPTIONS route: Chalice local answers as the gateway would, API Gateway refuses; no origin reads it.
    assert "OPTIONS" not in chalice_app.app.routes["/service/apps/{app}/events"]
    assert service.getheader("Access-Control-Allow-Origin") is None


def test_a_method_the_route_lacks_is_refused(signed_api: Any) -> None:
    answer = preflight(signed_api, "/me", CHURCH, "DELETE")

    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_unknown_apps_preflight_is_refused(signed_api: Any) -> None:
    assert preflight(signed_api, "/apps/nosuchapp/files", CHURCH).status_code == 403


def test_a_preflight_with_odd_header_names_allows_none_of_them(signed_api: Any) -> None:
    answer = preflight(signed_api, "/me", CHURCH, headers="x-ok, bad\nheader")

    assert answer.status_code == 204
    assert "Access-Control-Allow-Headers" not in answer.headers


def test_an_answer_is_readable_by_its_apps_origin_only(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    token = identity.bearer(signer, "church", ["church"])

    own = signed_api.http.get("/apps/church/files?folder=uploads/", headers={**token, "Origin": CHURCH})
    other = signed_api.http.get("/apps/church/files?folder=uploads/", headers={**token, "Origin": EVENTS})

    assert own.status_code == 200, own.body
    assert own.headers["Access-Control-Allow-Origin"] == CHURCH
    assert own.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert other.status_code == 200  # the server answers; the browser keeps it from the page
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"


def test_a_denial_is_readable_by_the_page_it_refuses(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    anonymous = signed_api.http.get("/apps/church/files?folder=uploads/", headers={"Origin": CHURCH})
    wrong_app = signed_api.http.get(
        "/apps/church/files?folder=uploads/",
        headers={**identity.bearer(signer, "events", ["events"]), "Origin": CHURCH},
    )

    assert anonymous.status_code == 401
    assert anonymous.headers["Access-Control-Allow-Origin"] == CHURCH
    assert wrong_app.status_code == 403
    assert wrong_app.headers["Access-Control-Allow-Origin"] == CHURCH


def test_without_an_origin_nothing_changes(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    answer = signed_api.http.get("/me", headers=identity.bearer(signer, "church", ["church"]))

    assert answer.status_code == 200
    assert not {name for name in answer.headers if name.lower().startswith("access-control-")}
