"""The app model as this platform runs it: the core (`chalicelib.tenancy`) plus one section per
feature. Adding a section is one line in `SECTIONS` (and, for attribute access on manifest apps,
one property in `chalicelib.apps.manifest`).

    STORAGE.of(record)                         # a section of a registry record, typed
    load_manifest().app("church").storage      # chalicelib.apps.manifest: the manifest, typed

This package is the one place that names every feature: the manifest parser and the registry in
`chalicelib.tenancy` take the lists below, and no feature imports this package. This module is on
every Lambda's cold-start path (the runtime's database), so it imports the sections alone: each
loads its parser and codec when first used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.cells.section import CELL, CELLS
from chalicelib.db.tenant import CellUrl
from chalicelib.frontends.console import CONSOLE
from chalicelib.frontends.section import FRONTEND
from chalicelib.integrations.section import INTEGRATIONS
from chalicelib.messaging.section import EVENTS
from chalicelib.settings import Settings
from chalicelib.sharing.section import DATASETS
from chalicelib.storage.section import STORAGE
from chalicelib.tenancy.database import Database as RegistryDatabase
from chalicelib.tenancy.registry import Registry
from chalicelib.tenancy.sections import AppSection, PlatformSection
from chalicelib.usage.section import LIMITS, PLATFORM_LIMITS

#: Every app's sections, in the order the manifest's messages and checks run.
SECTIONS: tuple[AppSection[Any], ...] = (STORAGE, EVENTS, DATASETS, FRONTEND, CELL, LIMITS)
#: The platform's own top-level sections.
PLATFORM_SECTIONS: tuple[PlatformSection[Any], ...] = (INTEGRATIONS, CELLS, PLATFORM_LIMITS, CONSOLE)


class Database(RegistryDatabase):
    """The database with a registry that decodes every section of this platform."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 1,
        connect_timeout: int = 5,
        registry_ttl_seconds: float = 30.0,
        registry_max_stale_seconds: float = 300.0,
        registry: Registry | None = None,
        sections: Sequence[AppSection[Any]] = SECTIONS,
        cell_url: CellUrl | None = None,
    ) -> None:
        super().__init__(
            dsn,
            sections=sections,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            registry_ttl_seconds=registry_ttl_seconds,
            registry_max_stale_seconds=registry_max_stale_seconds,
            registry=registry,
            cell_url=cell_url,
        )

    @classmethod
    def from_settings(cls, settings: Settings, dsn: str | None = None) -> Database:
        return cls(
            dsn or settings.require_runtime_database_url(),
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout,
            registry_ttl_seconds=settings.registry_ttl_seconds,
            registry_max_stale_seconds=settings.registry_max_stale_seconds,
            cell_url=settings.cell_runtime_url,
        )
