"""Storage end to end on moto (S3 -> SQS -> the real consumer -> Postgres), and the consumer's
contract on recorded event shapes: decoding once, duplicates, order, quarantine, partial batches."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice.test import Client

import app as chalice_app
from chalicelib.aws import client
from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process
from tests.conftest import TEST_BUCKET, IdentityPlatform, installed
from tests.identity import Users
from tests.storage import batch, drain, s3_event

PRESIGNER = "AROAEXAMPLEPRESIGNER"


@pytest.fixture
def rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    with installed(
        Runtime(identity.settings._replace(api_role_id=PRESIGNER), identity.runtime().database)
    ) as runtime:
        yield runtime


@pytest.fixture
def s3(identity: IdentityPlatform) -> Any:
    return client("s3", identity.settings)


def files(rt: Runtime, app: str, key: str) -> list[tuple[Any, ...]]:
    return rt.database.read(app, "SELECT key, size, deleted, uploader FROM files WHERE key = %s", (key,))


def quarantined(identity: IdentityPlatform, key: str) -> list[tuple[Any, ...]]:
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT app, reason FROM integreat.audit WHERE kind = 'storage.quarantined' AND subject = %s",
            (key,),
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def put(
    s3: Any, key: str, *, uploader: str = "u-1", app: str = "church", content_type: str = "text/plain"
) -> None:
    """An object as a presigned POST from the API leaves it: with the metadata the API pinned."""
    metadata = {"uploader": uploader, "app": app, "roles": "member", "admin": "false"}
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"hello", ContentType=content_type, Metadata=metadata)


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


# --- end to end ----------------------------------------------------------------------------------


def test_presigned_upload_is_indexed_and_listed(identity: IdentityPlatform, rt: Runtime) -> None:
    users = Users(identity)
    name = users.sign_up("church", f"{unique('up')}@example.org")
    token = {"Authorization": f"Bearer {users.login('church', name)['access']}"}
    drain(identity, rt)  # start from an empty queue
    with Client(chalice_app.app) as api:
        signed = api.http.post(
            "/apps/church/files/uploads",
            headers={**token, "Content-Type": "application/json"},
            body='{"folder": "uploads/", "filename": "notes.txt", "content_type": "text/plain", "size": 5}',
        )
        assert signed.status_code == 200, signed.body
        key = signed.json_body["key"]
        assert key.startswith("church/uploads/")
        assert key.endswith("-notes.txt")
        form = signed.json_body["upload"]
        posted = requests.post(form["url"], data=form["fields"], files={"file": ("x", b"hello")}, timeout=10)
        assert posted.status_code in (200, 204), posted.text
        drain(identity, rt)
        assert files(rt, "church", key) == [(key, 5, False, users_sub(identity, name))]
        listed = api.http.get("/apps/church/files?folder=uploads/", headers=token).json_body
        assert key in [f["key"] for f in listed["files"]]
        download = api.http.get(f"/apps/church/files/download?key={key}", headers=token).json_body
        assert requests.get(download["url"], timeout=10).content == b"hello"


def users_sub(identity: IdentityPlatform, username: str) -> str:
    attrs = identity.cognito().admin_get_user(UserPoolId=identity.user_pool_id, Username=username)[
        "UserAttributes"
    ]
    return next(a["Value"] for a in attrs if a["Name"] == "sub")


def test_invalid_upload_is_quarantined_and_audited(identity: IdentityPlatform, rt: Runtime, s3: Any) -> None:
    drain(identity, rt)
    outside = unique("church/secrets/") + ".txt"  # church has no folder "secrets/"
    put(s3, outside)
    stranger = unique("church/uploads/") + ".txt"
    s3.put_object(
        Bucket=TEST_BUCKET, Key=stranger, Body=b"x", ContentType="text/plain"
    )  # no uploader metadata
    drain(identity, rt)
    for key, reason in ((outside, "no folder of church"), (stranger, "unknown")):
        assert s3.get_object(Bucket=TEST_BUCKET, Key=f"_quarantine/{key}")["Body"].read()
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=TEST_BUCKET, Key=key)
        [(app, why)] = quarantined(identity, key)
        assert app == "church"
        assert reason in why
        # ...and church is told through its inbox
        notices = rt.database.read(
            "church",
            "SELECT data FROM inbox WHERE type = 'integreat.storage.quarantined' AND subject = %s",
            (key,),
        )
        assert [n[0]["quarantined_as"] for n in notices] == [f"_quarantine/{key}"]
        assert [row for row in files(rt, "church", key) if not row[2]] == []  # at most a tombstone


# --- the consumer's contract on recorded shapes --------------------------------------------------


def test_key_is_decoded_exactly_once(identity: IdentityPlatform, rt: Runtime, s3: Any) -> None:
    key = unique("church/uploads/a b+c ") + ".txt"  # event carries church/uploads/a+b%2Bc+....txt
    put(s3, key)
    assert process(s3_event(key), rt.storage_deps()) == {"batchItemFailures": []}
    assert files(rt, "church", key)[0][0] == key


@pytest.mark.parametrize(
    "key",
    ["church/../events/x.txt", "church/uploads/../../events/x.txt", "church%2F..%2Fx.txt", "church//x.txt"],
)
def test_traversal_and_encoding_tricks_are_quarantined(
    identity: IdentityPlatform, rt: Runtime, s3: Any, key: str
) -> None:
    seq = f"{secrets.randbits(60):X}"
    assert process(s3_event(key, sequencer=seq), rt.storage_deps()) == {"batchItemFailures": []}
    assert quarantined(identity, key), "audited"
    assert rt.database.read("events", "SELECT count(*) FROM files WHERE key LIKE '%%x.txt'") == [(0,)]


def test_key_length_limit(identity: IdentityPlatform, rt: Runtime, s3: Any) -> None:
    prefix = unique("church/uploads/")
    longest = prefix + "k" * (1024 - len(prefix.encode()))
    put(s3, longest)
    process(s3_event(longest), rt.storage_deps())
    assert files(rt, "church", longest)
    too_long = longest + "k"
    process(s3_event(too_long), rt.storage_deps())
    assert "1,024" in quarantined(identity, too_long)[0][1] or "1024" in quarantined(identity, too_long)[0][1]


def test_duplicates_make_one_row_and_old_events_never_win(
    identity: IdentityPlatform, rt: Runtime, s3: Any
) -> None:
    key = unique("church/uploads/") + ".txt"
    put(s3, key)
    created, removed, recreated = "00000000000000000A", "00000000000000000B", "00000000000000000C"
    deps = rt.storage_deps()
    process(
        batch(
            s3_event(key, sequencer=created, message_id="a"), s3_event(key, sequencer=created, message_id="b")
        ),
        deps,
    )
    assert files(rt, "church", key) == [(key, 10, False, "u-1")]
    # the removal arrives, then a late duplicate of the creation: the removal stands
    process(s3_event(key, name="ObjectRemoved:Delete", sequencer=removed), deps)
    process(s3_event(key, sequencer=created), deps)
    assert files(rt, "church", key)[0][2] is True
    process(s3_event(key, sequencer=recreated, size=99), deps)  # a newer upload of the same key
    assert files(rt, "church", key) == [(key, 99, False, "u-1")]


def test_test_event_is_ignored(rt: Runtime) -> None:
    event = s3_event("church/uploads/x.txt")
    event["Records"][0]["body"] = (
        '{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-27T10:00:00.000Z","Bucket":"integreat-test-files","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}'
    )
    assert process(event, rt.storage_deps()) == {"batchItemFailures": []}


def test_malformed_message_is_audited_and_acknowledged(identity: IdentityPlatform, rt: Runtime) -> None:
    event = s3_event("church/uploads/x.txt", message_id=unique("poison-"))
    event["Records"][0]["body"] = "not json"
    assert process(event, rt.storage_deps()) == {"batchItemFailures": []}
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT reason FROM integreat.audit WHERE kind = 'storage.malformed' AND subject = %s",
                    (event["Records"][0]["messageId"],))  # fmt: skip
        assert "not JSON" in cur.fetchone()[0]
    conn.close()


def test_a_failed_index_write_fails_only_its_records(
    identity: IdentityPlatform, rt: Runtime, s3: Any
) -> None:
    good, bad = unique("church/uploads/") + ".txt", unique("events/tickets/u-1/") + ".pdf"
    put(s3, good)
    put(s3, bad, app="events", content_type="application/pdf")
    conn = identity.platform.connect()
    with conn.cursor() as cur:  # an operator renamed events' table: its writes now fail
        cur.execute("ALTER TABLE app_events.files RENAME TO files_gone")
    try:
        response = process(
            batch(s3_event(good, message_id="ok-1"), s3_event(bad, message_id="bad-1")), rt.storage_deps()
        )
        assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
        assert files(rt, "church", good)
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE app_events.files_gone RENAME TO files")
        conn.close()
    # the retry, once the table is back, lands
    assert process(s3_event(bad, message_id="bad-1"), rt.storage_deps()) == {"batchItemFailures": []}
    assert files(rt, "events", bad)
