"""The database with its app registry: the tenant switch (`chalicelib.db.tenant`) gated by the
registry, which it loads (and refreshes by what changed) through its own connections
(`chalicelib.tenancy.store`).

Which sections the registry decodes is the caller's choice: `chalicelib.apps.Database` passes
the platform's; with none, records carry the core alone and every section reads as its default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.db.tenant import Database as SwitchingDatabase
from chalicelib.tenancy.registry import Registry
from chalicelib.tenancy.sections import AppSection
from chalicelib.tenancy.store import source


class Database(SwitchingDatabase):
    """Pooled connections plus the registry: the only way runtime code reaches Postgres."""

    def __init__(
        self,
        dsn: str,
        *,
        sections: Sequence[AppSection[Any]] = (),
        pool_size: int = 1,
        connect_timeout: int = 5,
        registry_ttl_seconds: float = 30.0,
        registry_max_stale_seconds: float = 300.0,
        registry: Registry | None = None,
    ) -> None:
        self.registry = registry or Registry(
            source(self.platform, sections),
            ttl_seconds=registry_ttl_seconds,
            max_stale_seconds=registry_max_stale_seconds,
        )
        super().__init__(
            dsn, gate=self.registry.get_active, pool_size=pool_size, connect_timeout=connect_timeout
        )
