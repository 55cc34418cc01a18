"""The integrations the proxy may call, read from `integreat.integrations` and kept for a while.

Like the app registry (the same `chalicelib.ttl.TtlCache`): answered from memory while fresh
(`ttl_seconds`), reloaded when stale, and an unknown name reloads early at most once a second (a just-synced integration works at
once; a flood of unknown names costs one query a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from chalicelib.integrations.model import IntegrationSpec, from_json
from chalicelib.ttl import TtlCache

Loader = Callable[[], Mapping[str, IntegrationSpec]]


class Catalog:
    def __init__(
        self, loader: Loader, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self._specs: TtlCache[Mapping[str, IntegrationSpec]] = TtlCache(
            loader, {}, ttl=ttl_seconds, min_reload=1.0, clock=clock
        )

    def get(self, name: str) -> IntegrationSpec | None:
        spec = self._specs.get().get(name)
        return spec if spec is not None else self._specs.reload().get(name)


def database_loader(platform: Callable[[str], list[tuple[object, ...]]]) -> Loader:
    """A loader over `Database.platform` (the runtime has SELECT on the table, nothing more)."""
    return lambda: {
        str(row[0]): from_json(row[1]) for row in platform("SELECT name, spec FROM integreat.integrations")
    }
