"""The admin console (console/) in headless Chromium against `integreat dev`, which serves it on the
console's declared origin: the platform admin sees every app and church's usage charts drawn from
the usage API; an admin of church sees church only (the console handles /admin/apps' 403); a plain
member is refused with a message. Each user signs in through church's account (its app client).

Users are made as an operator makes them: signed up through church's client, then put into the
platform admin group (`integreat-admin`) or church's admin role group (`church-admin`) with the
local Cognito's admin API (moto behind the platform's layer).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integreat.context import local_client
from tests.clients.harness import Platform, User

STEP_MS = 30_000
USAGE_SECONDS = 30  # the API flushes its usage counts every 5 s (chalicelib/usage/meter.py)
Shoot = Callable[[Any, str], None]
DEMO_APPS = ("church", "events", "students")
REFUSAL = "You need to be an app admin or the platform admin to use the console."
#: Chart.js's colour of the 2xx series (console/src/charts.js), as canvas pixels read it.
OK_RGB = (0x2E, 0x7D, 0x32)


def grouped(platform: Platform, label: str, *groups: str) -> User:
    """A church member (signed up through church's client) put into `groups` as an operator does."""
    user = platform.new_user("church", label)
    cognito = local_client("cognito-idp", platform.info, platform.cognito_endpoint)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=platform.pool, Username=user.email, GroupName=group)
    return user


def today_usage(platform: Platform, token: str) -> dict[str, int]:
    """church's counters today, as `GET /apps/church/usage` answers them (0 when none yet)."""
    status, body = platform.call("GET", "/apps/church/usage", token)
    assert status == 200, body
    today = body["to"]
    return next((d for d in body["days"] if d["day"] == today), {})


@pytest.fixture(scope="module")
def church_activity(platform: Platform) -> dict[str, int]:
    """Requests of a church member (2xx and a 4xx) and an event published, once the usage API
    shows them (the API flushes its counts every few seconds): the figures the charts must draw."""
    reader = platform.tokens(grouped(platform, "console-usage-reader", "church-admin"), "church")[
        "AccessToken"
    ]
    before = today_usage(platform, reader)
    token = platform.tokens(platform.new_user("church", "console-activity"), "church")["AccessToken"]
    answered: dict[int, int] = {}
    for path in ("/apps/church/inbox", "/apps/church/files?folder=uploads/", "/apps/church/files"):
        status, _ = platform.call("GET", path, token)
        answered[status] = answered.get(status, 0) + 1
    assert answered == {200: 2, 400: 1}, answered
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/apps/church",
             "type": "church.service.scheduled", "data": {"title": "Console test service"}}  # fmt: skip
    status, body = platform.call("POST", "/apps/church/events", token, json.dumps(event).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
    assert status == 202, body
    wanted = {"requests": 4, "requests_4xx": 1, "events_published": 1}
    deadline, now = time.monotonic() + USAGE_SECONDS, before
    while time.monotonic() < deadline:
        now = today_usage(platform, reader)
        if all(now.get(k, 0) - before.get(k, 0) >= n for k, n in wanted.items()):
            return now
        time.sleep(0.5)
    raise AssertionError(f"church's usage never showed {wanted} more than {before}: {now}")


@pytest.fixture
def page(browser: Any, console_origin: str) -> Iterator[Any]:
    """A new browser context (no tokens stored) on the console, ready to sign in."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.goto(console_origin)
    expect(opened.get_by_role("status")).to_have_text(re.compile(r"^ready: sign in"), timeout=STEP_MS)
    try:
        yield opened
    finally:
        context.close()


def sign_in(page: Any, user: User, app: str, shoot: Shoot, step: str) -> str:
    """Sign in with `app`'s account; the status once the console has loaded what it may show."""
    from playwright.sync_api import expect

    page.get_by_label("App account").select_option(app)
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    shoot(page, f"{step}-filled")
    page.get_by_role("button", name="Sign in").click()
    status = page.get_by_role("status")
    # Past "signing in ...": what the console settled on (or why it could not).
    expect(status).to_have_text(re.compile(r"^(ready: (?!sign in)|refused|failed|cannot)"), timeout=STEP_MS)
    shoot(page, f"{step}-signed-in")
    return str(status.text_content())


def open_app(page: Any, app: str, shoot: Shoot, step: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name=f"Open {app}").click()
    expect(page.get_by_role("status")).to_have_text(f"showing {app}", timeout=STEP_MS)
    shoot(page, step)


def ok_pixels(page: Any, canvas_id: str) -> int:
    """Pixels of the 2xx series' colour in the canvas's plot (below the top fifth, where the legend
    draws its swatch of the same colour): bars drawn from data, not the legend or the axes."""
    script = """([id, rgb]) => {
        const c = document.getElementById(id), top = Math.floor(c.height / 5);
        const d = c.getContext('2d').getImageData(0, top, c.width, c.height - top).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - rgb[0]) < 8 && Math.abs(d[i+1] - rgb[1]) < 8 && Math.abs(d[i+2] - rgb[2]) < 8) n++;
        return n; }"""
    return int(page.evaluate(script, [canvas_id, list(OK_RGB)]))


def test_the_served_outputs_name_every_apps_client_and_the_platform(page: Any, platform: Platform) -> None:
    outputs = json.loads(page.evaluate("fetch('console_outputs.json').then(r => r.text())"))
    assert outputs["api_url"] == platform.api
    assert outputs["auth"]["user_pool_id"] == platform.pool
    assert outputs["auth"]["user_pool_endpoint"] == platform.cognito_endpoint
    clients = {a["app"]: a["user_pool_client_id"] for a in outputs["apps"]}
    assert clients == {slug: platform.client_id(slug) for slug in platform.info["apps"]}
    options = page.get_by_label("App account").locator("option").all_text_contents()
    assert {slug for slug in DEMO_APPS if any(f"({slug})" in o for o in options)} == set(DEMO_APPS), options


def test_the_platform_admin_sees_every_app_and_churchs_usage(
    page: Any, platform: Platform, church_activity: dict[str, int], shoot: Shoot
) -> None:
    from playwright.sync_api import expect

    admin = grouped(platform, "console-root", "integreat-admin")
    status = sign_in(page, admin, "church", shoot, "admin")
    assert status.startswith("ready: the platform admin"), status
    apps = page.get_by_role("table", name="Apps")
    for slug in DEMO_APPS:
        expect(apps.get_by_role("button", name=f"Open {slug}")).to_be_visible()
    expect(page.get_by_role("table", name="Queues (shared by every app)")).to_contain_text("dlq")
    open_app(page, "church", shoot, "admin-church")
    expect(page.get_by_role("table", name="Members of church")).to_contain_text(admin.email)
    summary = str(page.locator("#usage-summary-church").text_content())
    requests = int(re.search(r"(\d+) requests", summary).group(1))  # type: ignore[union-attr]
    assert requests >= church_activity["requests"], summary
    assert re.search(r"[1-9]\d* 4xx", summary), summary
    assert re.search(r"[1-9]\d* events published", summary), summary
    chart = page.get_by_role("img", name="Requests per day of church", exact=True)
    expect(chart).to_be_visible()
    assert ok_pixels(page, "chart-requests-church") > 200, "no 2xx bars drawn in church's requests chart"
    expect(page.get_by_role("table", name="Current figures and limits of church")).to_contain_text("members")
    shoot(page, "admin-church-usage")


def test_an_admin_of_church_sees_church_only(page: Any, platform: Platform, shoot: Shoot) -> None:
    from playwright.sync_api import expect

    church_admin = grouped(platform, "console-church-admin", "church-admin")
    status = sign_in(page, church_admin, "church", shoot, "app-admin")
    assert status == "ready: an admin of church", status
    expect(page.locator("#apps-scope")).to_contain_text("GET /admin/apps answered 403")
    apps = page.get_by_role("table", name="Apps")
    expect(apps.get_by_role("button", name="Open church")).to_be_visible()
    for other in ("events", "students"):
        expect(apps.get_by_role("button", name=f"Open {other}")).to_have_count(0)
    expect(page.get_by_role("table", name="Members of church")).to_contain_text(church_admin.email)
    expect(page.get_by_role("img", name="Requests per day of church", exact=True)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)  # no section of church's view was refused
    shoot(page, "app-admin-church")


def test_a_plain_member_is_refused_with_a_message(page: Any, platform: Platform, shoot: Shoot) -> None:
    from playwright.sync_api import expect

    member = platform.new_user("church", "console-member")
    status = sign_in(page, member, "church", shoot, "member")
    assert status == "refused", status
    refusal = page.get_by_role("alert", name="Not allowed")
    expect(refusal).to_contain_text(REFUSAL)
    expect(refusal).to_contain_text("GET /admin/apps: refused by the API (403")
    expect(refusal).to_contain_text("GET /apps/church/members: refused by the API (403")
    expect(page.get_by_role("button", name="Open church")).to_have_count(0)
    shoot(page, "member-refused")
