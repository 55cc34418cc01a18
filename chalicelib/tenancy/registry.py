"""The app registry as runtime code sees it: a small TTL cache over `integreat.apps`.

The registry table is the source of truth (synced from the manifest by `integreat apps sync`),
so a new app is picked up within one TTL with no code redeploy. Lookups of unknown slugs reload
early, but at most once per `min_reload_seconds`, so garbage slugs cannot hammer the database.

Through a database outage the last good copy is served for up to `max_stale_seconds` past its
TTL (issue 14, item 8): routes that need no database (`/me`, publishing) keep working instead of
answering 503 once the TTL runs out. Only known, active apps are served that way; anything the
copy cannot answer (an unknown slug or client, a non-active app) is DatabaseUnavailableError,
since it may have changed since. Past the bound, every lookup is DatabaseUnavailableError again.
The cache itself is `chalicelib.ttl.TtlCache`; the SQL is `chalicelib.tenancy.store`.
"""

from __future__ import annotations

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
STATUSES = (PROVISIONING, ACTIVE, REMOVED)


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


Loader = Callable[[], Mapping[str, AppRecord]]


class _Index(NamedTuple):
    apps: Mapping[str, AppRecord]
    by_client: Mapping[str, AppRecord]
    by_role: Mapping[str, AppRecord]


def _index(apps: Mapping[str, AppRecord]) -> _Index:
    by_client = {client: app for app in apps.values() for client in app.clients}
    return _Index(apps, by_client, {app.iam_role_id: app for app in apps.values() if app.iam_role_id})


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
        # While the database is down, one reload attempt per `retry_seconds`: each may wait for
        # the connect timeout, and the requests in between are answered from the copy at once.
        self._cache = TtlCache(
            lambda: _index(dict(loader())),
            _index({}),
            ttl=ttl_seconds,
            min_reload=min_reload_seconds,
            transient=(DatabaseUnavailableError,),
            max_stale=max_stale_seconds,
            retry=retry_seconds,
            on_stale=_report_stale,
            clock=clock,
        )

    def get_active(self, slug: str) -> AppRecord:
        """The app's record if it is active; UnknownAppError / AppRemovedError otherwise."""
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
        if record.status != ACTIVE:
            raise UnknownAppError(slug, f"is not ready (status {record.status!r}); run `integreat apps sync`")
        return record

    def app_for_client(self, client_id: str) -> AppRecord | None:
        """The active app a Cognito app client belongs to, or None (unknown client: fail closed)."""
        return self._active_by(lambda index: index.by_client, client_id)

    def app_for_role(self, role_id: str) -> AppRecord | None:
        """The active app whose IAM role has unique id `role_id` (AROA...), or None (fail closed)."""
        return self._active_by(lambda index: index.by_role, role_id)

    def _active_by(self, by: Callable[[_Index], Mapping[str, AppRecord]], key: str) -> AppRecord | None:
        # An unknown key reloads early (at most once a second): a just-provisioned app works at once.
        record = by(self._cache.value).get(key)
        if record is None or not self._cache.fresh:
            index = self._cache.reload() if record is None else self._cache.get()
            record = by(index).get(key)
        return record if record is not None and record.status == ACTIVE else None

    def all(self) -> Mapping[str, AppRecord]:
        return self._cache.get().apps

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _lookup(self, slug: str) -> AppRecord | None:
        record = self._cache.get().apps.get(slug)
        if record is None or record.status != ACTIVE:
            # It may have been added or re-activated since the last load.
            record = self._cache.reload().apps.get(slug)
        return record


def _report_stale(age: float, exc: Exception) -> None:
    from chalicelib.observability import REGISTRY_STALE, count, logger  # lazy: only an outage reaches this

    logger.warning(
        "registry unavailable; serving its last good copy",
        extra={"age_seconds": round(age, 1), "error": str(exc)},
    )
    count(REGISTRY_STALE, None)
