"""pycognito (Python, SRP) against the local platform.

Pointed at the local layer the way its settings allow while keeping Cognito's issuer: botocore's
service endpoint variable `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` for the calls, and
pycognito's `COGNITO_JWKS` for the keys it verifies every token with. (Its
`boto3_client_kwargs={"endpoint_url": ...}` would also make it expect `<endpoint>/<pool>` as the
tokens' issuer, which is never Cognito's `https://cognito-idp.<region>.amazonaws.com/<pool>`.)
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.clients.harness import Platform, User, python_client


@pytest.fixture
def cognito(platform: Platform, church_user: User, monkeypatch: pytest.MonkeyPatch) -> Any:
    pycognito = python_client("pycognito", "pycognito")
    url = f"{platform.cognito_endpoint}/{platform.pool}/.well-known/jwks.json"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        jwks = json.loads(response.read())
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", platform.cognito_endpoint)
    monkeypatch.setenv("COGNITO_JWKS", json.dumps(jwks))
    return pycognito.Cognito(platform.pool, platform.client_id("church"), username=church_user.email)


def test_srp_authentication_gives_tokens_the_api_accepts(
    platform: Platform, church_user: User, cognito: Any
) -> None:
    cognito.authenticate(password=church_user.password)  # verifies both tokens with COGNITO_JWKS
    assert cognito.access_claims["client_id"] == platform.client_id("church")
    assert cognito.id_claims["aud"] == platform.client_id("church")
    assert cognito.id_claims["email"] == church_user.email
    assert cognito.refresh_token
    status, me = platform.call("GET", "/me", cognito.access_token)
    assert (status, me["app"], me["member"]) == (200, "church", True), me


def test_a_wrong_password_is_refused(church_user: User, cognito: Any) -> None:
    with pytest.raises(ClientError) as refused:
        cognito.authenticate(password=church_user.password + "-wrong")
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert cognito.access_token is None


def test_renew_access_token_gives_a_new_token_the_api_accepts(
    platform: Platform, church_user: User, cognito: Any
) -> None:
    cognito.authenticate(password=church_user.password)
    first = cognito.access_token
    cognito.renew_access_token()
    assert cognito.access_token != first
    assert cognito.access_claims["client_id"] == platform.client_id("church")
    status, me = platform.call("GET", "/me", cognito.access_token)
    assert (status, me["app"]) == (200, "church"), me
