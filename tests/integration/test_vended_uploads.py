"""Uploads made directly with credentials the API vended (`POST /apps/{app}/storage/credentials`):
the storage consumer attributes them to the session's user, so a user's own `{user}` folder
accepts them, and still refuses what the user's rights would not allow (another user's folder),
while the app's backend, on the same role under its own session name, stays at member level."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.aws import client
from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process
from tests.conftest import TEST_BUCKET, IdentityPlatform, installed
from tests.storage import s3_event

ME, SOMEONE = "7d2c8a4e-93f1-4a55-b1de-0f3c9e8a1b20", "0a1b2c3d-93f1-4a55-b1de-0f3c9e8a1b20"


@pytest.fixture
def rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    with installed(Runtime(identity.settings, identity.runtime().database)) as runtime:
        yield runtime


def upload(identity: IdentityPlatform, rt: Runtime, key: str, session: str) -> None:
    client("s3", identity.settings).put_object(
        Bucket=TEST_BUCKET, Key=key, Body=b"notes", ContentType="text/plain"
    )
    principal = f"AWS:{identity.roles['church']}:{session}"
    assert process(
        s3_event(key, name="ObjectCreated:Put", size=5, principal=principal), rt.storage_deps()
    ) == {"batchItemFailures": []}


def indexed(rt: Runtime, key: str) -> list[tuple[Any, ...]]:
    return rt.database.read("church", "SELECT uploader FROM files WHERE key = %s", (key,))


def test_a_users_vended_upload_into_their_own_folder_is_theirs(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    key = f"church/private/{ME}/{secrets.token_hex(4)}.txt"

    upload(identity, rt, key, f"{ME}@church")

    assert indexed(rt, key) == [(ME,)]


def test_a_vended_upload_into_another_users_folder_is_quarantined(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    key = f"church/private/{SOMEONE}/{secrets.token_hex(4)}.txt"

    upload(identity, rt, key, f"{ME}@church")

    assert indexed(rt, key) == []


def test_the_apps_backend_cannot_write_into_a_users_folder(identity: IdentityPlatform, rt: Runtime) -> None:
    key = f"church/private/{ME}/{secrets.token_hex(4)}.txt"

    upload(identity, rt, key, "integreat-service")

    assert indexed(rt, key) == []
