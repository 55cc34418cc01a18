"""The files API as an attacker sees it: every refusal has a status and a reason, and no
request can make the server sign a key outside the caller's app folder or folder rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from tests.conftest import IdentityPlatform
from tests.tokens import Signer

SUB = "0b1f2c3d-aaaa-bbbb-cccc-000000000001"


@pytest.fixture
def api(signed_api: Client) -> Client:
    return signed_api


def token(
    identity: IdentityPlatform, signer: Signer, app: str, groups: list[str], sub: str = SUB
) -> dict[str, str]:
    return identity.bearer(signer, app, groups, "ann", sub=sub) | {"Content-Type": "application/json"}


def upload(api: Client, headers: dict[str, str], app: str, **body: Any) -> Any:
    request = {"folder": "uploads/", "filename": "a.txt", "content_type": "text/plain", "size": 10} | body
    return api.http.post(f"/apps/{app}/files/uploads", headers=headers, body=json.dumps(request))


def test_member_gets_a_signed_upload_with_a_server_picked_key(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    response = upload(
        api, token(identity, signer, "church", ["church"]), "church", filename="report 2026.txt"
    )
    assert response.status_code == 200, response.body
    key = response.json_body["key"]
    assert key.startswith("church/uploads/")
    assert key.endswith("-report-2026.txt")
    fields = response.json_body["upload"]["fields"]
    assert fields["key"] == key
    assert fields["Content-Type"] == "text/plain"
    assert fields["x-amz-meta-uploader"] == SUB


def test_owner_folder_is_the_callers_own(identity: IdentityPlatform, signer: Signer, api: Client) -> None:
    response = upload(api, token(identity, signer, "church", ["church"]), "church", folder="private/{user}/")
    assert response.status_code == 200
    assert response.json_body["key"].startswith(f"church/private/{SUB}/")


@pytest.mark.parametrize(
    "filename", ["../../events/x.txt", "a/b.txt", "..", "church%2F..%2Fx.txt", "a\\b.txt"]
)
def test_traversal_and_encoding_tricks_in_the_filename_are_400(
    identity: IdentityPlatform, signer: Signer, api: Client, filename: str
) -> None:
    response = upload(api, token(identity, signer, "church", ["church"]), "church", filename=filename)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_file_request"


def test_a_nul_in_the_filename_is_400_at_the_input_boundary(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    response = upload(api, token(identity, signer, "church", ["church"]), "church", filename="x\x00.txt")
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "invalid_json"  # refused before any view reads it


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"folder": "public/"}, 403, "admin"),  # members may not write public/ (admin only)
        ({"folder": "secrets/"}, 400, "no folder"),
        ({"folder": "private/someone-else/"}, 400, "no folder"),  # a concrete path is not a folder name
        ({"content_type": "application/x-msdownload"}, 403, "content type"),
        ({"size": 26 * 1024 * 1024}, 403, "exceeds"),
        ({"size": 0}, 400, "size"),
        ({"extra": 1}, 400, "unknown keys"),
    ],
)
def test_folder_rules_refuse_with_a_reason(
    identity: IdentityPlatform, signer: Signer, api: Client, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = upload(api, token(identity, signer, "church", ["church"]), "church", **body)
    assert response.status_code == status, response.body
    assert fragment in response.json_body["error"]["message"]


def test_another_apps_token_or_folder_is_forbidden(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    events_member = token(identity, signer, "events", ["events", "church"])
    assert upload(api, events_member, "church").status_code == 403
    church_member = token(identity, signer, "church", ["church"])
    assert (
        upload(api, church_member, "events", folder="posters/", content_type="image/png").status_code == 403
    )


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("events/posters/x.png", 400),  # another app's key on this app's route
        ("church/../events/posters/x.png", 400),
        ("_quarantine/church/uploads/x.txt", 400),
        ("church/private/someone-else/x.txt", 403),  # another user's private folder
        ("church/uploads/never-uploaded.txt", 404),
    ],
)
def test_downloads_are_checked(
    identity: IdentityPlatform, signer: Signer, api: Client, key: str, status: int
) -> None:
    response = api.http.get(
        f"/apps/church/files/download?key={key}", headers=token(identity, signer, "church", ["church"])
    )
    assert response.status_code == status, response.body
    assert "url" not in (response.json_body or {})


def test_listing_someone_elses_private_folder_is_forbidden(
    identity: IdentityPlatform, signer: Signer, api: Client
) -> None:
    headers = token(identity, signer, "church", ["church"])
    assert api.http.get("/apps/church/files?folder=private/someone-else/", headers=headers).status_code == 403
    assert api.http.get("/apps/church/files?folder=private/{user}/", headers=headers).status_code == 200
    assert api.http.get("/apps/church/files", headers=headers).status_code == 400
