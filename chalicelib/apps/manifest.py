"""The manifest of this platform: the parser of `chalicelib.tenancy.declaration` bound to the
platform's sections (`chalicelib.apps.SECTIONS`), with each section as a typed attribute.

    manifest = load_manifest()                # every section parsed and checked
    manifest.app("church").storage.folders    # typed attribute access per section

Operator tooling and provisioning only: nothing on a Lambda's cold-start path imports it.
"""

from __future__ import annotations

import os
from typing import Any

from chalicelib.apps import PLATFORM_SECTIONS, SECTIONS
from chalicelib.cells.model import CellsSpec
from chalicelib.cells.section import CELL, CELLS
from chalicelib.frontends.console import CONSOLE, ConsoleSpec
from chalicelib.frontends.model import FrontendSpec
from chalicelib.frontends.section import FRONTEND
from chalicelib.integrations.model import IntegrationSpec
from chalicelib.integrations.section import INTEGRATIONS
from chalicelib.messaging.model import EventsSpec
from chalicelib.messaging.section import EVENTS
from chalicelib.sharing.model import DatasetSpec
from chalicelib.sharing.section import DATASETS
from chalicelib.storage.model import StorageSpec
from chalicelib.storage.section import STORAGE
from chalicelib.tenancy import model
from chalicelib.tenancy.declaration import FILE_KEY as FILE_KEY
from chalicelib.tenancy.declaration import SYNTAX_KEY as SYNTAX_KEY
from chalicelib.tenancy.declaration import Declaration, read_manifest
from chalicelib.tenancy.declaration import parse_manifest as _parse
from chalicelib.tenancy.model import BASE_ROLE as BASE_ROLE
from chalicelib.tenancy.model import MANIFEST_ENV as MANIFEST_ENV
from chalicelib.tenancy.model import MANIFEST_FILENAME as MANIFEST_FILENAME
from chalicelib.tenancy.model import ROLE_PATTERN as ROLE_PATTERN
from chalicelib.tenancy.model import Enrollment
from chalicelib.tenancy.model import ManifestError as ManifestError
from chalicelib.tenancy.model import PlatformSpec as PlatformSpec
from chalicelib.tenancy.sections import AppSection, Sections
from chalicelib.tenancy.toml_reader import ManifestIssue as ManifestIssue
from chalicelib.usage.model import LimitsSpec
from chalicelib.usage.section import LIMITS, PLATFORM_LIMITS


class AppSpec(model.AppSpec):
    """An app of the manifest with its sections as attributes. Built by the parser, or by hand:
    `AppSpec("church", "Church", "invite", ("member",), storage=StorageSpec(...))`."""

    def __init__(
        self,
        slug: str,
        name: str,
        enrollment: Enrollment,
        roles: tuple[str, ...],
        description: str = "",
        sections: Sections | None = None,
        *,
        storage: StorageSpec | None = None,
        events: EventsSpec | None = None,
        datasets: tuple[DatasetSpec, ...] | None = None,
        frontend: FrontendSpec | None = None,
        cell: str | None = None,
        limits: LimitsSpec | None = None,
    ) -> None:
        given: dict[AppSection[Any], object] = {
            STORAGE: storage, EVENTS: events, DATASETS: datasets, FRONTEND: frontend, CELL: cell,
            LIMITS: limits,
        }  # fmt: skip
        if sections is not None and any(value is not None for value in given.values()):
            raise TypeError("give `sections` or the sections by name, not both")
        if sections is None:
            sections = Sections((section, value) for section, value in given.items() if value is not None)
        super().__init__(slug, name, enrollment, roles, description, sections)

    @property
    def storage(self) -> StorageSpec:
        """Its folders under `<slug>/` and who may write and read them; none declared: no uploads."""
        return STORAGE.of(self)

    @property
    def events(self) -> EventsSpec:
        """What it publishes, to whom, and what it subscribes to; none declared: no events."""
        return EVENTS.of(self)

    @property
    def datasets(self) -> tuple[DatasetSpec, ...]:
        """Views it shares and the apps allowed to read each; none declared: nothing shared."""
        return DATASETS.of(self)

    @property
    def cell(self) -> str | None:
        """The cell it is pinned to (`[apps.<slug>] cell = "eu2"`); None: placed by the platform."""
        return CELL.of(self) or None

    @property
    def limits(self) -> LimitsSpec:
        """Its limits as they apply: its own, else `[platform.limits]` (None: the built-in)."""
        return LIMITS.of(self)

    @property
    def frontend(self) -> FrontendSpec:
        """Its browser origins and hosting; none declared: no browser may call it, nothing hosted."""
        return FRONTEND.of(self)


class Manifest(model.Manifest[AppSpec]):
    """A validated manifest of this platform's apps, with its integrations."""

    @property
    def integrations(self) -> tuple[IntegrationSpec, ...]:
        return INTEGRATIONS.of(self)

    @property
    def console(self) -> ConsoleSpec:
        """The admin console's browser origins (`[console]`); none declared: no browser origin."""
        return CONSOLE.of(self)

    @property
    def cells(self) -> CellsSpec:
        """The `[cells.<name>]` tables; none declared: one implicit home cell."""
        return CELLS.of(self) or CellsSpec()


DECLARATION = Declaration(AppSpec, SECTIONS, PLATFORM_SECTIONS)


def parse_manifest(text: str, source: str = "<string>") -> Manifest:
    """Parse and validate manifest text; raise ManifestError listing every problem.

    >>> parse_manifest('[platform]\\nname = "integreat"\\nregion = "eu-west-1"\\n').apps
    ()
    """
    return _typed(_parse(text, source, DECLARATION))


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """Read and validate the manifest at `path`, else $INTEGREAT_MANIFEST, else ./integreat.toml."""
    return _typed(read_manifest(path, DECLARATION))


def _typed(found: model.Manifest[AppSpec]) -> Manifest:
    defaults = PLATFORM_LIMITS.of(found)
    apps = tuple(_with_limits(app, defaults) for app in found.apps)
    return Manifest(found.platform, apps, found.source, found.sections)


def _with_limits(app: AppSpec, defaults: LimitsSpec) -> AppSpec:
    """`app` with `[platform.limits]` filling the limits it does not declare: the registry then
    holds each app's limits as they apply, and a changed default re-syncs the apps it changes."""
    merged = app.limits.over(defaults)
    return app if merged == app.limits else with_section(app, LIMITS, merged)


def with_section(app: AppSpec, section: AppSection[Any], value: object) -> AppSpec:
    """`app` with `section` set to `value`, its other sections as they are."""
    by_key = {s.key: s for s in SECTIONS}
    pairs = [(by_key[key], v) for key, v in app.sections.items() if key != section.key]
    sections = Sections([*pairs, (section, value)])
    return AppSpec(app.slug, app.name, app.enrollment, app.roles, app.description, sections)
