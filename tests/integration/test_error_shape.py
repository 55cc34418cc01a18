"""One error shape everywhere, also for what Chalice itself refuses before or inside a view:
a body that is not JSON (400, not a 500) and an undeclared media type (415, not Chalice's
`{"Code", "Message"}`)."""

from __future__ import annotations

from typing import Any

from tests.conftest import IdentityPlatform
from tests.tokens import Signer


def _shape(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.body
    assert set(response.json_body) == {"error"}
    assert set(response.json_body["error"]) == {"code", "message", "request_id"}
    assert response.json_body["error"]["code"] == code
    assert "Traceback" not in response.body.decode()


def test_a_body_that_is_not_json_is_400(identity: IdentityPlatform, signer: Signer, signed_api: Any) -> None:
    headers = identity.bearer(signer, "events", ["events"]) | {"Content-Type": "application/json"}
    _shape(
        signed_api.http.post("/apps/events/events", headers=headers, body="{not json"), 400, "invalid_json"
    )


def test_an_undeclared_media_type_is_415_in_our_shape(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    headers = identity.bearer(signer, "events", ["events"]) | {"Content-Type": "text/html"}
    response = signed_api.http.post("/apps/events/events", headers=headers, body="<p>")
    _shape(response, 415, "unsupported_media_type")


def test_found_by_schemathesis_empty_batches_and_unicode_digits_are_400s(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    headers = identity.bearer(signer, "church", ["church"]) | {"Content-Type": "application/json"}
    _shape(signed_api.http.post("/apps/church/events", headers=headers, body="[]"), 400, "invalid_events")
    # "²" and "①" pass str.isdigit(), and int() refuses them.
    _shape(signed_api.http.get("/apps/church/inbox?after=%C2%B2", headers=headers), 400, "invalid_after")
    _shape(signed_api.http.post("/apps/church/inbox/%E2%91%A0/ack", headers=headers), 400, "invalid_id")


def test_a_batch_with_every_event_rejected_carries_the_error_and_the_reasons(
    identity: IdentityPlatform, signer: Signer, signed_api: Any
) -> None:
    headers = identity.bearer(signer, "church", ["church"]) | {"Content-Type": "application/json"}
    response = signed_api.http.post("/apps/church/events", headers=headers, body='[{"type": "events.x"}]')
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "events_rejected"
    assert response.json_body["results"][0]["status"] == "rejected"
