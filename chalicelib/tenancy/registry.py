"""The app registry as runtime code sees it: a small TTL cache over `integreat.apps`.

The registry table is the source of truth (synced from the manifest by `integreat apps sync`),
so a new app is picked up within one TTL with no code redeploy. Lookups of unknown slugs reload
early, but at most once per `min_reload_seconds`, so garbage slugs cannot hammer the database.

A refresh costs what changed, not what exists (issue 16): the copy keeps a `Mark` of where the
table stood at its read, and a refresh asks the source only for the apps changed since, merged
into the copy's indexes. A full load happens first, every `full_reload_seconds` as a safety net,
and whenever the answer is in doubt: versions or transaction ids going backwards (a restore), or
a row count the merge cannot explain (a row deleted outright, which no refresh would report).

Through a database outage the last good copy is served for up to `max_stale_seconds` past its
TTL (issue 14, item 8): routes that need no database (`/me`, publishing) keep working instead of
answering 503 once the TTL runs out. Only known, active apps are served that way; anything the
copy cannot answer (an unknown slug or client, a non-active app) is DatabaseUnavailableError,
since it may have changed since. Past the bound, every lookup is DatabaseUnavailableError again.
The cache itself is `chalicelib.ttl.TtlCache`; the SQL is `chalicelib.tenancy.store`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.tenancy.errors import AppRemovedError, UnknownAppError
from chalicelib.tenancy.sections import Sections
from chalicelib.tenancy.slugs import validate_slug
from chalicelib.ttl import TtlCache

ACTIVE = "active"
PROVISIONING = "provisioning"
REMOVED = "removed"
#: Being copied to another cell (issue 16): served, reads from the source cell, writes refused.
MOVING = "moving"
STATUSES = (PROVISIONING, ACTIVE, MOVING, REMOVED)
#: The statuses the runtime serves.
SERVED = frozenset({ACTIVE, MOVING})


class AppRecord(NamedTuple):
    """One app as the registry holds it: the core, and its sections (`STORAGE.of(record)`)."""

    slug: str
    status: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    enrollment: str = "invite"
    roles: tuple[str, ...] = ("member",)
    iam_role_arn: str | None = None
    clients: tuple[str, ...] = ()  # Cognito app client ids that belong to this app
    iam_role_id: str | None = None  # IAM's unique id of the app role (how S3 and SQS name it)
    sections: Sections = Sections()  # each feature's part, from the manifest via provisioning
    cell: str | None = None  # the database holding its schema and roles; None: the home cell


class Mark(NamedTuple):
    """Where the registry table stood at one read (platform migration 0010)."""

    snapshot: str  # the read's snapshot: the next refresh asks for the changes it could not see
    xmax: int  # that snapshot's transaction horizon, which only a restore moves backwards
    version: int  # the table's highest version, likewise
    rows: int  # the table's rows: fewer than a merge would hold means one was deleted outright


class Batch(NamedTuple):
    """One read: every app (a full load) or the apps changed since the mark it was asked for."""

    apps: Mapping[str, AppRecord]
    mark: Mark | None  # None: the source keeps no watermark, so every refresh loads in full


class Source(NamedTuple):
    """Where the registry loads from: `full()` every app, `since(mark)` the changes only."""

    full: Callable[[], Batch]
    since: Callable[[Mark], Batch] | None = None


#: Every app, each time: a source with no watermark (tests, and callers with a fixed set).
Loader = Callable[[], Mapping[str, AppRecord]]


class Index(NamedTuple):
    """The registry's copy: every app, looked up by slug, Cognito client and IAM role id."""

    apps: Mapping[str, AppRecord]
    by_client: Mapping[str, AppRecord]
    by_role: Mapping[str, AppRecord]
    mark: Mark | None = None  # where the table stood when the copy was read
    full_at: float = -math.inf  # when it was last loaded in full (the registry's clock)


def indexed(apps: Mapping[str, AppRecord], mark: Mark | None = None, full_at: float = -math.inf) -> Index:
    by_client = {client: app for app in apps.values() for client in app.clients}
    by_role = {app.iam_role_id: app for app in apps.values() if app.iam_role_id}
    return Index(apps, by_client, by_role, mark, full_at)


def doubt(held: Index, batch: Batch) -> str | None:
    """Why `batch` must not be merged into `held` (the registry then loads in full), or None."""
    old, new = held.mark, batch.mark
    if old is None or new is None:
        return "no watermark to refresh from"
    if new.version < old.version:
        return f"the highest version went backwards ({old.version} -> {new.version}): a restore?"
    if new.xmax < old.xmax:
        return f"transaction ids went backwards ({old.xmax} -> {new.xmax}): a restore?"
    added = sum(1 for slug in batch.apps if slug not in held.apps)
    if len(held.apps) + added != new.rows:
        return f"the table holds {new.rows} rows, the merge {len(held.apps) + added}: a row deleted?"
    return None


def merge(held: Index, batch: Batch) -> Index:
    """`held` with the changed apps of `batch` in place of their old records, as a new copy.

    Copying the three dicts runs at C speed; the Python work is per changed app only.
    """
    if not batch.apps:
        return held._replace(mark=batch.mark)
    apps, by_client, by_role = dict(held.apps), dict(held.by_client), dict(held.by_role)
    for slug in batch.apps:
        old = apps.get(slug)
        if old is not None:
            _unlink(old, by_client, by_role)
    for slug, new in batch.apps.items():  # a second pass: a client may move between two changed apps
        apps[slug] = new
        by_client.update(dict.fromkeys(new.clients, new))
        if new.iam_role_id:
            by_role[new.iam_role_id] = new
    return Index(apps, by_client, by_role, batch.mark, held.full_at)


def _unlink(old: AppRecord, by_client: dict[str, AppRecord], by_role: dict[str, AppRecord]) -> None:
    for client in old.clients:
        if by_client.get(client) is old:
            del by_client[client]
    if old.iam_role_id and by_role.get(old.iam_role_id) is old:
        del by_role[old.iam_role_id]


def _full_only(loader: Loader) -> Source:
    return Source(lambda: Batch(dict(loader()), None))


class Registry:
    """`get_active(slug)` answers from memory while fresh; otherwise refreshes through `source`
    (a plain `Loader` works too: it is loaded in full at every refresh)."""

    def __init__(
        self,
        source: Source | Loader,
        *,
        ttl_seconds: float = 30.0,
        min_reload_seconds: float = 1.0,
        max_stale_seconds: float = 300.0,
        retry_seconds: float = 5.0,
        full_reload_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source if isinstance(source, Source) else _full_only(source)
        self._full_every, self._clock = full_reload_seconds, clock
        # While the database is down, one reload attempt per `retry_seconds`: each may wait for
        # the connect timeout, and the requests in between are answered from the copy at once.
        self._cache = TtlCache(
            self._refreshed,
            indexed({}),
            ttl=ttl_seconds,
            min_reload=min_reload_seconds,
            transient=(DatabaseUnavailableError,),
            max_stale=max_stale_seconds,
            retry=retry_seconds,
            on_stale=_report_stale,
            clock=clock,
        )

    def get_active(self, slug: str) -> AppRecord:
        """The app's record if it is served (active, or moving between cells: the tenant gate
        refuses a moving app's writes); UnknownAppError / AppRemovedError otherwise."""
        # Hot path, no lock and no regex: only a validated slug can be a key of the fresh cache.
        record = self._cache.value.apps.get(slug)
        if record is not None and record.status == ACTIVE and self._cache.fresh:
            return record
        validate_slug(slug)
        record = self._lookup(slug)
        if record is None:
            raise UnknownAppError(slug)
        if record.status == REMOVED:
            raise AppRemovedError(slug)
        if record.status not in SERVED:
            raise UnknownAppError(slug, f"is not ready (status {record.status!r}); run `integreat apps sync`")
        return record

    def app_for_client(self, client_id: str) -> AppRecord | None:
        """The active app a Cognito app client belongs to, or None (unknown client: fail closed)."""
        return self._active_by(lambda index: index.by_client, client_id)

    def app_for_role(self, role_id: str) -> AppRecord | None:
        """The active app whose IAM role has unique id `role_id` (AROA...), or None (fail closed)."""
        return self._active_by(lambda index: index.by_role, role_id)

    def _active_by(self, by: Callable[[Index], Mapping[str, AppRecord]], key: str) -> AppRecord | None:
        # An unknown key reloads early (at most once a second): a just-provisioned app works at once.
        record = by(self._cache.value).get(key)
        if record is None or not self._cache.fresh:
            index = self._cache.reload() if record is None else self._cache.get()
            record = by(index).get(key)
        return record if record is not None and record.status in SERVED else None

    def all(self) -> Mapping[str, AppRecord]:
        return self._cache.get().apps

    def invalidate(self) -> None:
        """The next lookup refreshes (an incremental refresh sees every committed change)."""
        self._cache.invalidate()

    def _lookup(self, slug: str) -> AppRecord | None:
        record = self._cache.get().apps.get(slug)
        if record is None or record.status not in SERVED:
            # It may have been added or re-activated since the last load.
            record = self._cache.reload().apps.get(slug)
        return record

    def _refreshed(self) -> Index:
        """The copy brought up to date (called by the cache, under its lock)."""
        held, now = self._cache.value, self._clock()
        since = self._source.since
        if since is None or held.mark is None or now - held.full_at >= self._full_every:
            return self._loaded_in_full(now)
        batch = since(held.mark)
        reason = doubt(held, batch)
        if reason is not None:
            _report_doubt(reason)
            return self._loaded_in_full(now)
        return merge(held, batch)

    def _loaded_in_full(self, now: float) -> Index:
        batch = self._source.full()
        return indexed(batch.apps, batch.mark, now)


def _report_stale(age: float, exc: Exception) -> None:
    from chalicelib.observability import REGISTRY_STALE, count, logger  # lazy: only an outage reaches this

    logger.warning(
        "registry unavailable; serving its last good copy",
        extra={"age_seconds": round(age, 1), "error": str(exc)},
    )
    count(REGISTRY_STALE, None)


def _report_doubt(reason: str) -> None:
    from chalicelib.observability import logger  # lazy: a restore or a deleted row reaches this

    logger.warning("registry refresh in doubt; loading it in full", extra={"reason": reason})
