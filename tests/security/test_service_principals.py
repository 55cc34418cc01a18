"""Service principals: app backends sign `/service/...` calls with their app's IAM role (SigV4).

The client is botocore's own signer; the verifier is ours (the local stand-in for API Gateway's
IAM authorization). Every forgery below must be refused with 403 and the error shape.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.app import Request

from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.services import ApiGatewayIam
from chalicelib.identity.sigv4 import SignatureError, SignedRequest, verify
from tests.conftest import IdentityPlatform, load_event
from tests.tokens import Signer


def _denied(response: Any, code: str = "invalid_signature") -> None:
    assert response.status_code == 403, response.body
    assert response.json_body["error"]["code"] == code
    assert set(response.json_body) == {"error"}


def test_a_signed_backend_is_its_app(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    for app in ("church", "events"):
        headers = identity.sigv4(service_keys, app, "GET", "/service/me")
        response = signed_api.http.get("/service/me", headers=headers)
        assert response.status_code == 200, response.body
        assert response.json_body["principal"] == "service"
        assert response.json_body["app"] == app
        assert response.json_body["user_id"] == identity.roles[app]
        assert response.json_body["roles"] == []
        assert response.json_body["platform_admin"] is False


def test_unsigned_and_bearer_calls_are_refused(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    _denied(signed_api.http.get("/service/me"))
    admin = identity.bearer(signer, "church", ["church", "church-admin", "integreat-admin"])
    _denied(signed_api.http.get("/service/me", headers=admin))
    _denied(signed_api.http.get("/service/apps/church/inbox", headers=admin))


def test_a_signature_for_another_request_is_refused(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    inbox = identity.sigv4(service_keys, "church", "GET", "/service/apps/church/inbox")
    _denied(signed_api.http.get("/service/apps/events/inbox", headers=inbox))  # other path
    _denied(signed_api.http.get("/service/apps/church/inbox?limit=1", headers=inbox))  # added query
    # other method (no policy declared for it: refused before the signature is even read)
    _denied(signed_api.http.post("/service/apps/church/inbox", headers=inbox), "forbidden")
    ack = "/service/apps/church/inbox/1/ack"
    _denied(signed_api.http.post(ack, headers=identity.sigv4(service_keys, "church", "GET", ack)))
    body = json.dumps([{"type": "org.integreat.events.created"}]).encode()
    publish = identity.sigv4(service_keys, "events", "POST", "/service/apps/events/events", body)
    _denied(signed_api.http.post("/service/apps/events/events", headers=publish, body=body + b" "))


def test_forged_or_stolen_credentials_are_refused(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    forger = ServiceKeys(secrets.token_bytes(32))  # someone else's key, same format
    _denied(
        signed_api.http.get("/service/me", headers=identity.sigv4(forger, "church", "GET", "/service/me"))
    )
    # A token lifted from one request, re-used with a secret key guessed for another key id.
    good = identity.sigv4(service_keys, "church", "GET", "/service/me")
    other = identity.sigv4(service_keys, "events", "GET", "/service/me")
    _denied(
        signed_api.http.get(
            "/service/me", headers=good | {"X-Amz-Security-Token": other["X-Amz-Security-Token"]}
        )
    )
    no_token = {k: v for k, v in good.items() if k != "X-Amz-Security-Token"}
    _denied(signed_api.http.get("/service/me", headers=no_token))
    flipped = good["Authorization"][:-1] + ("0" if good["Authorization"][-1] != "0" else "1")
    _denied(signed_api.http.get("/service/me", headers=good | {"Authorization": flipped}))


def test_expired_credentials_are_refused(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    key = secrets.token_bytes(32)
    past = ServiceKeys(key, clock=lambda: 0.0)  # issued at the epoch: expired an hour later
    creds = past.issue(identity.roles["church"])
    with pytest.raises(SignatureError, match="expired"):
        ServiceKeys(key).open(creds.access_key_id, creds.session_token)


def test_a_role_of_no_app_is_refused(
    service_keys: ServiceKeys, signed_api: Any, identity: IdentityPlatform
) -> None:
    stranger = dict(identity.roles, stranger="AROASTRANGERROLE00001")
    lost = IdentityPlatform(**{**identity.__dict__, "roles": stranger})
    headers = lost.sigv4(service_keys, "stranger", "GET", "/service/me")
    _denied(signed_api.http.get("/service/me", headers=headers), "unknown_principal")


def test_a_service_reaches_only_its_own_app(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any
) -> None:
    own = identity.sigv4(service_keys, "church", "GET", "/service/apps/church/inbox")
    assert signed_api.http.get("/service/apps/church/inbox", headers=own).status_code == 200
    other = identity.sigv4(service_keys, "church", "GET", "/service/apps/events/inbox")
    refused = signed_api.http.get("/service/apps/events/inbox", headers=other)
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "forbidden"


def test_datasets_follow_the_owner_s_readers(
    identity: IdentityPlatform, service_keys: ServiceKeys, signed_api: Any, church_view: None
) -> None:
    path = "/service/apps/church/datasets/services?limit=2"
    signed = identity.sigv4(service_keys, "events", "GET", path)
    response = signed_api.http.get(path, headers=signed)
    assert response.status_code == 200, response.body
    assert [row["id"] for row in response.json_body["rows"]] == [1, 2]
    for path in ("/service/apps/church/datasets/services", "/service/apps/church/datasets/nope"):
        refused = signed_api.http.get(path, headers=identity.sigv4(service_keys, "students", "GET", path))
        assert refused.status_code == 403, path
    unknown = "/service/apps/church/datasets/nope"  # only the owner learns that it does not exist
    owner = identity.sigv4(service_keys, "church", "GET", unknown)
    assert signed_api.http.get(unknown, headers=owner).status_code == 404


# --- the verifier itself ------------------------------------------------------------------------


def _signed(identity: IdentityPlatform, keys: ServiceKeys) -> tuple[SignedRequest, dict[str, str]]:
    headers = identity.sigv4(keys, "church", "GET", "/service/me")
    lowered = {k.lower(): v for k, v in headers.items()}
    return SignedRequest("GET", "/service/me", {}, lowered, b""), lowered


def _secret_of(keys: ServiceKeys) -> Any:
    return lambda key, token: keys.open(key, token)[1]


def test_a_replayed_request_is_refused_after_five_minutes(
    identity: IdentityPlatform, service_keys: ServiceKeys
) -> None:
    request, _ = _signed(identity, service_keys)
    region = identity.settings.region
    assert verify(request, region=region, secret_for=_secret_of(service_keys)).startswith("ASIA")
    later = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(SignatureError, match="replay"):
        verify(request, region=region, secret_for=_secret_of(service_keys), now=later)


def test_scope_and_signed_headers_are_checked(identity: IdentityPlatform, service_keys: ServiceKeys) -> None:
    request, headers = _signed(identity, service_keys)
    with pytest.raises(SignatureError, match="scope"):
        verify(request, region="us-east-1", secret_for=_secret_of(service_keys))
    unsigned_date = headers | {"authorization": headers["authorization"].replace("host;x-amz-date;", "host;")}
    with pytest.raises(SignatureError, match="must be signed"):
        verify(
            request._replace(headers=unsigned_date),
            region=identity.settings.region,
            secret_for=_secret_of(service_keys),
        )


def test_in_aws_the_role_comes_from_api_gateway() -> None:
    event = load_event("apigateway_rest_iam_request")
    assert ApiGatewayIam().role_id(Request(event)) == "AROAEXAMPLECHURCH0001"
    user_session = load_event("apigateway_rest_iam_request")  # a user's identity-pool session
    user_session["requestContext"]["identity"] |= {
        "cognitoIdentityId": "eu-west-1:3f1b1b2e-0000-4000-8000-000000000001",
        "cognitoAuthenticationType": "authenticated",
        "caller": "AROAEXAMPLECHURCH0001:CognitoIdentityCredentials",
    }
    with pytest.raises(SignatureError, match="identity-pool"):
        ApiGatewayIam().role_id(Request(user_session))
    event["requestContext"]["identity"]["caller"] = None  # a route without IAM authorization
    with pytest.raises(SignatureError):
        ApiGatewayIam().role_id(Request(event))


def test_without_service_keys_a_local_runtime_refuses_every_service(
    identity: IdentityPlatform, service_keys: ServiceKeys, installed_runtime: Any
) -> None:
    from chalice.test import Client

    import app as chalice_app

    with Client(chalice_app.app) as client:
        headers = identity.sigv4(service_keys, "church", "GET", "/service/me")
        _denied(client.http.get("/service/me", headers=headers))


def test_an_app_role_may_invoke_service_routes_only() -> None:
    from chalicelib.provisioning.identity import service_routes_policy
    from tests.iam_eval import allowed

    policy = service_routes_policy("123456789012")
    api = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/api"
    assert allowed(policy, "execute-api:Invoke", f"{api}/GET/service/me")
    assert allowed(policy, "execute-api:Invoke", f"{api}/POST/service/apps/church/events")
    assert not allowed(policy, "execute-api:Invoke", f"{api}/GET/apps/church/inbox")  # user routes
    assert not allowed(policy, "execute-api:Invoke", f"{api}/GET/admin/apps")
    assert not allowed(
        policy, "execute-api:Invoke", "arn:aws:execute-api:eu-west-1:999999999999:x/api/GET/service/me"
    )
    assert not allowed(policy, "execute-api:ManageConnections", f"{api}/GET/service/me")
