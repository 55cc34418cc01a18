"""Both consumers decide what they can once per batch (issue 20): per sender, principal, type and
folder. These check that a batch mixing writers and senders still decides every record on its own:
a cached answer for one record never lets another one through, and a failure never loses the rest."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.aws import client
from chalicelib.messaging.consumer import process as consume
from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process as index
from tests.conftest import MOTO_SENDER_ID, TEST_BUCKET, IdentityPlatform, installed
from tests.messaging import cloud_event, drain, inbox, sqs_batch, sqs_record
from tests.storage import batch, s3_event

PRESIGNER = "AROAEXAMPLEPRESIGNER"  # the API's role in tests.storage.s3_event
PUBLISHED = "events.event.published"  # church and students subscribe


@pytest.fixture
def rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    """The test platform's runtime: moto's SenderId is the API's (as in test_messaging)."""
    with installed(identity.runtime()) as runtime:
        drain(identity, runtime)
        yield runtime


@pytest.fixture
def storage_rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    """The API's role as the storage events name it (as in test_storage_events)."""
    with installed(
        Runtime(identity.settings._replace(api_role_id=PRESIGNER), identity.runtime().database)
    ) as runtime:
        yield runtime


def role_id(rt: Runtime, app: str) -> str:
    found = rt.database.registry.all()[app].iam_role_id
    assert found
    return found


def audit_reason(identity: IdentityPlatform, kind: str, subject: str) -> str | None:
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT reason FROM integreat.audit WHERE kind = %s AND subject = %s", (kind, subject))
        row = cur.fetchone()
    conn.close()
    return None if row is None else str(row[0])


# --- messaging -----------------------------------------------------------------------------------


def test_one_sender_is_checked_against_each_records_own_source(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    sender = f"{role_id(rt, 'events')}:events-backend"
    own = [cloud_event("events", PUBLISHED) for _ in range(3)]
    forged = cloud_event("church", "church.service.scheduled")  # events' role, church's source
    records = [sqs_record(e, sender=sender) for e in own]
    records.insert(1, sqs_record(forged, sender=sender, message_id=f"forged-{secrets.token_hex(4)}"))
    stranger = sqs_record(cloud_event("events", PUBLISHED), sender="AROASTRANGER000000000:x")
    records.append(stranger)

    assert consume(sqs_batch(*records), rt.messaging_deps()) == {"batchItemFailures": []}

    assert "forged source" in (audit_reason(identity, "messaging.rejected", records[1]["messageId"]) or "")
    assert "unknown sender" in (audit_reason(identity, "messaging.rejected", stranger["messageId"]) or "")
    assert inbox(rt, "events", forged["id"]) == []
    for event in own:
        assert (
            inbox(rt, "church", event["id"])
            == inbox(rt, "students", event["id"])
            == [("/apps/events", PUBLISHED)]
        )


def test_a_fanned_out_event_is_stored_alike_in_every_inbox(rt: Runtime) -> None:
    event = cloud_event("events", PUBLISHED, data={"title": "Café ☕", "seats": [1, 2.5, None]})

    assert consume(sqs_batch(sqs_record(event, sender=MOTO_SENDER_ID)), rt.messaging_deps()) == {
        "batchItemFailures": []
    }

    sql = "SELECT data, envelope FROM inbox WHERE event_id = %s"
    [(church_data, church_envelope)] = rt.database.read("church", sql, (event["id"],))
    [(students_data, students_envelope)] = rt.database.read("students", sql, (event["id"],))
    assert church_data == students_data == event["data"]
    assert church_envelope == students_envelope == event


# --- storage -------------------------------------------------------------------------------------


def put(s3: Any, key: str, metadata: dict[str, str] | None = None) -> None:
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"x", ContentType="text/plain", Metadata=metadata or {})


def test_each_upload_is_judged_by_its_own_writer(identity: IdentityPlatform, storage_rt: Runtime) -> None:
    rt = storage_rt
    s3 = client("s3", identity.settings)
    church_role = f"AWS:{role_id(rt, 'church')}:church-backend"
    api = f"AWS:{PRESIGNER}:integreat-dev-api"
    stamp = secrets.token_hex(4)
    keys = {
        name: f"church/uploads/{stamp}-{name}.txt"
        for name in ("api", "backend1", "stranger", "backend2", "bare")
    }
    put(s3, keys["api"], {"uploader": "u-1", "app": "church", "roles": "member", "admin": "false"})
    for name in ("backend1", "stranger", "backend2", "bare"):
        put(s3, keys[name])  # no metadata: only the API's uploads carry it
    writers = {"api": api, "backend1": church_role, "stranger": "AWS:AROASTRANGER000000000:x",
               "backend2": church_role, "bare": api}  # fmt: skip
    event = batch(*(s3_event(keys[n], principal=writers[n], message_id=f"{n}-{stamp}") for n in keys))

    assert index(event, rt.storage_deps()) == {"batchItemFailures": []}

    uploaders = {
        name: rt.database.read("church", "SELECT uploader FROM files WHERE key = %s AND NOT deleted", (key,))
        for name, key in keys.items()
    }
    assert uploaders["api"] == [("u-1",)]
    assert uploaders["backend1"] == uploaders["backend2"] == [(church_role,)]
    for name in ("stranger", "bare"):  # an unknown role; the API's role without the API's metadata
        assert uploaders[name] == []
        assert audit_reason(identity, "storage.quarantined", keys[name])
