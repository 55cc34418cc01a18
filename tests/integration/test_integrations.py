"""The integration proxy against a real local HTTP server (the stand-in upstream), with the
secret in Secrets Manager (moto) and specs synced into Postgres as provisioning writes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.aws import client as aws_client
from chalicelib.db.pool import connector
from chalicelib.gateway.integrations import CONTENT_TYPES
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.integrations.model import IntegrationSpec
from chalicelib.provisioning.integrations import sync_integrations
from integreat.local.upstream import StandInUpstream
from tests.conftest import IdentityPlatform
from tests.tokens import Signer

SECRET = "s3cret-value-never-shown"
SECRET_ID = "integreat/test/standin"


def _spec(name: str, url: str, **changes: Any) -> IntegrationSpec:
    spec = IntegrationSpec(
        name=name,
        base_url="https://api.standin.example/v1",
        local_base_url=f"{url}/v1",
        methods=("GET", "POST"),
        paths=("echo", "status/", "slow/", "big/", "redirect"),
        secret=SECRET_ID,
        header="X-Api-Key",
        value="Key {secret}",
        apps=("church",),
        per_minute=1000,
        timeout_seconds=1.0,
        max_request_bytes=100,
        max_response_bytes=1024,
    )
    return spec._replace(**changes)


@pytest.fixture(scope="module")
def upstream(identity: IdentityPlatform) -> Iterator[StandInUpstream]:
    secrets = aws_client("secretsmanager", identity.settings)
    try:
        secrets.create_secret(Name=SECRET_ID, SecretString=SECRET)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=SECRET_ID, SecretString=SECRET)
    with StandInUpstream() as up:
        specs = [
            _spec("standin", up.url),
            _spec("limited", up.url, apps=("church", "events"), per_minute=3, methods=("GET",)),
            _spec("unconfigured", up.url, secret="integreat/test/missing"),
        ]
        sync_integrations(connector(identity.platform.operator_url), specs)
        yield up
    sync_integrations(connector(identity.platform.operator_url), [])


def _member(identity: IdentityPlatform, signer: Signer, app: str = "church") -> dict[str, str]:
    return identity.bearer(signer, app, [app])


def _audit_rows(identity: IdentityPlatform) -> list[tuple[Any, ...]]:
    conn = identity.platform.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT app, subject, reason, detail::text FROM integreat.audit WHERE kind = 'integration.call'"
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def test_a_member_calls_through_with_the_secret_injected_and_their_token_stripped(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    headers = _member(identity, signer) | {"Cookie": "session=1", "X-Forwarded-For": "6.6.6.6"}
    response = signed_api.http.get("/apps/church/integrations/standin/echo/a?q=1", headers=headers)
    assert response.status_code == 200, response.body
    received = upstream.requests[-1]
    sent = {name.lower(): value for name, value in received.headers}
    assert received.path == "/v1/echo/a?q=1"
    assert sent["x-api-key"] == f"Key {SECRET}"
    assert "authorization" not in sent
    assert "cookie" not in sent
    assert "x-forwarded-for" not in sent
    assert "set-cookie" not in {k.lower() for k in response.headers}
    assert response.headers.get("X-RateLimit-Remaining") == "99"
    # (The stand-in echoes what it got, secret included: an upstream path that reflects request
    # headers would hand it to the caller, which is why `paths` allowlists prefixes.)
    assert all(SECRET not in value for value in response.headers.values())


def test_a_body_is_relayed_and_an_oversized_one_is_413(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    headers = _member(identity, signer) | {"Content-Type": "application/json"}
    body = json.dumps({"hello": "world"})
    response = signed_api.http.post("/apps/church/integrations/standin/echo", headers=headers, body=body)
    assert response.status_code == 200
    assert response.json_body["body"] == body
    before = len(upstream.requests)
    big = signed_api.http.post("/apps/church/integrations/standin/echo", headers=headers, body="x" * 101)
    assert big.status_code == 413
    assert len(upstream.requests) == before


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_body_of_every_accepted_type_reaches_the_upstream_byte_for_byte(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream, content_type: str
) -> None:
    body = "Grüße, 東京"  # not ASCII: the text path must not re-encode it
    headers = _member(identity, signer) | {"Content-Type": content_type}
    response = signed_api.http.post("/apps/church/integrations/standin/echo", headers=headers, body=body)
    assert response.status_code == 200, response.body
    assert upstream.requests[-1].body == body.encode()


def test_a_binary_body_is_refused_415_before_any_upstream_call(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    # Binary request media types cannot share a route with text ones (`chalice deploy` refuses
    # the route): see CONTENT_TYPES.
    before = len(upstream.requests)
    headers = _member(identity, signer) | {"Content-Type": "application/octet-stream"}
    response = signed_api.http.post(
        "/apps/church/integrations/standin/echo", headers=headers, body=b"\x00\xff"
    )
    assert response.status_code == 415
    assert len(upstream.requests) == before


@pytest.mark.parametrize(
    ("app", "token_app", "name"),
    [
        ("events", "events", "standin"),  # an app the integration does not list
        ("church", "events", "standin"),  # another app's member on church's route
        ("events", "events", "no_such"),  # unknown: the same 403
    ],
)
def test_apps_not_listed_are_refused_before_any_upstream_call(
    identity: IdentityPlatform,
    signer: Signer,
    signed_api: Any,
    upstream: StandInUpstream,
    app: str,
    token_app: str,
    name: str,
) -> None:
    before = len(upstream.requests)
    response = signed_api.http.get(
        f"/apps/{app}/integrations/{name}/echo", headers=_member(identity, signer, token_app)
    )
    assert response.status_code == 403
    assert set(response.json_body) == {"error"}
    assert len(upstream.requests) == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("DELETE", "echo", 405),
        ("GET", "admin", 403),
        ("GET", "echox", 403),
        ("GET", "echo/%2e%2e/admin", 400),
        ("GET", "echo/..%2Fadmin", 400),
    ],
)
def test_methods_and_paths_outside_the_declaration_never_reach_the_upstream(
    identity: IdentityPlatform,
    signer: Signer,
    signed_api: Any,
    upstream: StandInUpstream,
    method: str,
    path: str,
    status: int,
) -> None:
    before = len(upstream.requests)
    response = getattr(signed_api.http, method.lower())(
        f"/apps/church/integrations/standin/{path}", headers=_member(identity, signer)
    )
    assert response.status_code == status, response.body
    assert len(upstream.requests) == before


def test_upstream_failures_are_relayed_or_named(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    headers = _member(identity, signer)
    assert (
        signed_api.http.get("/apps/church/integrations/standin/status/503", headers=headers).status_code
        == 503
    )
    slow = signed_api.http.get("/apps/church/integrations/standin/slow/3", headers=headers)
    assert (slow.status_code, slow.json_body["error"]["code"]) == (504, "upstream_timeout")
    big = signed_api.http.get("/apps/church/integrations/standin/big/2000", headers=headers)
    assert (big.status_code, big.json_body["error"]["code"]) == (502, "upstream_too_large")
    missing = signed_api.http.get("/apps/church/integrations/unconfigured/echo", headers=headers)
    assert (missing.status_code, missing.json_body["error"]["code"]) == (503, "integration_unavailable")


def test_an_off_host_redirect_is_not_followed(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    with StandInUpstream() as elsewhere:
        target = f"{elsewhere.url}/v1/echo"
        response = signed_api.http.get(
            f"/apps/church/integrations/standin/redirect?to={target}", headers=_member(identity, signer)
        )
        assert (response.status_code, response.json_body["error"]["code"]) == (
            502,
            "upstream_redirect_refused",
        )
        assert elsewhere.requests == []


def test_over_the_rate_limit_is_429_with_retry_after_per_app(
    identity: IdentityPlatform, signer: Signer, signed_api: Any, upstream: StandInUpstream
) -> None:
    church = _member(identity, signer)
    statuses = [
        signed_api.http.get("/apps/church/integrations/limited/echo", headers=church).status_code
        for _ in range(4)
    ]
    refused = signed_api.http.get("/apps/church/integrations/limited/echo", headers=church)
    assert statuses[:3] == [200, 200, 200] or statuses.count(200) >= 2  # a minute boundary may reset once
    assert refused.status_code == 429 or statuses[3] == 429
    limited = refused if refused.status_code == 429 else None
    if limited is not None:
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json_body["error"]["code"] == "rate_limited"
    events = signed_api.http.get(
        "/apps/events/integrations/limited/echo", headers=_member(identity, signer, "events")
    )
    assert events.status_code == 200  # another app's budget is its own


def test_a_service_principal_calls_and_every_call_is_audited_without_the_secret(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any, upstream: StandInUpstream
) -> None:
    path = "/service/apps/church/integrations/standin/echo/svc"
    response = signed_api.http.get(path, headers=identity.sigv4(service_keys, "church", "GET", path))
    assert response.status_code == 200, response.body
    sent = {name.lower() for name, _ in upstream.requests[-1].headers}
    assert not {h for h in sent if h.startswith("x-amz-")}  # the signature stays with us
    rows = _audit_rows(identity)
    mine = [r for r in rows if r[1] == "GET standin/echo/svc"]
    assert mine
    assert mine[-1][0] == "church"
    detail = json.loads(mine[-1][3])
    assert (detail["principal"], detail["status"], detail["caller_app"]) == ("service", 200, "church")
    assert all(SECRET not in row[3] for row in rows)


def test_the_operator_stores_a_secret_from_stdin_only(identity: IdentityPlatform) -> None:
    import os
    import subprocess
    import sys

    from tests.cli import ROOT

    env = {**os.environ, "INTEGREAT_AWS_ENDPOINT_URL": identity.endpoint, "AWS_REGION": "eu-west-1"}
    done = subprocess.run(
        [sys.executable, "-m", "integreat", "integrations", "secret", "weather"],
        input="rotated-key-1", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rotated-key-1" not in done.stdout + done.stderr  # never echoed
    stored = aws_client("secretsmanager", identity.settings).get_secret_value(
        SecretId="integreat/integrations/weather"
    )
    assert stored["SecretString"] == "rotated-key-1"
    unknown = subprocess.run(
        [sys.executable, "-m", "integreat", "integrations", "secret", "nope"],
        input="x", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "no integration 'nope'" in unknown.stderr
