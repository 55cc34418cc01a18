"""examples/church-web in headless Chromium against `integreat dev`: the journey an app's member
takes (sign up, confirm, sign in, /me, upload and list, inbox), a forced token refresh that keeps
the session, another app's token refused, and an origin no app declares blocked by CORS.

The tests run in file order on one page: each step starts where the previous one left off.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.clients.harness import Platform

PASSWORD = "Browser-Passw0rd!2026"
EMAIL = f"browser-{uuid.uuid4().hex[:8]}@example.org"
SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "amplify" / "schema_v1.4.json"
STEP_MS = 30_000
Shoot = Callable[[Any, str], None]


@pytest.fixture(scope="module")
def page(browser: Any, origins: dict[str, str]) -> Iterator[Any]:
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(origins["declared"])
    opened.wait_for_function(
        "document.getElementById('status').textContent.startsWith('ready')", timeout=STEP_MS
    )
    try:
        yield opened
    finally:
        context.close()


def click(page: Any, button: str, shoot: Shoot) -> str:
    """Press a button and wait for its outcome in #status ('<button> ...' while it runs)."""
    page.click(f"#{button}")
    page.wait_for_function(
        "id => !document.getElementById('status').textContent.startsWith(id + ' ...')",
        arg=button,
        timeout=STEP_MS,
    )
    shoot(page, button)
    return str(page.text_content("#status"))


def fetch_status(page: Any, url: str, token: str) -> str:
    """What the page's own fetch of `url` with `token` gets: the HTTP status, or the browser's error."""
    script = """([url, token]) => fetch(url, {headers: {Authorization: `Bearer ${token}`}})
        .then(r => String(r.status), e => `${e.name}: ${e.message}`)"""
    return str(page.evaluate(script, [url, token]))


def test_the_served_outputs_are_schema_1_4_with_the_platforms_own_client(
    page: Any, platform: Platform
) -> None:
    outputs = json.loads(page.evaluate("fetch('amplify_outputs.json').then(r => r.text())"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(outputs)
    assert outputs["auth"]["user_pool_client_id"] == platform.client_id("church")
    assert outputs["custom"]["integreat"]["api_url"] == platform.api


def test_sign_up_confirm_and_sign_in(page: Any, shoot: Shoot) -> None:
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    shoot(page, "filled")
    assert click(page, "signup", shoot) == "signed up: next step CONFIRM_SIGN_UP"
    assert click(page, "confirm", shoot) == "confirmed: true"
    assert click(page, "signin", shoot) == "signed in: true"


def test_me_shows_the_member_of_church(page: Any, shoot: Shoot) -> None:
    assert click(page, "me", shoot) == "me shown"
    me = json.loads(str(page.text_content("#me-result")))
    assert me["app"] == "church", me
    assert "member" in me["roles"], me


def test_upload_into_a_folder_then_list_it(page: Any, shoot: Shoot) -> None:
    page.select_option("#folder", "uploads/")
    name = f"notes-{uuid.uuid4().hex[:6]}.txt"
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/plain", "buffer": b"hello church"}])
    assert click(page, "upload", shoot).startswith("uploaded church/uploads/")
    listed = ""
    for _ in range(40):  # the storage worker indexes the upload when S3 reports it
        click(page, "list", shoot)
        listed = str(page.text_content("#files-result"))
        if name in listed:
            break
        page.wait_for_timeout(250)
    assert name in listed, listed


def test_the_inbox_reads(page: Any, shoot: Shoot) -> None:
    assert click(page, "inbox", shoot) == "inbox read"
    assert "events" in json.loads(str(page.text_content("#inbox-result")))


def test_a_forced_refresh_keeps_the_session(page: Any, shoot: Shoot) -> None:
    assert click(page, "refresh", shoot) == "tokens refreshed: new access token"
    assert click(page, "me", shoot) == "me shown"
    page.reload()  # the tokens are in the browser's storage: a reload is still signed in
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('ready')", timeout=STEP_MS
    )
    assert click(page, "me", shoot) == "me shown"


def test_another_apps_token_is_refused(page: Any, platform: Platform, shoot: Shoot) -> None:
    events = platform.new_user("events", "browser-events")
    token = platform.tokens(events, "events")["AccessToken"]
    answered = fetch_status(page, f"{platform.api}/apps/church/files?folder=uploads/", token)
    shoot(page, "other-app-token")
    assert answered == "403", answered


def test_an_undeclared_origin_is_blocked_by_cors(
    browser: Any, origins: dict[str, str], platform: Platform, page: Any, shoot: Shoot
) -> None:
    church = platform.new_user("church", "browser-cors")
    token = platform.tokens(church, "church")["AccessToken"]
    assert fetch_status(page, f"{platform.api}/me", token) == "200"  # from church's own origin
    context = browser.new_context()
    try:
        elsewhere = context.new_page()
        elsewhere.goto(origins["other"])
        answered = fetch_status(elsewhere, f"{platform.api}/me", token)
        shoot(elsewhere, "undeclared-origin")
    finally:
        context.close()
    assert answered.startswith("TypeError: Failed to fetch"), answered
