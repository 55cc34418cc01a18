"""Reading one TOML document into typed values while collecting every problem, with its dotted key.

The manifest's section parsers (`chalicelib.tenancy.manifest`, `chalicelib.storage.spec`) share
this: each walks its part of the document through a `Table`, which reports a missing, mistyped
or unknown key as a `ManifestIssue` and carries on, so one pass finds every problem. The
formatting helpers keep each message on one line whatever the document contains.

Not on any Lambda's cold-start path: only the manifest (operator tooling, provisioning) reads it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_TYPES = {bool: "boolean", str: "string", int: "integer", float: "float", list: "array", dict: "table"}


@dataclass(frozen=True)
class ManifestIssue:
    """One problem: the dotted key it concerns, and what is wrong and what is allowed."""

    key: str
    message: str


@dataclass(frozen=True)
class Table:
    """One TOML table being read: its values, its dotted path, and the shared list of issues."""

    values: Mapping[str, Any]
    where: tuple[str, ...]
    issues: list[ManifestIssue]

    def report(self, name: str | int, message: str) -> None:
        self.issues.append(ManifestIssue(dotted_key(*self.where, name), message))

    def reject(self, name: str | int, allowed: str, value: object) -> None:
        """Report `value` at `name` as not what is `allowed`: "must be <allowed>; got <value>"."""
        self.report(name, f"must be {allowed}; got {describe(value)}")

    def child(self, name: str) -> Table:
        """A table for reporting under `name` (an array's items, say), with no values of its own."""
        return Table({}, (*self.where, name), self.issues)

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        """Report every key that is not in `allowed`, naming the allowed ones."""
        for name in self.values:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.report(name, f"unknown key{hint}; allowed: {choices(allowed)}")

    def table(self, name: str, allowed: str, default: dict[str, Any] | None = None) -> Table | None:
        """The sub-table `name`; report it as missing or not a table, saying what is `allowed`."""
        value = self.values.get(name, default)
        if isinstance(value, dict):
            return Table(value, (*self.where, name), self.issues)
        if value is None:
            self.report(name, f"is required: {allowed}")
        else:
            self.reject(name, allowed, value)
        return None

    def text(self, name: str, allowed: str, default: str | None = None) -> str | None:
        """The string `name`; report it as missing or mistyped, saying what is `allowed`."""
        value = self.values.get(name, default)
        if value is None:
            self.report(name, f"is required: {allowed}")
        elif not isinstance(value, str):
            self.reject(name, f"a string, {allowed}", value)
        else:
            return value
        return None

    def matching(self, name: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        """The string `name` if it matches `pattern`; else report it."""
        value = self.text(name, allowed)
        if value is None or pattern.fullmatch(value):
            return value
        self.report(name, f"must be {allowed} ({pattern.pattern}); got {show(value)}")
        return None


def dotted_key(*parts: str | int) -> str:
    """Dotted TOML path; unusual parts are quoted and escaped, so a hostile key stays on one line.

    >>> dotted_key("apps", "church", "roles", 1)
    'apps.church.roles[1]'
    >>> print(dotted_key("apps", 'x"; --'))
    apps."x\\"; --"
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + (part if _BARE_KEY.fullmatch(part) else json.dumps(part))
    return text


def choices(options: Iterable[str]) -> str:
    """Options for a message: `'open', 'invite'`."""
    return ", ".join(repr(option) for option in options)


def describe(value: object) -> str:
    """A value for a message: strings as quoted text, anything else with its TOML type."""
    if isinstance(value, str):
        return show(value)
    shown = str(value).lower() if isinstance(value, bool) else show(value)
    return f"{_TOML_TYPES.get(type(value), 'date/time')} {shown}"


def show(value: object, limit: int = 60) -> str:
    """repr() escapes control characters; long values are cut so that a message stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
