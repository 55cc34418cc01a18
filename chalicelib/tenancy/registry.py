"""The app registry as runtime code sees it: a small TTL cache over `integreat.apps`.

The registry table is the source of truth (synced from the manifest by `integreat apps sync`),
so a new app is picked up within one TTL with no code redeploy. Lookups of unknown slugs reload
early, but at most once per `min_reload_seconds`, so garbage slugs cannot hammer the database.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_seconds
        self._min_reload = min_reload_seconds
        self._clock = clock
        self._apps: Mapping[str, AppRecord] = {}
        self._by_client: Mapping[str, AppRecord] = {}
        self._by_role: Mapping[str, AppRecord] = {}
        self._loaded_at = -math.inf  # never loaded
        self._lock = threading.Lock()

    def get_active(self, slug: str) -> AppRecord:
        """The app's record if it is active; UnknownAppError / AppRemovedError otherwise."""
        # Hot path, no lock and no regex: only a validated slug can be a key of the fresh cache.
        record = self._apps.get(slug)
        if record is not None and record.status == ACTIVE and self._clock() - self._loaded_at < self._ttl:
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
        if record is None or self._clock() - self._loaded_at >= self._ttl:
            self._refresh(force=record is None)
            record = index().get(key)
        return record if record is not None and record.status == ACTIVE else None

    def all(self) -> Mapping[str, AppRecord]:
        self._refresh(force=False)
        return self._apps

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = -math.inf

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
            if now - self._loaded_at < (self._min_reload if force else self._ttl):
                return
            apps = dict(self._loader())
            self._by_client = {client: app for app in apps.values() for client in app.clients}
            self._by_role = {app.iam_role_id: app for app in apps.values() if app.iam_role_id}
            self._apps = apps
            self._loaded_at = now
