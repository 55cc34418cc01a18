"""Parsing the manifest, `integreat.toml`: the one declaration of the platform and its apps.

Every layer (identity, storage, database, API, messaging, provisioning) takes its apps from here,
so `parse_manifest` is the gate: a slug, role or name that breaks a rule below never leaves this
module. Validation collects every problem in one pass and reports each with the file, the dotted
key, what is wrong and what is allowed, so an operator fixes a manifest in one round.

This module parses the core of each app and hands every other key to the sections it is given
(`chalicelib.tenancy.sections`): it names no feature. `chalicelib.apps` binds it to the
platform's sections. Unknown keys are rejected, so a typo never passes silently. Rules between
apps (each section's `check`) run once every app is parsed.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from chalicelib.tenancy.model import (
    BASE_ROLE,
    DEFAULT_ENROLLMENT,
    ENROLLMENTS,
    MANIFEST_ENV,
    MANIFEST_FILENAME,
    MAX_APP_NAME,
    MAX_DESCRIPTION,
    PLATFORM_NAME_PATTERN,
    REGION_PATTERN,
    ROLE_PATTERN,
    AppSpec,
    Enrollment,
    Manifest,
    ManifestError,
    PlatformSpec,
)
from chalicelib.tenancy.sections import AppContext, AppSection, PlatformSection, Sections
from chalicelib.tenancy.slugs import slug_problem
from chalicelib.tenancy.toml_reader import ManifestIssue, Table, choices, describe, dotted_key, show

A = TypeVar("A", bound=AppSpec)
#: Builds one app from its core and sections: `chalicelib.apps.manifest.AppSpec`, or the core class.
MakeApp = Callable[[str, str, Enrollment, tuple[str, ...], str, Sections], A]

#: Issue keys for problems of the whole file rather than of one key.
SYNTAX_KEY = "<toml>"
FILE_KEY = "<file>"

_PLATFORM_KEYS = ("name", "region", "limits")  # limits: chalicelib.usage
_CORE_KEYS = ("name", "enrollment", "roles", "description")
_STAGES_KEY = "stages"  # read by integreat/infra/stages.py, not here

# Bidi overrides and isolates make text display out of order (Trojan Source, CVE-2021-42574);
# display names end up in consoles and e-mails, so they are refused along with C0/C1 controls.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# tomllib's own wording; if a Python release changes it, the generic message below still applies.
_DUPLICATE_APP = re.compile(r"Cannot declare \('apps', '([a-z0-9_]+)'\) twice (\(at line \d+, column \d+\))")


class Declaration(Generic[A]):
    """The sections a manifest may declare, and the class its apps are built as."""

    def __init__(
        self,
        make_app: MakeApp[A],
        sections: Sequence[AppSection[Any]] = (),
        platform_sections: Sequence[PlatformSection[Any]] = (),
    ) -> None:
        self.make_app, self.sections, self.platform_sections = (
            make_app,
            tuple(sections),
            tuple(platform_sections),
        )
        self.app_keys = (*_CORE_KEYS, *(s.key for s in self.sections))
        # A dotted key ("platform.limits") is a sub-table of another table, not a top-level one.
        tops = (s.key for s in self.platform_sections if "." not in s.key)
        self.top_keys = ("platform", "apps", *tops, _STAGES_KEY)


def parse_manifest(text: str, source: str, declaration: Declaration[A]) -> Manifest[A]:
    """Parse and validate manifest text; raise ManifestError listing every problem.

    >>> parse_manifest('[platform]\\nname = "integreat"\\nregion = "eu-west-1"\\n', "x",
    ...                Declaration(AppSpec)).apps
    ()
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(source, [_syntax_issue(str(exc))]) from exc
    issues: list[ManifestIssue] = []
    Table(doc, (), issues).check_keys(declaration.top_keys)
    platform = _parse_platform(Table(doc, (), issues))
    apps = _parse_apps(Table(doc, (), issues), declaration)
    slugs = frozenset(app.slug for app in apps)
    found = [(s, s.parse(Table(doc, (), issues), slugs)) for s in declaration.platform_sections]
    if platform is None or issues:
        raise ManifestError(source, issues)
    return Manifest(platform, apps, source, Sections.of_platform(found))


def read_manifest(path: str | os.PathLike[str] | None, declaration: Declaration[A]) -> Manifest[A]:
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
    return parse_manifest(text, str(chosen), declaration)


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


def _parse_apps(doc: Table, declaration: Declaration[A]) -> tuple[A, ...]:
    # A platform with no apps yet is valid: `[apps]` may be absent or empty.
    table = doc.table("apps", "a table of apps keyed by slug, written [apps.<slug>]", default={})
    if table is None:
        return ()
    # Each section's value per app, also for invalid apps, for the checks between apps.
    values: dict[str, dict[str, Any]] = {s.key: {} for s in declaration.sections}
    apps = [_parse_app(table, slug, declaration, values) for slug in table.values]
    for section in declaration.sections:
        if section.check is not None:
            section.check(table, values[section.key])
    return tuple(app for app in apps if app is not None)


def _parse_app(
    apps: Table, slug: str, declaration: Declaration[A], values: dict[str, dict[str, Any]]
) -> A | None:
    """One app, or None when it breaks a rule; its sections also go into `values`."""
    problem = slug_problem(slug)
    if problem is not None:
        apps.report(slug, f"invalid app slug: {problem}")
    table = apps.table(slug, f"a table, written [{dotted_key(*apps.where, slug)}]")
    if table is None:
        return None
    table.check_keys(declaration.app_keys)
    name, enrollment = _parse_app_name(table), _parse_enrollment(table)
    roles, description = _parse_roles(table), _parse_description(table)
    context = AppContext(slug, roles)
    parsed = []
    for section in declaration.sections:
        values[section.key][slug] = value = section.parse(table, context)
        parsed.append((section, value))
    if problem or name is None or enrollment is None or roles is None or description is None:
        return None
    if any(value is None for _, value in parsed):
        return None
    return declaration.make_app(slug, name, enrollment, roles, description, Sections(parsed))


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
