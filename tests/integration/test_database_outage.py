"""With the database unreachable the API answers 503 with Retry-After, in the error shape, and
never the server's address; routes that do not need the database keep working."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib.apps import Database
from chalicelib.runtime import Runtime
from tests.conftest import IdentityPlatform, installed
from tests.tokens import Signer

UNREACHABLE = "postgresql://nobody:secret@127.0.0.1:1/none"


@pytest.fixture
def outage_api(identity: IdentityPlatform, signer: Signer) -> Iterator[Any]:
    database = Database(UNREACHABLE, connect_timeout=1)
    runtime = Runtime(identity.settings, database, jwks_fetch=lambda url: signer.jwks())
    with installed(runtime), Client(chalice_app.app) as client:
        yield client


def test_authenticated_routes_answer_503_without_details(
    identity: IdentityPlatform, signer: Signer, outage_api: Any
) -> None:
    response = outage_api.http.get("/me", headers=identity.bearer(signer, "church", ["church"]))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json_body["error"]["code"] == "database_unavailable"
    assert "127.0.0.1" not in response.body.decode()
    assert "secret" not in response.body.decode()


def test_public_routes_keep_working(outage_api: Any) -> None:
    assert outage_api.http.get("/health").status_code == 200
