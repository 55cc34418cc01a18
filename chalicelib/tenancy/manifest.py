"""The manifest, `integreat.toml`: the one declaration of the platform and its apps.

Every layer (identity, storage, database, API, messaging, provisioning) takes its apps from here,
so `parse_manifest` is the gate: a slug, role or name that breaks a rule below never leaves this
module. Validation collects every problem in one pass and reports each with the file, the dotted
key, what is wrong and what is allowed, so an operator fixes a manifest in one round.

Each section has its own small parser, reading through `toml_reader.Table`; a section owned by
another concern lives with it (`[apps.<slug>.storage]`: `chalicelib.storage.spec`,
`[apps.<slug>.events]`: `chalicelib.messaging.spec`). A new section (datasets, integrations) adds
one parser, one dataclass field and one entry in its parent's allowed keys; unknown keys are
rejected, so a typo never passes silently. Rules between apps run once every app is parsed.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from chalicelib.integrations.model import IntegrationSpec
from chalicelib.integrations.spec import parse_integrations
from chalicelib.messaging.spec import EventsSpec, check_event_links, parse_events
from chalicelib.sharing.model import DatasetSpec
from chalicelib.sharing.spec import check_dataset_readers, parse_datasets
from chalicelib.storage.spec import StorageSpec, parse_storage
from chalicelib.tenancy.errors import TenancyError, UnknownAppError
from chalicelib.tenancy.slugs import slug_problem, validate_slug
from chalicelib.tenancy.toml_reader import ManifestIssue as ManifestIssue  # re-exported: part of this API
from chalicelib.tenancy.toml_reader import Table, choices, describe, dotted_key, show

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

#: Issue keys for problems of the whole file rather than of one key.
SYNTAX_KEY = "<toml>"
FILE_KEY = "<file>"

_TOP_KEYS = ("platform", "apps", "integrations", "stages")  # stages: integreat/infra/stages.py
_PLATFORM_KEYS = ("name", "region")
_APP_KEYS = ("name", "enrollment", "roles", "description", "storage", "events", "datasets")

# Bidi overrides and isolates make text display out of order (Trojan Source, CVE-2021-42574);
# display names end up in consoles and e-mails, so they are refused along with C0/C1 controls.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_NO_STORAGE = StorageSpec()  # NamedTuples: immutable, so one shared default is safe
_NO_EVENTS = EventsSpec()
# tomllib's own wording; if a Python release changes it, the generic message below still applies.
_DUPLICATE_APP = re.compile(r"Cannot declare \('apps', '([a-z0-9_]+)'\) twice (\(at line \d+, column \d+\))")


@dataclass(frozen=True)
class AppSpec:
    """One app (tenant), as declared by `[apps.<slug>]`."""

    slug: str
    name: str
    enrollment: Enrollment
    roles: tuple[str, ...]
    description: str = ""
    #: Its folders under `<slug>/` and who may write and read them; none declared: no uploads.
    storage: StorageSpec = _NO_STORAGE
    #: What it publishes, to whom, and what it subscribes to; none declared: no events either way.
    events: EventsSpec = _NO_EVENTS
    #: Views it shares and the apps allowed to read each; none declared: nothing shared.
    datasets: tuple[DatasetSpec, ...] = ()

    def __post_init__(self) -> None:
        # Defence in depth: an AppSpec built by hand cannot carry a slug the parser would refuse.
        validate_slug(self.slug)


@dataclass(frozen=True)
class PlatformSpec:
    """The `[platform]` table: what the deployment is called and where it runs."""

    name: str
    region: str


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. Build it with `parse_manifest` or `load_manifest`."""

    platform: PlatformSpec
    apps: tuple[AppSpec, ...]
    source: str
    integrations: tuple[IntegrationSpec, ...] = ()
    # Lookup by slug costs the same with 3 apps or 1,000 (a figure DESIGN.md holds us to).
    _by_slug: Mapping[str, AppSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_slug = {app.slug: app for app in self.apps}
        if len(by_slug) != len(self.apps):
            raise ValueError(f"{self.source}: app slugs must be unique")
        object.__setattr__(self, "_by_slug", MappingProxyType(by_slug))

    def app(self, slug: str) -> AppSpec:
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


def parse_manifest(text: str, source: str = "<string>") -> Manifest:
    """Parse and validate manifest text; raise ManifestError listing every problem.

    >>> parse_manifest('[platform]\\nname = "integreat"\\nregion = "eu-west-1"\\n').apps
    ()
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(source, [_syntax_issue(str(exc))]) from exc
    issues: list[ManifestIssue] = []
    Table(doc, (), issues).check_keys(_TOP_KEYS)
    platform = _parse_platform(Table(doc, (), issues))
    apps = _parse_apps(Table(doc, (), issues))
    integrations = parse_integrations(Table(doc, (), issues), {app.slug for app in apps})
    if platform is None or issues:
        raise ManifestError(source, issues)
    return Manifest(platform, apps, source, integrations)


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """Read and validate the manifest at `path`, else $INTEGREAT_MANIFEST, else ./integreat.toml."""
    chosen, origin = _manifest_path(path)
    where = f"{str(chosen.absolute())!r} ({origin})"
    try:
        text = chosen.read_bytes().decode("utf-8")
    except FileNotFoundError:
        message = f"no manifest at {where}; create it, or set {MANIFEST_ENV} to the manifest's path"
        raise ManifestError(str(chosen), [ManifestIssue(FILE_KEY, message)]) from None
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, not UTF-8
        raise ManifestError(str(chosen), [ManifestIssue(FILE_KEY, f"cannot read {where}: {exc}")]) from exc
    return parse_manifest(text, str(chosen))


def _manifest_path(path: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """Which file to read, and a phrase saying where that choice came from."""
    if path is not None:
        return Path(path), "the path given to load_manifest"
    from_env = os.environ.get(MANIFEST_ENV)
    if from_env:
        return Path(from_env), f"from {MANIFEST_ENV}"
    return Path(MANIFEST_FILENAME), f"the default ./{MANIFEST_FILENAME}; {MANIFEST_ENV} is not set"


def _syntax_issue(text: str) -> ManifestIssue:
    """Turn tomllib's message into an issue, keeping its line and column."""
    text = " ".join(text.splitlines())  # one line per issue, whatever the parser said
    match = _DUPLICATE_APP.fullmatch(text)
    if match:
        message = f"duplicate app {match[1]!r}: [apps.{match[1]}] is declared twice {match[2]}"
        return ManifestIssue(f"apps.{match[1]}", f"{message}; declare each app once")
    if "twice" in text or "overwrite" in text:
        text += " (a duplicate key or table: each may be declared once)"
    return ManifestIssue(SYNTAX_KEY, f"invalid TOML: {text}")


def _parse_platform(doc: Table) -> PlatformSpec | None:
    table = doc.table("platform", f"a [platform] table with keys {choices(_PLATFORM_KEYS)}")
    if table is None:
        return None
    table.check_keys(_PLATFORM_KEYS)
    name = table.matching("name", PLATFORM_NAME_PATTERN, "a lowercase name such as 'integreat'")
    region = table.matching("region", REGION_PATTERN, "an AWS region such as 'eu-west-1'")
    return None if name is None or region is None else PlatformSpec(name, region)


def _parse_apps(doc: Table) -> tuple[AppSpec, ...]:
    # A platform with no apps yet is valid: `[apps]` may be absent or empty.
    table = doc.table("apps", "a table of apps keyed by slug, written [apps.<slug>]", default={})
    if table is None:
        return ()
    events: dict[str, EventsSpec | None] = {}
    datasets: dict[str, tuple[DatasetSpec, ...] | None] = {}
    apps = [_parse_app(table, slug, events, datasets) for slug in table.values]
    check_event_links(table, events)
    check_dataset_readers(table, datasets)
    return tuple(app for app in apps if app is not None)


def _parse_app(
    apps: Table,
    slug: str,
    events: dict[str, EventsSpec | None],
    datasets: dict[str, tuple[DatasetSpec, ...] | None],
) -> AppSpec | None:
    """One app; its events and datasets also go into `events` and `datasets`, even when the app
    is invalid, for the checks between apps."""
    problem = slug_problem(slug)
    if problem is not None:
        apps.report(slug, f"invalid app slug: {problem}")
    table = apps.table(slug, f"a table, written [{dotted_key(*apps.where, slug)}]")
    if table is None:
        return None
    table.check_keys(_APP_KEYS)
    name = _parse_app_name(table)
    enrollment = _parse_enrollment(table)
    roles = _parse_roles(table)
    description = _parse_description(table)
    storage = parse_storage(table, roles)
    events[slug] = spec = parse_events(table, slug)
    datasets[slug] = shared = parse_datasets(table)
    if (
        problem
        or name is None
        or enrollment is None
        or roles is None
        or description is None
        or storage is None
        or spec is None
        or shared is None
    ):
        return None
    return AppSpec(slug, name, enrollment, roles, description, storage, spec, shared)


def _parse_app_name(table: Table) -> str | None:
    allowed = f"a display name of 1 to {MAX_APP_NAME} characters without control characters"
    name = table.text("name", allowed)
    if name is None:
        return None
    problem = _display_problem(name, MAX_APP_NAME, allow="") or (None if name.strip() else "is blank")
    if problem is not None:
        table.report("name", f"{problem}; allowed: {allowed}")
        return None
    return name


def _parse_description(table: Table) -> str | None:
    allowed = f"text of at most {MAX_DESCRIPTION} characters; newline and tab are the only controls"
    text = table.text("description", allowed, default="")
    problem = None if text is None else _display_problem(text, MAX_DESCRIPTION, allow="\n\t")
    if problem is not None:
        table.report("description", f"{problem}; allowed: {allowed}")
        return None
    return text


def _parse_enrollment(table: Table) -> Enrollment | None:
    value = table.values.get("enrollment", DEFAULT_ENROLLMENT)
    for choice in ENROLLMENTS:
        if value == choice:
            return choice
    table.reject("enrollment", f"one of {choices(ENROLLMENTS)}", value)
    return None


def _parse_roles(table: Table) -> tuple[str, ...] | None:
    raw = table.values.get("roles", [BASE_ROLE])
    if not isinstance(raw, list):
        example = '["member", "admin"]'
        table.report("roles", f"must be an array of role names such as {example}; got {describe(raw)}")
        return None
    before = len(table.issues)
    seen: dict[str, int] = {}
    roles = table.child("roles")
    for index, role in enumerate(raw):
        if not isinstance(role, str) or not ROLE_PATTERN.fullmatch(role):
            rule = "a lowercase letter, then up to 30 of a-z, 0-9 and '-'"
            roles.report(index, f"must be a role name: {rule}; got {describe(role)}")
        elif role in seen:
            roles.report(index, f"duplicate role {role!r}, first at roles[{seen[role]}]; list it once")
        else:
            seen[role] = index
    if BASE_ROLE not in seen:
        table.report("roles", f"must include {BASE_ROLE!r}, every app's baseline role; got {show(raw)}")
    return tuple(seen) if len(table.issues) == before else None


def _display_problem(text: str, limit: int, allow: str) -> str | None:
    """What is wrong with human-facing `text` (length, control characters), or None."""
    if len(text) > limit:
        return f"is {len(text)} characters long"
    for char in text:
        if char not in allow and (char in _BIDI or unicodedata.category(char) in _CONTROL_CATEGORIES):
            return f"contains control character U+{ord(char):04X}"
    return None
