"""The integrations the proxy may call, read from `integreat.integrations` and kept for a while.

Like the app registry: answered from memory while fresh (`ttl_seconds`), reloaded when stale,
and an unknown name reloads early at most once a second (a just-synced integration works at
once; a flood of unknown names costs one query a second).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from chalicelib.integrations.model import IntegrationSpec, from_json

Loader = Callable[[], Mapping[str, IntegrationSpec]]


class Catalog:
    def __init__(
        self, loader: Loader, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self._loader = loader
        self._ttl = ttl_seconds
        self._clock = clock
        self._specs: Mapping[str, IntegrationSpec] = {}
        self._loaded_at = -math.inf
        self._lock = threading.Lock()

    def get(self, name: str) -> IntegrationSpec | None:
        age = self._clock() - self._loaded_at
        spec = self._specs.get(name)
        if age >= self._ttl or (spec is None and age >= 1.0):
            with self._lock:
                self._specs, self._loaded_at = self._loader(), self._clock()
            spec = self._specs.get(name)
        return spec


def database_loader(platform: Callable[[str], list[tuple[object, ...]]]) -> Loader:
    """A loader over `Database.platform` (the runtime has SELECT on the table, nothing more)."""
    return lambda: {
        str(row[0]): from_json(row[1]) for row in platform("SELECT name, spec FROM integreat.integrations")
    }
