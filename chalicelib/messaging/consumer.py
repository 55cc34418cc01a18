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

from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import audit
from chalicelib.batching import Retries, StagingBatchProcessor
from chalicelib.messaging.envelope import Envelope, EnvelopeError, app_of_source, parse
from chalicelib.messaging.inbox import deliver
from chalicelib.messaging.routing import Routes, build_routes, publish_problem
from chalicelib.messaging.section import EVENTS
from chalicelib.messaging.spec import EventsSpec
from chalicelib.observability import DELIVERIES, count, logger
from chalicelib.tenancy.database import Database
from chalicelib.tenancy.registry import ACTIVE
from chalicelib.usage.meter import Meter
from chalicelib.usage.model import DEAD_LETTERS, EVENTS_DELIVERED


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


class RoutingProcessor(StagingBatchProcessor):
    def __init__(self, deps: MessagingDeps) -> None:
        super().__init__(deps.retries)
        self.deps = deps
        self._specs: dict[str, EventsSpec] = {}
        self._role_apps: dict[str, str] = {}
        self._routes: Routes = build_routes({})
        self._pending: dict[str, list[tuple[Envelope, dict[str, Any]]]] = {}

    def prepare(self) -> None:
        apps = [a for a in self.deps.db.registry.all().values() if a.status == ACTIVE]
        self._specs = {a.slug: EVENTS.of(a) for a in apps}
        self._routes = build_routes(self._specs)  # once per batch: routing cost does not grow with apps
        self._role_apps = {a.iam_role_id: a.slug for a in apps if a.iam_role_id}
        self._pending.clear()

    def handle(self, record: SQSRecord) -> None:
        sender = record.attributes.sender_id or ""
        try:
            envelope = self._verified(record.body, sender)
        except Rejected as exc:
            self._reject(record, sender, str(exc))
            if exc.app is not None and self.deps.meter is not None:
                self.deps.meter.add(exc.app, DEAD_LETTERS)
            return
        for app in self._routes.recipients(app_of_source(envelope.source) or "", envelope.type):
            self._pending.setdefault(app, []).append((envelope, record.raw_event))

    def _verified(self, body: str, sender: str) -> Envelope:
        try:
            envelope = parse(body)
        except EnvelopeError as exc:
            raise Rejected(f"invalid envelope: {exc}") from exc
        producer = app_of_source(envelope.source)
        if producer is None or producer not in self._specs:
            raise Rejected(f"unknown source {envelope.source!r}")
        if not (self.deps.api_sender_id and role_id(sender) == self.deps.api_sender_id):
            # Not sent through the API: the sender must be the producer's own IAM role.
            claimed_by = self._role_apps.get(role_id(sender))
            if claimed_by is None:
                raise Rejected(f"unknown sender {sender!r}: only the API and apps' own roles may publish")
            if claimed_by != producer:
                raise Rejected(
                    f"forged source: sender is {claimed_by}'s role, the event claims {envelope.source}"
                )
        problem = publish_problem(self._specs, producer, envelope.type)
        if problem is not None:
            raise Rejected(problem, producer)
        return envelope

    def _reject(self, record: SQSRecord, sender: str, reason: str) -> None:
        detail = {"body": record.body[:8000], "sender": sender}
        audit.write(self.deps.db, kind="messaging.rejected", app=None, subject=record.message_id, reason=reason,
              detail=detail, dedupe=f"messaging.rejected:{record.message_id}")  # fmt: skip
        logger.warning("event rejected", extra={"reason": reason, "message_id": record.message_id})

    def flush(self) -> None:
        for app, staged in self._pending.items():
            try:
                delivered = deliver(self.deps.db, app, [envelope for envelope, _ in staged])
            except Exception:
                logger.exception("inbox delivery failed; its records will be retried", extra={"app": app})
                self.fail({id(raw): raw for _, raw in staged}.values())
                continue
            if delivered:
                count(DELIVERIES, app, value=delivered)
                if self.deps.meter is not None:
                    self.deps.meter.add(app, EVENTS_DELIVERED, delivered)
        self._pending.clear()
