"""What an importer proposes: the app's manifest entry (roles, folders) and its findings.

Importers never touch the manifest; `apply.py` merges a Proposal into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ROLE = re.compile(r"[a-z][a-z0-9-]{0,30}")
ADMIN_NAMES = frozenset({"admin", "admins", "administrator", "administrators"})
#: Folder defaults when the app has no storage section yet: the blueprint declares no limits,
#: so the proposal says what the platform will enforce, to be reviewed.
DEFAULT_MAX_SIZE = "10MB"
DEFAULT_CONTENT_TYPES = ("*/*",)

# Finding kinds, in the order the report shows them.
MAPPED, FLAGGED, UNMAPPED, EXCEEDS, ROUTE = (
    "mapped",
    "flagged",
    "not mapped",
    "exceeds the per-app policy",
    "route",
)
KINDS = (MAPPED, FLAGGED, UNMAPPED, EXCEEDS, ROUTE)


class BlueprintError(Exception):
    """The blueprint cannot be imported at all; `problems` lists every reason, with where."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str  # the blueprint's own path to the thing, e.g. storage.buckets[0].paths."media/*"
    message: str


@dataclass(frozen=True)
class Folder:
    # One principal, or several of whom any may (issue 18): a list, as tomlkit writes a TOML array.
    write: str | list[str]
    read: str | list[str]


@dataclass
class Proposal:
    slug: str
    name: str
    roles: list[str] = field(default_factory=lambda: ["member"])
    folders: dict[str, Folder] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def note(self, kind: str, where: str, message: str) -> None:
        self.findings.append(Finding(kind, where, message))

    def role_for_group(self, group: str, where: str) -> str | None:
        """The app role an identity-provider group becomes, or None (reported) if it cannot."""
        name = re.sub(r"[^a-z0-9-]+", "-", group.lower()).strip("-")
        if name in ADMIN_NAMES:
            name = "admin"  # the platform's app-admin role: manages the app's members
        if not ROLE.fullmatch(name):
            self.note(
                UNMAPPED, where, f"group {group!r} gives no valid role name (a-z first, then a-z, 0-9, '-')"
            )
            return None
        if name not in self.roles:
            self.roles.append(name)
        if name != group:
            self.note(MAPPED, where, f"group {group!r} -> role {name!r}")
        return name

    def add_folder(self, path: str, folder: Folder, where: str) -> None:
        for existing in self.folders:
            if overlap(existing, path):
                self.note(UNMAPPED, where, f"folder {path!r} lies inside {existing!r} (or around it): the"
                                           " platform keeps one rule per folder; merge them by hand")  # fmt: skip
                return
        self.folders[path] = folder


def overlap(a: str, b: str) -> bool:
    """One folder is a prefix of the other, segment by segment; {user} matches any segment."""
    left, right = a.strip("/").split("/"), b.strip("/").split("/")
    return all(x == y or "{user}" in (x, y) for x, y in zip(left, right, strict=False))
