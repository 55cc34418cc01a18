"""Messaging, durably: real Postgres, moto SQS, the real publisher and consumer (issue: messaging)."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib.apps import Database
from chalicelib.aws import client
from chalicelib.db.pool import connector
from chalicelib.messaging.consumer import process
from chalicelib.messaging.spec import EventsSpec, Subscription
from chalicelib.provisioning.database import sync_apps
from chalicelib.runtime import Runtime
from chalicelib.tenancy.manifest import AppSpec
from tests.cli import run_integreat
from tests.conftest import MOTO_SENDER_ID, IdentityPlatform, installed
from tests.identity import Users
from tests.messaging import cloud_event, consume, drain, inbox, sqs_batch, sqs_record
from tests.queues import depth
from tests.tcp_proxy import TcpProxy

PUBLISHED = "events.event.published"


@pytest.fixture
def rt(identity: IdentityPlatform) -> Iterator[Runtime]:
    with installed(identity.runtime()) as runtime:
        drain(identity, runtime)
        yield runtime


def role_id(rt: Runtime, app: str) -> str:
    found = rt.database.registry.all()[app].iam_role_id
    assert found
    return found


def audited(identity: IdentityPlatform, message_id: str) -> str | None:
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT reason FROM integreat.audit WHERE kind = 'messaging.rejected' AND subject = %s",
            (message_id,),
        )
        row = cur.fetchone()
    conn.close()
    return None if row is None else str(row[0])


# --- through the API, end to end ------------------------------------------------------------------


def test_published_event_reaches_every_consenting_subscriber_once(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    users = Users(identity)
    organizer = users.sign_up("events", f"{secrets.token_hex(3)}@example.org")
    headers = {
        "Authorization": f"Bearer {users.login('events', organizer)['access']}",
        "Content-Type": "application/json",
    }
    event_id = str(uuid4())
    with Client(chalice_app.app) as api:
        body = {"specversion": "1.0", "id": event_id, "type": PUBLISHED, "data": {"title": "Fair"}}
        sent = api.http.post("/apps/events/events", headers=headers, body=json.dumps(body))
        assert sent.status_code == 202, sent.body
        assert sent.json_body["results"] == [{"index": 0, "status": "accepted", "id": event_id}]
        consume(identity, rt)
        assert inbox(rt, "church", event_id) == [("/apps/events", PUBLISHED)]  # subscribes events.event.*
        assert inbox(rt, "students", event_id) == [("/apps/events", PUBLISHED)]  # subscribes the exact type
        assert inbox(rt, "events", event_id) == []  # a producer does not receive its own events
        # the subscriber reads its inbox through the API, oldest first, and acknowledges
        member = users.sign_up("church", f"{secrets.token_hex(3)}@example.org")
        church = {"Authorization": f"Bearer {users.login('church', member)['access']}"}
        page = api.http.get("/apps/church/inbox?limit=100", headers=church).json_body
        delivery = next(d for d in page["events"] if d["event"]["id"] == event_id)
        assert delivery["event"]["source"] == "/apps/events"
        acked = api.http.post(f"/apps/church/inbox/{delivery['seq']}/ack", headers=church)
        assert acked.json_body == {"app": "church", "seq": delivery["seq"], "acked": True}
    # and the app's own LOGIN role reads its inbox table directly
    conn = connector(identity.platform.login_url("church"))()
    with conn.cursor() as cur:
        cur.execute("SELECT acked_at IS NOT NULL FROM inbox WHERE event_id = %s", (event_id,))
        assert cur.fetchone() == (True,)
    conn.close()


def uuid4() -> str:
    import uuid

    return str(uuid.uuid4())


def test_forged_source_and_undeclared_types_are_refused_at_the_api(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    users = Users(identity)
    name = users.sign_up("events", f"{secrets.token_hex(3)}@example.org")
    headers = {
        "Authorization": f"Bearer {users.login('events', name)['access']}",
        "Content-Type": "application/json",
    }
    batch = [
        {"specversion": "1.0", "id": "a", "type": PUBLISHED},
        {"specversion": "1.0", "id": "b", "type": PUBLISHED, "source": "/apps/church"},  # forged
        {"specversion": "1.0", "id": "c", "type": "events.secret.leaked"},  # not declared
        {"specversion": "1.0", "id": "d", "type": "church.service.scheduled"},  # another app's type
    ]
    with Client(chalice_app.app) as api:
        response = api.http.post("/apps/events/events", headers=headers, body=json.dumps(batch))
    assert response.status_code == 207
    statuses = [r["status"] for r in response.json_body["results"]]
    assert statuses == ["accepted", "rejected", "rejected", "rejected"]
    assert "source" in response.json_body["results"][1]["errors"][0]
    assert depth(identity.settings, identity.events.url) == 1  # only the valid one was sent


# --- the consumer's durability -------------------------------------------------------------------


def test_duplicate_delivery_makes_one_row(identity: IdentityPlatform, rt: Runtime) -> None:
    event = cloud_event("events", PUBLISHED)
    records = [sqs_record(event, sender=MOTO_SENDER_ID) for _ in range(3)]
    assert process(sqs_batch(*records), rt.messaging_deps()) == {"batchItemFailures": []}
    assert process(sqs_batch(records[0]), rt.messaging_deps()) == {"batchItemFailures": []}
    assert len(inbox(rt, "church", event["id"])) == 1


def test_crash_after_insert_before_delete_redelivers_once(identity: IdentityPlatform, rt: Runtime) -> None:
    event = cloud_event("events", PUBLISHED)
    client("sqs", identity.settings).send_message(QueueUrl=identity.events.url, MessageBody=json.dumps(event))
    received, failed = consume(identity, rt, visibility=0, delete=False)  # inserted, then the Lambda "dies"
    assert (received, failed) == (1, [])
    assert consume(identity, rt) == (1, [])  # SQS redelivers it; the consumer deletes it this time
    assert len(inbox(rt, "church", event["id"])) == 1
    assert depth(identity.settings, identity.events.url) == 0


def test_database_down_mid_batch_is_retried_and_all_delivered(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    target = urlsplit(identity.platform.runtime_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    url = identity.platform.runtime_url.replace(
        f"@{target.hostname}:{target.port}", f"@127.0.0.1:{proxy.port}"
    )
    fragile = Runtime(identity.settings, Database(url))
    try:
        fragile.database.registry.all()  # warm: the registry is cached, the batch starts normally
        events = [cloud_event("events", PUBLISHED) for _ in range(4)]
        sqs = client("sqs", identity.settings)
        for event in events:
            sqs.send_message(QueueUrl=identity.events.url, MessageBody=json.dumps(event))
        proxy.cut()  # the database goes away
        received, failed = consume(identity, fragile, visibility=0)
        assert received == 4
        assert len(failed) == 4  # every record reported, none acknowledged
        proxy.restore()
        for _ in range(5):
            consume(identity, fragile, visibility=0)
        assert all(len(inbox(rt, "church", e["id"])) == 1 for e in events)
        assert depth(identity.settings, identity.events.url) == 0
    finally:
        fragile.database.close()
        proxy.close()


def test_poison_message_lands_in_the_dlq_after_five_receives(identity: IdentityPlatform, rt: Runtime) -> None:
    conn = identity.platform.connect()
    with conn.cursor() as cur:  # students' inbox is broken: every delivery to it fails
        cur.execute("ALTER TABLE app_students.inbox RENAME TO inbox_broken")
    try:
        event = cloud_event("events", PUBLISHED)
        client("sqs", identity.settings).send_message(
            QueueUrl=identity.events.url, MessageBody=json.dumps(event)
        )
        for _ in range(7):
            consume(identity, rt, visibility=0)
        assert depth(identity.settings, identity.events.url) == 0
        assert depth(identity.settings, identity.events.dlq_url) >= 1
        listed = integreat(identity, "events", "dlq", "list")
        assert listed.returncode == 0, listed.stderr
        assert event["id"] in listed.stdout
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE app_students.inbox_broken RENAME TO inbox")
        conn.close()
    redriven = integreat(identity, "events", "dlq", "redrive")
    assert redriven.returncode == 0, redriven.stderr
    consume(identity, rt)
    assert inbox(rt, "students", event["id"]) == [("/apps/events", PUBLISHED)]


def integreat(identity: IdentityPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return run_integreat(
        *args,
        INTEGREAT_AWS_ENDPOINT_URL=identity.endpoint,
        INTEGREAT_EVENTS_QUEUE=identity.settings.events_queue,
        INTEGREAT_DATABASE_URL=identity.platform.operator_url,
    )


@pytest.mark.parametrize("claimed", ["church", "students"])
def test_sender_of_one_app_posting_as_another_is_rejected(
    identity: IdentityPlatform, rt: Runtime, claimed: str
) -> None:
    # events' own IAM role sends directly to SQS, but the event claims another app's source.
    event = cloud_event(claimed, f"{claimed}.service.scheduled", source=f"/apps/{claimed}")
    record = sqs_record(event, sender=f"{role_id(rt, 'events')}:events-backend")
    assert process(sqs_batch(record), rt.messaging_deps()) == {"batchItemFailures": []}  # acknowledged
    assert "forged source" in (audited(identity, record["messageId"]) or "")
    for app in ("church", "events", "students"):
        assert inbox(rt, app, event["id"]) == []


def test_direct_send_by_the_producers_own_role_is_delivered(identity: IdentityPlatform, rt: Runtime) -> None:
    event = cloud_event("events", PUBLISHED)
    record = sqs_record(event, sender=f"{role_id(rt, 'events')}:events-backend")
    assert process(sqs_batch(record), rt.messaging_deps()) == {"batchItemFailures": []}
    assert inbox(rt, "church", event["id"])


def test_unknown_sender_and_spoofed_source_are_rejected(identity: IdentityPlatform, rt: Runtime) -> None:
    stranger = sqs_record(cloud_event("events", PUBLISHED), sender="AROASTRANGER000000000:x")
    process(sqs_batch(stranger), rt.messaging_deps())
    assert "unknown sender" in (audited(identity, stranger["messageId"]) or "")
    spoof = sqs_record(cloud_event("nobody", "nobody.x.y"), sender=MOTO_SENDER_ID)
    process(sqs_batch(spoof), rt.messaging_deps())
    assert "unknown source" in (audited(identity, spoof["messageId"]) or "")


def test_non_subscriber_and_excluded_subscriber_receive_nothing(
    identity: IdentityPlatform, rt: Runtime
) -> None:
    producer, allowed, excluded, bystander = (f"m{secrets.token_hex(3)}" for _ in range(4))
    news = f"{producer}.news.posted"
    subscribe = EventsSpec(subscribes=(Subscription(producer, (f"{producer}.news.*",)),))
    apps = [
        AppSpec(
            producer, "P", "invite", ("member",), events=EventsSpec(publishes=(news,), consumers=(allowed,))
        ),
        AppSpec(allowed, "A", "invite", ("member",), events=subscribe),
        AppSpec(excluded, "E", "invite", ("member",), events=subscribe),  # subscribes, but P excludes it
        AppSpec(bystander, "B", "invite", ("member",)),  # subscribes to nothing
    ]
    assert sync_apps(connector(identity.platform.operator_url), apps).ok
    rt.database.registry.invalidate()
    event = cloud_event(producer, news)
    assert process(sqs_batch(sqs_record(event, sender=MOTO_SENDER_ID)), rt.messaging_deps()) == {
        "batchItemFailures": []
    }
    assert inbox(rt, allowed, event["id"]) == [(f"/apps/{producer}", news)]
    assert inbox(rt, excluded, event["id"]) == []
    assert inbox(rt, bystander, event["id"]) == []


def test_one_bad_record_does_not_fail_the_other_nine(identity: IdentityPlatform, rt: Runtime) -> None:
    good = [cloud_event("events", PUBLISHED) for _ in range(9)]
    records = [sqs_record(e, sender=MOTO_SENDER_ID) for e in good]
    bad = sqs_record('{"specversion": "1.0", "type": 12}', sender=MOTO_SENDER_ID)
    records.insert(4, bad)
    assert process(sqs_batch(*records), rt.messaging_deps()) == {"batchItemFailures": []}
    assert all(inbox(rt, "church", e["id"]) for e in good)
    assert "invalid envelope" in (audited(identity, bad["messageId"]) or "")


def test_a_failed_subscriber_write_fails_only_its_records(identity: IdentityPlatform, rt: Runtime) -> None:
    to_students = cloud_event("events", PUBLISHED)  # church and students subscribe
    to_events = cloud_event("church", "church.service.scheduled")  # only events subscribes
    records = [
        sqs_record(to_students, sender=MOTO_SENDER_ID, message_id="s-1"),
        sqs_record(to_events, sender=MOTO_SENDER_ID, message_id="e-1"),
    ]
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE app_students.inbox RENAME TO inbox_gone")
    try:
        response: dict[str, Any] = process(sqs_batch(*records), rt.messaging_deps())
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE app_students.inbox_gone RENAME TO inbox")
        conn.close()
    assert response == {"batchItemFailures": [{"itemIdentifier": "s-1"}]}
    assert inbox(rt, "events", to_events["id"])  # the other record's delivery landed
    assert inbox(rt, "church", to_students["id"])  # and so did church's copy of the failed one
    assert process(sqs_batch(records[0]), rt.messaging_deps()) == {"batchItemFailures": []}  # the retry
    assert len(inbox(rt, "church", to_students["id"])) == 1
    assert inbox(rt, "students", to_students["id"])


def test_cli_publishes_and_tails(identity: IdentityPlatform, rt: Runtime) -> None:
    event_id = uuid4()
    published = integreat(identity, "events", "publish", "--app", "events", "--type", PUBLISHED, "--id", event_id,
                          "--data", '{"title": "from the CLI"}')  # fmt: skip
    assert published.returncode == 0, published.stderr
    assert "accepted" in published.stdout
    refused = integreat(
        identity, "events", "publish", "--app", "events", "--type", "church.service.scheduled"
    )
    assert refused.returncode == 1
    assert "rejected" in refused.stdout
    consume(identity, rt)
    tailed = integreat(identity, "events", "tail", "--app", "church")
    assert tailed.returncode == 0, tailed.stderr
    assert event_id in tailed.stdout
