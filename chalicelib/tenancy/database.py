"""The database with its app registry: the tenant switch (`chalicelib.db.tenant`) gated by the
registry, which it loads (and refreshes by what changed) through its own connections
(`chalicelib.tenancy.store`).

Which sections the registry decodes is the caller's choice: `chalicelib.apps.Database` passes
the platform's; with none, records carry the core alone and every section reads as its default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.db.tenant import CellUrl
from chalicelib.db.tenant import Database as SwitchingDatabase
from chalicelib.tenancy.errors import AppMovingError
from chalicelib.tenancy.registry import MOVING, Registry
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
        cell_url: CellUrl | None = None,
    ) -> None:
        self.registry = registry or Registry(
            source(self.platform, sections),
            ttl_seconds=registry_ttl_seconds,
            max_stale_seconds=registry_max_stale_seconds,
        )
        super().__init__(
            dsn, gate=self._gate_app, pool_size=pool_size, connect_timeout=connect_timeout, cell_url=cell_url
        )

    def _gate_app(self, slug: str, writing: bool) -> str | None:
        """The app's cell if it may be served; a moving app's writes are refused (issue 16)."""
        record = self.registry.get_active(slug)
        if writing and record.status == MOVING:
            raise AppMovingError(slug)
        return record.cell
