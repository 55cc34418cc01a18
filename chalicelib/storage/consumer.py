"""The storage-events consumer: S3 notifications (via SQS) -> the app's file index, or quarantine.

One function per record (Powertools BatchProcessor) decides each event with the one decision
function (`chalicelib.storage.rules`); accepted rows are staged and written with one batched
statement per app when the batch ends, and a failed write fails exactly the records whose rows
it carried (partial batch response; SQS retries them, soon when the failure was transient, then
the DLQ). Rejected uploads are moved
to `_quarantine/<key>` of the bucket it was written to (copy, then delete; idempotent) and
audited once.

Placement (issue 16): an app's objects live in the shared bucket or in a bucket of its own
(chalicelib/storage/placement.py, read from the registry). An event is decided the same way from
either; a creation in a bucket that is not the app's placement is quarantined there, and a removal
from such a bucket leaves the app's index alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import audit
from chalicelib.batching import Retries, StagingBatchProcessor
from chalicelib.observability import QUARANTINES, count, logger
from chalicelib.storage.credentials import SUB
from chalicelib.storage.events import REMOVED, StorageEvent, StorageEventError, parse_body
from chalicelib.storage.index import FileRow, write_rows
from chalicelib.storage.objects import ObjectHead, ObjectStore
from chalicelib.storage.placement import PlacementError, app_bucket
from chalicelib.storage.rules import QUARANTINE_PREFIX, Actor, Verdict, judge_write, key_problem, locate
from chalicelib.storage.section import STORAGE
from chalicelib.storage.spec import StorageSpec
from chalicelib.tenancy.database import Database
from chalicelib.tenancy.registry import ACTIVE, AppRecord

ANY_TYPE = "*/*"
_ANY_ONLY = (ANY_TYPE,)  # a folder that accepts every type: no HEAD is needed to judge one
PLATFORM_SOURCE = "/platform/storage"
QUARANTINED_TYPE = "integreat.storage.quarantined"


class StorageDeps(NamedTuple):
    db: Database
    objects: ObjectStore
    api_role_id: str | None  # the API's role: its uploads carry metadata we pinned
    trust_metadata_without_principal: bool  # emulators only (moto sends no userIdentity)
    retries: Retries | None = None  # shortens the wait of records failed transiently (batching.py)


def process(event: dict[str, Any], deps: StorageDeps) -> dict[str, Any]:
    """Handle one SQS batch; returns the partial batch response (`batchItemFailures`)."""
    return IndexingProcessor(deps).run(event)


class _Snapshot(NamedTuple):
    """What events are decided against, derived from one registry snapshot and shared bucket."""

    storage: Mapping[str, StorageSpec]  # active apps' folders
    buckets: Mapping[str, str | None]  # app -> its bucket (None: unknown, uploads fail closed)
    role_apps: Mapping[str, str]  # an app's IAM role id -> the app
    roles: Mapping[str, tuple[str, ...]]  # app -> its roles


class _Writer(NamedTuple):
    """Who a principal is: trusted to name itself in the object's metadata (the API), or the
    actor its role makes it (None: nobody the platform knows)."""

    trusted: bool
    actor: Actor | None


_NOTHING = _Snapshot({}, {}, {}, {})
_last: tuple[Mapping[str, AppRecord], str, _Snapshot] | None = None


def _snapshot(apps: Mapping[str, AppRecord], shared: str) -> _Snapshot:
    """`apps` decoded once per registry snapshot rather than once per batch: the registry hands
    back the same mapping until it reloads, and a reload makes a new one."""
    global _last
    last = _last
    if last is not None and last[0] is apps and last[1] == shared:
        return last[2]
    active = [a for a in apps.values() if a.status == ACTIVE]
    storage = {a.slug: STORAGE.of(a) for a in active}
    made = _Snapshot(
        storage,
        {slug: _placement(shared, slug, spec) for slug, spec in storage.items()},
        {a.iam_role_id: a.slug for a in active if a.iam_role_id},
        {a.slug: a.roles for a in active},
    )
    _last = (apps, shared, made)
    return made


class IndexingProcessor(StagingBatchProcessor):
    def __init__(self, deps: StorageDeps) -> None:
        super().__init__(deps.retries)
        self.deps = deps
        self._pending: dict[str, list[tuple[FileRow, dict[str, Any]]]] = {}
        self._now = _NOTHING  # until `prepare`: not through `_snapshot`, whose one entry is the registry's
        # Per batch: where a directory lies (app, folder, owner) and who a principal is. A batch
        # is mostly one app's uploads into a few folders, so each is worked out once.
        self._places: dict[str, Verdict] = {}
        self._writers: dict[str | None, _Writer] = {}

    def prepare(self) -> None:
        self._pending.clear()
        self._places.clear()
        self._writers.clear()
        self._now = _snapshot(self.deps.db.registry.all(), self.deps.objects.bucket)

    def handle(self, record: SQSRecord) -> None:
        try:
            events = parse_body(record.body)
        except StorageEventError as exc:  # permanent: record it, acknowledge it, never retry
            audit.write(self.deps.db, kind="storage.malformed", app=None, subject=record.message_id, reason=str(exc),
                  detail={"body": record.body[:4000]}, dedupe=f"storage.malformed:{record.message_id}")  # fmt: skip
            return
        raw = record.raw_event
        for event in events:
            self._one(event, raw)

    def _one(self, event: StorageEvent, raw: dict[str, Any]) -> None:
        if event.key.startswith(QUARANTINE_PREFIX):
            return  # the platform's own folder: our moves land here and must not loop
        where = self._locate(event.key)
        misplaced = where.app is not None and self._now.buckets.get(where.app) != self._bucket(event)
        if event.action == REMOVED:
            # `where.app` is set only for a key that passed `key_problem` (`_locate`).
            if where.app is not None and not misplaced:
                self._stage(where.app, _row(event, None, None, deleted=True), raw)
            return
        if misplaced:
            placed = self._now.buckets.get(where.app or "") or "none (its placement is unknown)"
            self._quarantine(
                event, where.app, f"{where.app}'s files live in bucket {placed}, not {self._bucket(event)}"
            )
            return
        if not where.allowed or where.folder is None:
            self._quarantine(event, where.app, where.reason)
            return
        self._created(event, where, raw)

    def _bucket(self, event: StorageEvent) -> str:
        return event.bucket or self.deps.objects.bucket

    def _objects(self, event: StorageEvent) -> ObjectStore:
        """The store of the bucket the event comes from (the shared one, or an app's own)."""
        return self.deps.objects.in_bucket(self._bucket(event))

    def _locate(self, key: str) -> Verdict:
        """`locate`, with the folder match cached per directory (it depends on nothing else)."""
        problem = key_problem(key)
        if problem is not None:
            return Verdict(False, problem)
        directory = key.rpartition("/")[0]
        where = self._places.get(directory)
        if where is None:
            where = self._places[directory] = locate(key, self._now.storage)
        return where

    def _created(self, event: StorageEvent, where: Verdict, raw: dict[str, Any]) -> None:
        assert where.folder is not None
        head: ObjectHead | None = None
        writer = self._writer(event.principal)
        if writer.trusted or where.folder.content_types != _ANY_ONLY:
            head = self._objects(event).head(event.key)
            if head is None:
                return  # gone already (removed or quarantined by an earlier delivery): nothing to index
        actor = _metadata_actor(head) if writer.trusted else writer.actor
        content_type = head.content_type if head else None
        verdict = judge_write(where, size=event.size, content_type=content_type, actor=actor)
        if not verdict.allowed or verdict.app is None:
            self._quarantine(event, where.app, verdict.reason)
            return
        uploader = actor.user_id if actor and actor.user_id else event.principal
        self._stage(verdict.app, _row(event, content_type, uploader, deleted=False), raw)

    def _writer(self, principal: str | None) -> _Writer:
        """Who wrote, from the event's principal alone; worked out once per principal per batch."""
        writer = self._writers.get(principal)
        if writer is None:
            writer = self._writers[principal] = self._identify(principal)
        return writer

    def _identify(self, principal: str | None) -> _Writer:
        if principal is None:
            return _Writer(self.deps.trust_metadata_without_principal, None)
        role = _role_id(principal)
        if self.deps.api_role_id is not None and role == self.deps.api_role_id:
            return _Writer(True, None)
        app = self._now.role_apps.get(role)
        if app is None:
            return _Writer(False, None)
        user = _vended_user(principal, app)
        if user:
            # A session the API vended to this user (storage/credentials.py): its policy,
            # compiled from these very rules, let the write through only where the user may
            # write; the consumer attributes the file and still checks type, size, place.
            # Only the API's role may name a session `<sub>@<slug>` (the app role's trust).
            return _Writer(False, Actor(app=app, user_id=user, roles=self._now.roles[app]))
        # The app's own backend: the app at member level, never an owner or a role holder.
        return _Writer(False, Actor(app=app, user_id=None, roles=("member",)))

    def _quarantine(self, event: StorageEvent, app: str | None, reason: str) -> None:
        self._objects(event).move(event.key, QUARANTINE_PREFIX + event.key)
        detail = {
            "bucket": self._bucket(event),
            "event": event.name,
            "size": event.size,
            "principal": event.principal,
            "sequencer": event.sequencer,
        }
        audit.write(self.deps.db, kind="storage.quarantined", app=app, subject=event.key, reason=reason, detail=detail,
              dedupe=f"storage.quarantined:{event.key}:{event.sequencer}")  # fmt: skip
        logger.warning("upload quarantined", extra={"app": app, "key": event.key, "reason": reason})
        count(QUARANTINES, app)
        if app is not None:
            self._tell(app, event, reason)

    def _tell(self, app: str, event: StorageEvent, reason: str) -> None:
        """The app learns of it in its inbox, once (the id is derived from the key and sequencer)."""
        from chalicelib.messaging.envelope import Envelope
        from chalicelib.messaging.inbox import deliver

        digest = hashlib.sha256(f"{event.key}\0{event.sequencer}".encode()).hexdigest()[:32]
        notice = Envelope(
            id=f"quarantine-{digest}",
            source=PLATFORM_SOURCE,
            type=QUARANTINED_TYPE,
            time=event.time,
            subject=event.key,
            data={"key": event.key, "quarantined_as": QUARANTINE_PREFIX + event.key, "reason": reason},
        )
        deliver(self.deps.db, app, [notice])

    def _stage(self, app: str, row: FileRow, raw: dict[str, Any]) -> None:
        staged = self._pending.get(app)  # not setdefault: that allocates a list per record
        if staged is None:
            staged = self._pending[app] = []
        staged.append((row, raw))

    def flush(self) -> None:
        for app, staged in self._pending.items():
            try:
                write_rows(self.deps.db, app, [row for row, _ in staged])
            except Exception:
                logger.exception("index write failed; its records will be retried", extra={"app": app})
                self.fail({id(raw): raw for _, raw in staged}.values())
        self._pending.clear()


def _placement(shared: str, slug: str, spec: StorageSpec) -> str | None:
    """The app's bucket; None if its placement cannot be worked out (every upload then fails closed)."""
    try:
        return app_bucket(shared, slug, spec)
    except PlacementError:
        logger.exception("storage placement unknown; the app's uploads are quarantined", extra={"app": slug})
        return None


def _metadata_actor(head: ObjectHead | None) -> Actor | None:
    """Who uploaded through the API: the metadata its presigned policy pinned."""
    if head is None:
        return None
    meta = head.metadata
    return Actor(app=meta.get("app"), user_id=meta.get("uploader"), roles=tuple(meta.get("roles", "").split()),
                 is_admin=meta.get("admin") == "true")  # fmt: skip


def _row(event: StorageEvent, content_type: str | None, uploader: str | None, *, deleted: bool) -> FileRow:
    return FileRow(
        event.key, event.size, event.etag, content_type, uploader, event.sequencer, event.time, deleted
    )


def _vended_user(principal: str, app: str) -> str | None:
    """The user of a session named `<sub>@<slug>` of `app`'s role (the slug may be cut to fit
    STS's 64 characters), else None. S3 names a role session `AWS:<role id>:<session name>`."""
    session = principal.split(":", 2)[2] if principal.count(":") >= 2 else ""
    user, at, slug = session.partition("@")
    return user if at and slug and app.startswith(slug) and SUB.fullmatch(user) else None


def _role_id(principal: str) -> str:
    """'AWS:AROAXXXX:session' -> 'AROAXXXX' (the unique id IAM gives a role)."""
    parts = principal.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] == "AWS" else principal
