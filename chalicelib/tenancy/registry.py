"""The app registry as runtime code sees it: a small TTL cache over `integreat.apps`.

The registry table is the source of truth (synced from the manifest by `integreat apps sync`),
so a new app is picked up within one TTL with no code redeploy. Lookups of unknown slugs reload
early, but at most once per `min_reload_seconds`, so garbage slugs cannot hammer the database.

Through a database outage the last good copy is served for up to `max_stale_seconds` past its
TTL (issue 14, item 8): routes that need no database (`/me`, publishing) keep working instead of
answering 503 once the TTL runs out. Only known, active apps are served that way; anything the
copy cannot answer (an unknown slug or client, a non-active app) is DatabaseUnavailableError,
since it may have changed since. Past the bound, every lookup is DatabaseUnavailableError again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.messaging.model import EventsSpec
from chalicelib.storage.model import StorageSpec
from chalicelib.tenancy.errors import AppRemovedError, UnknownAppError
from chalicelib.tenancy.slugs import validate_slug

if TYPE_CHECKING:  # the runtime builds DatasetSpecs lazily (chalicelib.db.tenant): off the cold start
    from chalicelib.sharing.model import DatasetSpec

ACTIVE = "active"
PROVISIONING = "provisioning"
REMOVED = "removed"
STATUSES = (PROVISIONING, ACTIVE, REMOVED)


class AppRecord(NamedTuple):
    slug: str
    status: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    enrollment: str = "invite"
    roles: tuple[str, ...] = ("member",)
    iam_role_arn: str | None = None
    clients: tuple[str, ...] = ()  # Cognito app client ids that belong to this app
    storage: StorageSpec = StorageSpec()  # folder rules, from the manifest via provisioning
    iam_role_id: str | None = None  # IAM's unique id of the app role (how S3 and SQS name it)
    events: EventsSpec = EventsSpec()  # what it publishes and subscribes to, from the manifest
    datasets: tuple[DatasetSpec, ...] = ()  # views it shares, and with which apps


Loader = Callable[[], Mapping[str, AppRecord]]


class Registry:
    """`get_active(slug)` answers from memory while fresh; otherwise reloads through `loader`."""

    def __init__(
        self,
        loader: Loader,
        *,
        ttl_seconds: float = 30.0,
        min_reload_seconds: float = 1.0,
        max_stale_seconds: float = 300.0,
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_seconds
        self._min_reload = min_reload_seconds
        self._max_age = ttl_seconds + max_stale_seconds
        # While the database is down, one reload attempt per `retry_seconds`: each may wait for
        # the connect timeout, and the requests in between are answered from the copy at once.
        self._retry = retry_seconds
        self._clock = clock
        self._apps: Mapping[str, AppRecord] = {}
        self._by_client: Mapping[str, AppRecord] = {}
        self._by_role: Mapping[str, AppRecord] = {}
        self._loaded_at = -math.inf  # never loaded: how old the copy is (the stale bound)
        self._fresh_until = -math.inf  # the TTL; `invalidate` ends it but keeps the copy's age
        self._reload_after = -math.inf  # the early-reload rate limit
        self._failed_at = -math.inf  # the last reload that could not reach the database
        self._failure: DatabaseUnavailableError | None = None
        self._lock = threading.Lock()

    def get_active(self, slug: str) -> AppRecord:
        """The app's record if it is active; UnknownAppError / AppRemovedError otherwise."""
        # Hot path, no lock and no regex: only a validated slug can be a key of the fresh cache.
        record = self._apps.get(slug)
        if record is not None and record.status == ACTIVE and self._clock() < self._fresh_until:
            return record
        validate_slug(slug)
        record = self._lookup(slug)
        if record is None:
            raise UnknownAppError(slug)
        if record.status == REMOVED:
            raise AppRemovedError(slug)
        if record.status != ACTIVE:
            raise UnknownAppError(slug, f"is not ready (status {record.status!r}); run `integreat apps sync`")
        return record

    def app_for_client(self, client_id: str) -> AppRecord | None:
        """The active app a Cognito app client belongs to, or None (unknown client: fail closed)."""
        return self._active_by(lambda: self._by_client, client_id)

    def app_for_role(self, role_id: str) -> AppRecord | None:
        """The active app whose IAM role has unique id `role_id` (AROA...), or None (fail closed)."""
        return self._active_by(lambda: self._by_role, role_id)

    def _active_by(self, index: Callable[[], Mapping[str, AppRecord]], key: str) -> AppRecord | None:
        # An unknown key reloads early (at most once a second): a just-provisioned app works at once.
        record = index().get(key)
        if record is None or self._clock() >= self._fresh_until:
            self._refresh(force=record is None)
            record = index().get(key)
        return record if record is not None and record.status == ACTIVE else None

    def all(self) -> Mapping[str, AppRecord]:
        self._refresh(force=False)
        return self._apps

    def invalidate(self) -> None:
        with self._lock:
            # The copy stays the fallback: an admin view during an outage must not end it.
            self._fresh_until = self._reload_after = -math.inf

    def _lookup(self, slug: str) -> AppRecord | None:
        self._refresh(force=False)
        record = self._apps.get(slug)
        if record is None or record.status != ACTIVE:
            self._refresh(force=True)  # it may have been added or re-activated since the last load
            record = self._apps.get(slug)
        return record

    def _refresh(self, *, force: bool) -> None:
        now = self._clock()
        with self._lock:
            if now < (self._reload_after if force else self._fresh_until):
                return
            # With a copy to serve, a down database is tried once per `retry`; without one, at
            # every lookup, as before there was a fallback (no 503 longer than the outage).
            retry = self._too_old(now) or now - self._failed_at >= self._retry
            if retry and self._load(now):
                return
            self._fall_back(now, force=force)

    def _load(self, now: float) -> bool:
        """Reload; False when the database could not be reached (the copy is left as it was)."""
        try:
            apps = dict(self._loader())
        except DatabaseUnavailableError as exc:
            self._failed_at, self._failure = now, exc
            if not self._too_old(now):
                _report_stale(now - self._loaded_at, exc)  # once per attempt, not per request
            return False
        self._by_client = {client: app for app in apps.values() for client in app.clients}
        self._by_role = {app.iam_role_id: app for app in apps.values() if app.iam_role_id}
        self._apps = apps
        self._loaded_at = now
        self._fresh_until, self._reload_after = now + self._ttl, now + self._min_reload
        self._failed_at, self._failure = -math.inf, None
        return True

    def _fall_back(self, now: float, *, force: bool) -> None:
        """Serve the last good copy (return), or fail as the database did. A forced reload means
        the copy could not answer (a miss): it fails, so an unknown app stays refused."""
        if force or self._too_old(now):
            assert self._failure is not None
            raise DatabaseUnavailableError(str(self._failure)) from self._failure

    def _too_old(self, now: float) -> bool:
        return now - self._loaded_at >= self._max_age


def _report_stale(age: float, exc: DatabaseUnavailableError) -> None:
    from chalicelib.observability import REGISTRY_STALE, count, logger  # lazy: only an outage reaches this

    logger.warning(
        "registry unavailable; serving its last good copy",
        extra={"age_seconds": round(age, 1), "error": str(exc)},
    )
    count(REGISTRY_STALE, None)
