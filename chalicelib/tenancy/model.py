"""The core of the app model, as the manifest declares it: what every app has whatever features
the platform runs (slug, name, enrollment, roles, description), plus its sections by name
(`chalicelib.tenancy.sections`). Nothing here names a feature."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, Literal, TypeVar

from chalicelib.tenancy.errors import TenancyError, UnknownAppError
from chalicelib.tenancy.sections import Sections
from chalicelib.tenancy.slugs import validate_slug
from chalicelib.tenancy.toml_reader import ManifestIssue

MANIFEST_FILENAME = "integreat.toml"
#: Names the manifest file when `load_manifest` is given no path.
MANIFEST_ENV = "INTEGREAT_MANIFEST"

Enrollment = Literal["open", "invite"]
ENROLLMENTS: tuple[Enrollment, ...] = ("open", "invite")
#: Deny by default: nobody joins an app on their own unless the app says "open".
DEFAULT_ENROLLMENT: Enrollment = "invite"
#: Every app has this baseline role; it is what a newly enrolled user gets.
BASE_ROLE = "member"

#: Roles become Cognito group names `<slug>-<role>` and token claim values: keep them plain.
ROLE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,30}")
#: xx-xxxx-N, also covering partitions such as us-gov-west-1.
REGION_PATTERN = re.compile(r"[a-z]{2}(?:-[a-z]+){1,2}-[0-9]{1,2}")
#: The platform name prefixes AWS resource names, and S3 bucket names allow only lowercase.
PLATFORM_NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
MAX_APP_NAME = 80
MAX_DESCRIPTION = 1000

_NO_SECTIONS = Sections()


@dataclass(frozen=True)
class AppSpec:
    """One app (tenant), as declared by `[apps.<slug>]`: the core, and its sections by name
    (read one with its section: `STORAGE.of(app)`; `chalicelib.apps.manifest.AppSpec` adds attributes)."""

    slug: str
    name: str
    enrollment: Enrollment
    roles: tuple[str, ...]
    description: str = ""
    sections: Sections = _NO_SECTIONS

    def __post_init__(self) -> None:
        # Defence in depth: an AppSpec built by hand cannot carry a slug the parser would refuse.
        validate_slug(self.slug)


@dataclass(frozen=True)
class PlatformSpec:
    """The `[platform]` table: what the deployment is called and where it runs."""

    name: str
    region: str


A = TypeVar("A", bound=AppSpec)


@dataclass(frozen=True)
class Manifest(Generic[A]):
    """A validated manifest of apps of type `A`. Build it with `parse_manifest` or `load_manifest`."""

    platform: PlatformSpec
    apps: tuple[A, ...]
    source: str
    #: The platform's own sections (`[integrations]`), by name.
    sections: Sections = _NO_SECTIONS
    # Lookup by slug costs the same with 3 apps or 1,000 (a figure the design holds us to).
    _by_slug: Mapping[str, A] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_slug = {app.slug: app for app in self.apps}
        if len(by_slug) != len(self.apps):
            raise ValueError(f"{self.source}: app slugs must be unique")
        object.__setattr__(self, "_by_slug", MappingProxyType(by_slug))

    def app(self, slug: str) -> A:
        """The app declared as `slug`; raises UnknownAppError if there is none."""
        try:
            return self._by_slug[slug]
        except KeyError:
            raise UnknownAppError(slug, f"is not declared in {self.source}") from None

    @property
    def slugs(self) -> tuple[str, ...]:
        """Every app's slug, in file order."""
        return tuple(app.slug for app in self.apps)


class ManifestError(TenancyError):
    """The manifest could not be read or breaks rules; `issues` lists every problem found."""

    def __init__(self, source: str, issues: Iterable[ManifestIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        super().__init__("\n".join(f"{source}: {issue.key}: {issue.message}" for issue in self.issues))
