"""The cross-app consumer: verify the sender, route to consenting subscribers, deliver once.

One function per record (Powertools BatchProcessor) verifies and routes; deliveries are staged
and written with one batched statement per subscriber when the batch ends. Permanent errors
(invalid envelope, unknown or forged source, a type the producer may not publish) are audited
with the raw message and acknowledged: retrying cannot fix them. Transient errors (the database
down) fail the record: it is made visible again soon (`chalicelib.batching.retry_delay`), SQS
retries it and, after 5 receives, moves it to the DLQ. A failed write
fails exactly the records whose events it carried; a retry is harmless to subscribers that got
them already (their inbox is idempotent on the event's source and id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import audit
from chalicelib.batching import Retries, StagingBatchProcessor
from chalicelib.messaging.envelope import Envelope, EnvelopeError, app_of_source, parse
from chalicelib.messaging.inbox import Row, deliver_rows, row
from chalicelib.messaging.routing import Routes, build_routes, publish_problem
from chalicelib.messaging.section import EVENTS
from chalicelib.messaging.spec import EventsSpec
from chalicelib.observability import DELIVERIES, count, logger
from chalicelib.tenancy.database import Database
from chalicelib.tenancy.registry import ACTIVE, AppRecord
from chalicelib.usage.meter import Meter
from chalicelib.usage.model import DEAD_LETTERS, EVENTS_DELIVERED

#: A record's delivery: its inbox row (one for every subscriber) and the raw record it came in.
Staged = tuple[Row, dict[str, Any]]
#: What `_sender_app` answers for the API's role (it stamped `source` itself): not a slug, so no
#: app's role can ever be taken for it.
_API = "/api"


class MessagingDeps(NamedTuple):
    db: Database
    api_sender_id: str | None  # the API's role id: it stamps `source` itself
    retries: Retries | None = None  # shortens the wait of records failed transiently (batching.py)
    meter: Meter | None = None  # usage: deliveries and dead letters per app, flushed per batch


class Rejected(Exception):
    """A permanent problem with one message: audit it, acknowledge it. `app`: the producer, when
    the message names one the registry serves (its usage counts a dead letter)."""

    def __init__(self, reason: str, app: str | None = None) -> None:
        super().__init__(reason)
        self.app = app


def process(event: dict[str, Any], deps: MessagingDeps) -> dict[str, Any]:
    """Handle one SQS batch; returns the partial batch response (`batchItemFailures`)."""
    answer = RoutingProcessor(deps).run(event)
    if deps.meter is not None:
        from chalicelib.usage.store import flush

        flush(deps.db, deps.meter)  # one statement per batch: a consumer may be reclaimed any time
    return answer


def role_id(sender: str) -> str:
    """SQS SenderId: 'AIDA...' for users, 'AROA...:session' for assumed roles -> the unique id."""
    return sender.split(":", 1)[0]


class _Snapshot(NamedTuple):
    """What records are decided against, derived from one registry snapshot."""

    specs: Mapping[str, EventsSpec]  # active apps' events sections
    routes: Routes
    role_apps: Mapping[str, str]  # an app's IAM role id -> the app


_NOTHING = _Snapshot({}, build_routes({}), {})
_last: tuple[Mapping[str, AppRecord], _Snapshot] | None = None


def _snapshot(apps: Mapping[str, AppRecord]) -> _Snapshot:
    """`apps` decoded and indexed, once per registry snapshot rather than once per batch: the
    registry hands back the same mapping until it reloads, and a reload makes a new one."""
    global _last
    last = _last
    if last is not None and last[0] is apps:
        return last[1]
    active = [a for a in apps.values() if a.status == ACTIVE]
    specs = {a.slug: EVENTS.of(a) for a in active}
    made = _Snapshot(specs, build_routes(specs), {a.iam_role_id: a.slug for a in active if a.iam_role_id})
    _last = (apps, made)
    return made


class RoutingProcessor(StagingBatchProcessor):
    def __init__(self, deps: MessagingDeps) -> None:
        super().__init__(deps.retries)
        self.deps = deps
        self._now = _NOTHING  # until `prepare`: not through `_snapshot`, whose one entry is the registry's
        self._pending: dict[str, list[Staged]] = {}
        # Per batch: a batch is mostly a few types from a few senders, each decided once.
        self._senders: dict[str, str | None] = {}  # SenderId -> the app whose role it is, or _API
        self._recipients: dict[tuple[str, str], tuple[str, ...]] = {}

    def prepare(self) -> None:
        self._now = _snapshot(self.deps.db.registry.all())
        self._pending.clear()
        self._senders.clear()
        self._recipients.clear()

    def handle(self, record: SQSRecord) -> None:
        sender = record.attributes.sender_id or ""
        try:
            envelope, producer = self._verified(record.body, sender)
        except Rejected as exc:
            self._reject(record, sender, str(exc))
            if exc.app is not None and self.deps.meter is not None:
                self.deps.meter.add(exc.app, DEAD_LETTERS)
            return
        apps = self._routed(producer, envelope.type)
        if apps:
            staged = (row(envelope), record.raw_event)
            for app in apps:
                self._stage(app, staged)

    def _verified(self, body: str, sender: str) -> tuple[Envelope, str]:
        """The envelope and its producer; Rejected if either may not be delivered."""
        try:
            envelope = parse(body)
        except EnvelopeError as exc:
            raise Rejected(f"invalid envelope: {exc}") from exc
        producer = app_of_source(envelope.source)
        if producer is None or producer not in self._now.specs:
            raise Rejected(f"unknown source {envelope.source!r}")
        claimed_by = self._sender_app(sender)
        if claimed_by is None:
            raise Rejected(f"unknown sender {sender!r}: only the API and apps' own roles may publish")
        if claimed_by != _API and claimed_by != producer:
            # Not sent through the API: the sender must be the producer's own IAM role.
            raise Rejected(
                f"forged source: sender is {claimed_by}'s role, the event claims {envelope.source}"
            )
        problem = publish_problem(self._now.specs, producer, envelope.type)
        if problem is not None:
            raise Rejected(problem, producer)
        return envelope, producer

    def _sender_app(self, sender: str) -> str | None:
        """_API for the API's role, the app of an app's own role, else None; once per sender."""
        if sender not in self._senders:
            role = role_id(sender)
            api = self.deps.api_sender_id
            self._senders[sender] = _API if api and role == api else self._now.role_apps.get(role)
        return self._senders[sender]

    def _routed(self, producer: str, event_type: str) -> tuple[str, ...]:
        key = (producer, event_type)
        apps = self._recipients.get(key)
        if apps is None:
            apps = self._recipients[key] = self._now.routes.recipients(producer, event_type)
        return apps

    def _stage(self, app: str, staged: Staged) -> None:
        pending = self._pending.get(app)  # not setdefault: that allocates a list per record
        if pending is None:
            pending = self._pending[app] = []
        pending.append(staged)

    def _reject(self, record: SQSRecord, sender: str, reason: str) -> None:
        detail = {"body": record.body[:8000], "sender": sender}
        audit.write(self.deps.db, kind="messaging.rejected", app=None, subject=record.message_id, reason=reason,
              detail=detail, dedupe=f"messaging.rejected:{record.message_id}")  # fmt: skip
        logger.warning("event rejected", extra={"reason": reason, "message_id": record.message_id})

    def flush(self) -> None:
        for app, staged in self._pending.items():
            try:
                delivered = deliver_rows(self.deps.db, app, [event_row for event_row, _ in staged])
            except Exception:
                logger.exception("inbox delivery failed; its records will be retried", extra={"app": app})
                self.fail({id(raw): raw for _, raw in staged}.values())
                continue
            if delivered:
                count(DELIVERIES, app, value=delivered)
                if self.deps.meter is not None:
                    self.deps.meter.add(app, EVENTS_DELIVERED, delivered)
        self._pending.clear()
