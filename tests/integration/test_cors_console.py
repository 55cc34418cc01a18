"""The admin console's origins (`[console] origins`, INTEGREAT_CONSOLE_ORIGINS): every route but
/service, and nothing more (an app's origins still reach only that app's routes and /me)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.runtime import Runtime
from tests.integration.test_cors import CHURCH, preflight

CONSOLE = "http://localhost:5180"
DEPLOYED = "https://console.example.org"


@pytest.fixture
def console_api(signed_runtime: Runtime, signed_api: Any) -> Any:
    """The API with the console declared at two origins, one for `make dev`, one deployed."""
    signed_runtime.settings = signed_runtime.settings._replace(console_origins=(CONSOLE, DEPLOYED))
    return signed_api


@pytest.mark.parametrize(
    "path",
    ["/admin/apps", "/admin/usage", "/admin/audit", "/apps/church/usage", "/apps/events/members", "/me"],
)
def test_the_console_may_call_the_admin_and_every_apps_routes(console_api: Any, path: str) -> None:
    for origin in (CONSOLE, DEPLOYED):
        answer = preflight(console_api, path, origin)

        assert answer.status_code == 204, (path, origin, answer.body)
        assert answer.headers["Access-Control-Allow-Origin"] == origin


def test_the_console_may_not_call_service_routes(console_api: Any) -> None:
    # No OPTIONS route there (test_cors.py shows it over HTTP); nor is a /service answer readable.
    answer = console_api.http.post("/service/apps/church/events", headers={"Origin": CONSOLE}, body="{}")
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_apps_origin_still_may_not_call_admin_or_another_apps_routes(console_api: Any) -> None:
    for path in ("/admin/apps", "/admin/usage", "/apps/events/usage"):
        answer = preflight(console_api, path, CHURCH)

        assert answer.status_code == 403, path
        assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_refusal_to_the_console_is_readable_by_it(console_api: Any) -> None:
    # A member signed in to the console is refused the admin listing: the page can read why.
    answer = console_api.http.get("/admin/apps", headers={"Origin": CONSOLE})
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == CONSOLE


def test_outside_the_local_stages_only_https_console_origins_count(
    signed_runtime: Runtime, signed_api: Any
) -> None:
    signed_runtime.settings = signed_runtime.settings._replace(
        stage="prod", console_origins=(CONSOLE, DEPLOYED)
    )
    assert preflight(signed_api, "/admin/apps", DEPLOYED).status_code == 204
    assert preflight(signed_api, "/admin/apps", CONSOLE).status_code == 403
