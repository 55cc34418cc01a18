"""Recovering from a database outage in production code (issue 14, item 8), with the database cut
by a TCP proxy (tests/tcp_proxy.py) in front of the session's real Postgres:

1. every Database path replaces a pooled connection found dead, `platform()` included, so the
   first sign-up after a restart works, and a trigger never shows the driver's text;
2. the registry serves its last good copy through an outage, so `/me` keeps answering;
3. consumer records failed by an outage come back within seconds, not the 180 s visibility.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib.apps import Database
from chalicelib.aws import client
from chalicelib.identity import triggers
from chalicelib.identity.enrollment import UNAVAILABLE, TriggerFailure
from chalicelib.messaging.handlers import on_cross_app_event
from chalicelib.runtime import Runtime
from chalicelib.storage.handlers import on_storage_event
from tests.conftest import IdentityPlatform, ReadLines, installed
from tests.identity import cognito_event
from tests.messaging import cloud_event, inbox
from tests.messaging import drain as drain_events
from tests.queues import poll
from tests.storage import drain as drain_storage
from tests.storage import s3_event
from tests.tcp_proxy import TcpProxy
from tests.tokens import Signer

UNREACHABLE = "postgresql://nobody:secret@127.0.0.1:1/none"
PUBLISHED = "events.event.published"


class Cut:
    """The runtime database URL through a proxy the test can cut."""

    def __init__(self, runtime_url: str) -> None:
        target = urlsplit(runtime_url)
        self.proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
        self.url = runtime_url.replace(f"@{target.hostname}:{target.port}", f"@127.0.0.1:{self.proxy.port}")

    def restart(self) -> None:
        """As a database restart: every open connection dies, new ones are accepted."""
        self.proxy.cut()
        self.proxy.restore()


@pytest.fixture
def cut(identity: IdentityPlatform) -> Iterator[Cut]:
    found = Cut(identity.platform.runtime_url)
    yield found
    found.proxy.close()


# --- 1. platform() replaces a dead connection; triggers show no driver text ------------------------


def test_platform_statement_after_a_restart_gets_a_fresh_connection(cut: Cut) -> None:
    db = Database(cut.url)
    try:
        assert db.platform("SELECT 1") == [(1,)]  # the pool now holds a connection
        cut.restart()
        assert db.platform("SELECT current_user") == [("integreat_runtime",)]
    finally:
        db.close()


def test_first_sign_up_after_a_restart_is_recorded(identity: IdentityPlatform, cut: Cut) -> None:
    def sign_up(username: str) -> None:
        event = cognito_event(
            "cognito_pre_signup_signup", username=username, client_id=identity.clients["church"]
        )
        triggers.pre_sign_up(event, None)

    with installed(Runtime(identity.settings, Database(cut.url))) as rt:
        sign_up(f"before-{uuid.uuid4().hex[:8]}")  # warm: registry cached, connection pooled
        cut.restart()
        after = f"after-{uuid.uuid4().hex[:8]}"
        sign_up(after)
        assert rt.signup_client(after) == identity.clients["church"]


def test_a_trigger_never_shows_the_drivers_text(identity: IdentityPlatform, log_lines: ReadLines) -> None:
    event = cognito_event("cognito_pre_signup_signup", username="x", client_id=identity.clients["church"])
    runtime = Runtime(identity.settings, Database(UNREACHABLE, connect_timeout=1))
    with installed(runtime), pytest.raises(TriggerFailure) as raised:
        triggers.pre_sign_up(event, None)
    assert str(raised.value) == UNAVAILABLE  # what Cognito shows the person signing up
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__  # no traceback of Lambda's carries the driver's text
    logged = [line for line in log_lines() if line.get("trigger") == "pre_sign_up"]
    assert logged
    assert "127.0.0.1" in json.dumps(logged)  # the detail is for operators only


# --- 2. the registry's last good copy ------------------------------------------------------------


def test_me_and_publish_keep_answering_through_an_outage_past_the_registry_ttl(
    identity: IdentityPlatform, signer: Signer, cut: Cut, log_lines: ReadLines
) -> None:
    # A TTL of 0: every lookup is past it, as 30 s into an outage.
    database = Database(cut.url, registry_ttl_seconds=0.0, registry_max_stale_seconds=300.0)
    runtime = Runtime(identity.settings, database, jwks_fetch=lambda url: signer.jwks())
    headers = identity.bearer(signer, "church", ["church"])
    producer = {**identity.bearer(signer, "events", ["events"]), "Content-Type": "application/json"}
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": PUBLISHED, "data": {}}
    with installed(runtime), Client(chalice_app.app) as api:
        assert api.http.get("/me", headers=headers).status_code == 200
        cut.proxy.cut()
        me = api.http.get("/me", headers=headers)
        assert me.status_code == 200, me.body
        assert me.json_body["app"] == "church"
        published = api.http.post("/apps/events/events", headers=producer, body=json.dumps(event))
        assert published.status_code == 202, published.body
        needs_database = api.http.get("/apps/church/inbox", headers=headers)
        assert needs_database.status_code == 503
    assert any(line["message"] == "registry unavailable; serving its last good copy" for line in log_lines())


def test_past_the_bound_the_registry_answers_503_as_before(
    identity: IdentityPlatform, signer: Signer, cut: Cut
) -> None:
    database = Database(cut.url, registry_ttl_seconds=0.0, registry_max_stale_seconds=0.0)
    runtime = Runtime(identity.settings, database, jwks_fetch=lambda url: signer.jwks())
    headers = identity.bearer(signer, "church", ["church"])
    with installed(runtime), Client(chalice_app.app) as api:
        assert api.http.get("/me", headers=headers).status_code == 200
        cut.proxy.cut()
        assert api.http.get("/me", headers=headers).status_code == 503


# --- 3. consumers: failed records visible again soon ---------------------------------------------


def receivable(identity: IdentityPlatform, queue_url: str, wait: int = 3) -> set[str]:
    """Ids receivable now (left visible: VisibilityTimeout 0), waiting up to `wait` seconds."""
    found = client("sqs", identity.settings).receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, VisibilityTimeout=0
    )
    return {m["MessageId"] for m in found.get("Messages", [])}


def send(identity: IdentityPlatform, queue_url: str, bodies: list[str]) -> set[str]:
    sqs = client("sqs", identity.settings)
    return {sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"] for body in bodies}


@pytest.fixture
def drained(identity: IdentityPlatform) -> None:
    """Both queues emptied by a healthy runtime: the polls below see only this test's messages."""
    with installed(identity.runtime()) as rt:
        drain_events(identity, rt)
        drain_storage(identity, rt)


@pytest.fixture
def fragile(identity: IdentityPlatform, cut: Cut, drained: None) -> Iterator[Runtime]:
    """The installed runtime, its database behind the proxy, its registry warm: a batch starts
    normally and its writes fail."""
    with installed(Runtime(identity.settings, Database(cut.url))) as rt:
        rt.database.registry.all()
        yield rt


def test_cross_app_records_failed_by_an_outage_are_retried_within_seconds(
    identity: IdentityPlatform, cut: Cut, fragile: Runtime
) -> None:
    events = [cloud_event("events", PUBLISHED) for _ in range(3)]
    sent = send(identity, identity.events.url, [json.dumps(e) for e in events])
    cut.proxy.cut()
    # the queue's own visibility (180 s), as the event source mapping receives
    received, failed = poll(
        identity.settings, identity.events.url, identity.events.arn, lambda e: on_cross_app_event(e, None)
    )
    assert (received, set(failed)) == (3, sent)  # still reported: the receive count and DLQ hold
    assert receivable(identity, identity.events.url) == sent
    cut.proxy.restore()
    assert poll(
        identity.settings, identity.events.url, identity.events.arn, lambda e: on_cross_app_event(e, None)
    ) == (3, [])
    assert all(inbox(fragile, "church", e["id"]) for e in events)


def test_storage_records_failed_by_an_outage_are_retried_within_seconds(
    identity: IdentityPlatform, cut: Cut, fragile: Runtime
) -> None:
    storage = identity.storage
    keys = [f"church/uploads/outage-{uuid.uuid4().hex[:8]}.txt" for _ in range(2)]
    bodies = [s3_event(key, name="ObjectRemoved:Delete")["Records"][0]["body"] for key in keys]
    sent = send(identity, storage.queue_url, bodies)
    cut.proxy.cut()
    received, failed = poll(
        identity.settings, storage.queue_url, storage.queue_arn, lambda e: on_storage_event(e, None)
    )
    assert (received, set(failed)) == (2, sent)
    assert receivable(identity, storage.queue_url) == sent
    cut.proxy.restore()
    handler = lambda e: on_storage_event(e, None)  # noqa: E731
    assert poll(identity.settings, storage.queue_url, storage.queue_arn, handler) == (2, [])
    tombstones = fragile.database.read("church", "SELECT count(*) FROM files WHERE key = ANY(%s)", (keys,))
    assert tombstones == [(2,)]


def test_a_batch_that_cannot_load_the_registry_is_retried_within_seconds(
    identity: IdentityPlatform, cut: Cut, drained: None
) -> None:
    sent = send(identity, identity.events.url, [json.dumps(cloud_event("events", PUBLISHED))])
    handler = lambda e: on_cross_app_event(e, None)  # noqa: E731
    with installed(Runtime(identity.settings, Database(cut.url))):  # a cold container: no copy
        cut.proxy.cut()
        received, failed = poll(identity.settings, identity.events.url, identity.events.arn, handler)
        assert (received, set(failed)) == (1, sent)  # the handler raised: the whole batch failed
        assert receivable(identity, identity.events.url) == sent
        cut.proxy.restore()
        assert poll(identity.settings, identity.events.url, identity.events.arn, handler) == (1, [])
