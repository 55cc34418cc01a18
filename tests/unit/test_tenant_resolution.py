"""The route layer resolves the path's `{app}` once and hands the record to the view; no view
looks its app up itself. Unit tier: the registry is served from memory."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Response

from chalicelib.apps import Database
from chalicelib.gateway import policy
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.registry import ACTIVE, REMOVED, AppRecord, Registry

GATEWAY = Path(__file__).resolve().parents[2] / "chalicelib" / "gateway"
CHURCH = AppRecord("church", ACTIVE, "Church")
APPS = {"church": CHURCH, "gone": AppRecord("gone", REMOVED, "Gone")}


class NoRequest:
    current_request = None


@pytest.fixture(autouse=True)
def registry_in_memory() -> Iterator[None]:
    database = Database("postgresql://nobody@127.0.0.1:1/none", registry=Registry(lambda: APPS))
    use_runtime(Runtime(Settings(stage="test"), database))
    yield
    use_runtime(None)


def view(app: str, tenant: AppRecord | None = None) -> dict[str, Any]:
    return {"app": app, "tenant": tenant}


def served(mode: str | None, slug: str) -> Any:
    return policy._translated(NoRequest(), view, policy._resolver(mode))(app=slug)  # type: ignore[arg-type]


def error(response: Response) -> tuple[int, str]:
    body = response.body if isinstance(response.body, dict) else json.loads(response.body)
    return response.status_code, body["error"]["code"]


def test_the_view_receives_the_paths_record() -> None:
    assert served(policy.REQUIRED, "church") == {"app": "church", "tenant": CHURCH}


@pytest.mark.parametrize(
    ("slug", "expected"),
    [("nowhere", (404, "unknown_app")), ("gone", (404, "unknown_app")), ("Bad-Slug", (400, "invalid_app"))],
)
def test_an_app_that_cannot_be_served_never_reaches_the_view(slug: str, expected: tuple[int, str]) -> None:
    assert error(served(policy.REQUIRED, slug)) == expected


def test_optional_resolution_hands_none_for_an_unknown_app() -> None:
    assert served(policy.OPTIONAL, "nowhere") == {"app": "nowhere", "tenant": None}
    assert error(served(policy.OPTIONAL, "Bad-Slug")) == (400, "invalid_app")


def test_no_resolution_hands_no_record() -> None:
    assert served(None, "nowhere") == {"app": "nowhere", "tenant": None}


def test_a_path_without_an_app_cannot_ask_for_one() -> None:
    with pytest.raises(ValueError, match="has none"):
        policy.route(
            NoRequest(), "/me/x", methods=["GET"], allow=policy.AUTHENTICATED, tenant=policy.REQUIRED
        )  # type: ignore[arg-type]


def calls(source: str, name: str) -> list[int]:
    """Lines of `source` that call an attribute or function called `name`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == name
    ]


def test_the_checker_finds_a_lookup() -> None:
    assert calls("def v(app):\n    runtime().database.registry.get_active(app)\n", "get_active") == [2]


def test_no_view_looks_its_app_up() -> None:
    found = {
        path.name: calls(path.read_text(), "get_active")
        for path in sorted(GATEWAY.glob("*.py"))
        # policy.py: the one resolution for every view; cors.py: the middleware's, before any view
        if path.name not in ("policy.py", "cors.py")
    }

    assert {name: lines for name, lines in found.items() if lines} == {}
