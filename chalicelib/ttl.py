"""One TTL cache for everything the runtime keeps a copy of: the app registry, the pool's JWKS,
the integrations catalog. Standard library only: it sits on every request's path.

    cache = TtlCache(load, {}, ttl=30.0, min_reload=1.0)
    apps = cache.get()          # the copy while fresh; otherwise reloaded
    apps = cache.reload()       # a miss: reload early, at most once per `min_reload`

Each user sets the shape of its staleness:
- `ttl`: how long a copy is trusted (the JWKS: forever; keys change only with an unknown kid).
- `min_reload`: early reloads (a miss) at most once per this, so made-up names cannot turn into a
  load per request. `throttle_failures`: a failed load counts too (the JWKS endpoint is not
  hammered while it is down); otherwise only a successful one does (the registry retries by
  `retry` instead, so a miss during an outage is an outage, not an unknown app).
- `transient`, `max_stale`, `retry`: when the load raises one of `transient`, the last good copy
  is served for up to `max_stale` past its TTL, the load retried at most once per `retry`, and
  `on_stale(age, error)` told once per failed attempt. A reload that was asked for (a miss)
  still fails, since the copy cannot answer it. Any other error leaves the copy as it was.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self,
        load: Callable[[], V],
        empty: V,
        *,
        ttl: float,
        min_reload: float = 1.0,
        throttle_failures: bool = False,
        transient: tuple[type[Exception], ...] = (),
        max_stale: float = 0.0,
        retry: float = 5.0,
        on_stale: Callable[[float, Exception], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self._ttl, self._min_reload = load, ttl, min_reload
        self._throttle_failures, self._transient = throttle_failures, transient
        self._max_age, self._retry, self._on_stale = ttl + max_stale, retry, on_stale
        self._clock = clock
        self.value = empty  # the copy; read it directly for no refresh at all
        self._loaded_at = -math.inf  # never loaded: how old the copy is (the stale bound)
        self._fresh_until = -math.inf  # the TTL; `invalidate` ends it but keeps the copy's age
        self._reload_after = -math.inf  # the early-reload rate limit
        self._failed_at = -math.inf  # the last load that failed transiently
        self._failure: Exception | None = None
        self._lock = threading.Lock()

    @property
    def fresh(self) -> bool:
        return self._clock() < self._fresh_until

    def get(self) -> V:
        """The copy while fresh; otherwise reloaded (or, through an outage, the last good copy)."""
        self._refresh(force=False)
        return self.value

    def reload(self) -> V:
        """Reload early for a miss, at most once per `min_reload`; fails through an outage."""
        self._refresh(force=True)
        return self.value

    def invalidate(self) -> None:
        with self._lock:
            # The copy stays the fallback: an admin view during an outage must not end it.
            self._fresh_until = self._reload_after = -math.inf

    def _refresh(self, *, force: bool) -> None:
        now = self._clock()
        with self._lock:
            if now < (self._reload_after if force else self._fresh_until):
                return
            if self._throttle_failures:
                self._reload_after = now + self._min_reload
            # With a copy to serve, a failing source is tried once per `retry`; without one, at
            # every lookup (no error longer than the outage).
            retry = self._too_old(now) or now - self._failed_at >= self._retry
            if retry and self._loaded(now):
                return
            self._fall_back(now, force=force)

    def _loaded(self, now: float) -> bool:
        """Load; False when it failed transiently (the copy is left as it was)."""
        try:
            value = self._load()
        except self._transient as exc:
            self._failed_at, self._failure = now, exc
            if not self._too_old(now) and self._on_stale is not None:
                self._on_stale(now - self._loaded_at, exc)  # once per attempt, not per request
            return False
        self.value, self._loaded_at = value, now
        self._fresh_until, self._reload_after = now + self._ttl, now + self._min_reload
        self._failed_at, self._failure = -math.inf, None
        return True

    def _fall_back(self, now: float, *, force: bool) -> None:
        """Serve the last good copy (return), or fail as the source did."""
        failure = self._failure
        if failure is not None and (force or self._too_old(now)):
            # A new exception per refusal, chained to the failure: re-raising one object would
            # grow its traceback with every request served through the outage.
            raise type(failure)(*failure.args) from failure

    def _too_old(self, now: float) -> bool:
        return now - self._loaded_at >= self._max_age
