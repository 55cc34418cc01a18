"""Merge a Proposal into integreat.toml, keeping its comments and layout (tomlkit).

What the manifest already says wins: roles are added, never removed; a folder that exists keeps
its rules (a difference is reported); storage defaults are written only for an app that has no
storage section. So re-importing the same blueprint changes nothing. The result must pass
manifest validation, or nothing is written.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from chalicelib.tenancy.manifest import ManifestError, parse_manifest
from integreat.blueprints.proposal import (
    DEFAULT_CONTENT_TYPES,
    DEFAULT_MAX_SIZE,
    FLAGGED,
    UNMAPPED,
    Proposal,
    overlap,
)


class MergeError(Exception):
    """The merged manifest would not validate: nothing is written; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def merged(text: str, proposal: Proposal) -> str:
    if proposal.slug not in tomlkit.parse(text).get("apps", {}):
        # A new app goes after the last app, before whatever follows (and its leading comments):
        # tomlkit alone would append it inside the next section's comment block.
        text = _insert_app(text, proposal)
    result = _edit_app(text, proposal)
    try:
        parse_manifest(result, "the merged manifest")
    except ManifestError as exc:
        raise MergeError([f"{i.key}: {i.message}" for i in exc.issues]) from None
    return result


def _edit_app(text: str, proposal: Proposal) -> str:
    """Roles and folders added to the app, editing only the app's own lines: tomlkit files the
    comment lines that introduce the next section under the app's last table, and would put a
    new table after them (and with no blank line before the next table)."""
    lines = text.splitlines(keepends=True)
    span = _app_span(lines, proposal.slug)
    if span is None:  # the app's tables are not together: edit the whole document
        return _edited(text, proposal)
    start, end = span
    own = _edited("".join(lines[start:end]), proposal).rstrip("\n") + "\n"
    return "".join(lines[:start]) + own + "".join(lines[end:])


def _edited(text: str, proposal: Proposal) -> str:
    doc = tomlkit.parse(text)
    app = doc["apps"][proposal.slug]
    roles = list(app.get("roles", ["member"]))
    added = [r for r in proposal.roles if r not in roles]
    if added or ("roles" not in app and proposal.roles != ["member"]):
        app["roles"] = roles + added
    if proposal.folders:
        _folders(app, proposal)
    return tomlkit.dumps(doc)


def _app_span(lines: list[str], slug: str) -> tuple[int, int] | None:
    """The lines of the app's tables (from its first header to its last value), or None when
    another table comes between two of them."""
    own = re.compile(rf"\s*\[\[?\s*apps\.{re.escape(slug)}\s*[.\]]")
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[", line)]
    mine = [i for i in headers if own.match(lines[i])]
    if not mine:
        return None
    after = [i for i in headers if i > mine[0] and not own.match(lines[i])]
    if after and after[0] < mine[-1]:
        return None
    end = after[0] if after else len(lines)
    while end > mine[-1] + 1 and (lines[end - 1].lstrip().startswith("#") or not lines[end - 1].strip()):
        end -= 1
    return mine[0], end


def _insert_app(text: str, proposal: Proposal) -> str:
    """The app's first table, in its place; `_edit_app` then adds its roles and folders."""
    block = tomlkit.document()
    app = tomlkit.table()
    app.add("name", proposal.name)
    app.add("enrollment", "invite")  # deny by default: the app's admins open it on purpose
    apps = tomlkit.table(is_super_table=True)
    apps.add(proposal.slug, app)
    block.add("apps", apps)
    lines = text.splitlines(keepends=True)
    at = _end_of_apps(lines)
    before = "\n" if at and lines[at - 1].strip() else ""
    after = "" if at < len(lines) and not lines[at].strip() else "\n"
    return "".join(lines[:at]) + before + tomlkit.dumps(block) + after + "".join(lines[at:])


def _end_of_apps(lines: list[str]) -> int:
    """The line index just after the apps section: before the next non-app header and the
    comment lines that introduce it; the end of the file when nothing follows."""
    last_app = max((i for i, line in enumerate(lines) if re.match(r"\[\[?apps[.\]]", line)), default=None)
    if last_app is None:
        return len(lines)
    following = next((i for i in range(last_app + 1, len(lines)) if re.match(r"\[", lines[i])
                      and not re.match(r"\[\[?apps[.\]]", lines[i])), len(lines))  # fmt: skip
    at = following
    while at > last_app + 1 and (lines[at - 1].startswith("#") or not lines[at - 1].strip()):
        at -= 1
    return at


def _folders(app: Any, proposal: Proposal) -> None:
    storage = app.get("storage")
    if storage is None:
        storage = tomlkit.table()
        storage.add("max_size", DEFAULT_MAX_SIZE)
        storage.add("content_types", list(DEFAULT_CONTENT_TYPES))
        app.add("storage", storage)
        proposal.note(FLAGGED, "storage", f"no size or type limits in the blueprint: proposed max_size"
                      f" {DEFAULT_MAX_SIZE!r} and content_types {list(DEFAULT_CONTENT_TYPES)}; review them")  # fmt: skip
    folders = _table(storage, "folders", super_table=True)
    for path, folder in proposal.folders.items():
        existing = folders.get(path)
        clash = next((str(k) for k in folders if k != path and overlap(str(k), path)), None)
        if existing is None and clash is not None:
            proposal.note(UNMAPPED, f"storage.folders.{path}", f"overlaps the manifest's folder {clash!r}:"
                          " a key must belong to one folder; not added")  # fmt: skip
        elif existing is None:
            rule = tomlkit.table()
            rule.add("write", folder.write)
            rule.add("read", folder.read)
            rule.add(tomlkit.nl())  # a blank line before whatever table follows it
            folders.add(path, rule)
        elif (existing.get("write"), existing.get("read")) != (folder.write, folder.read):
            proposal.note(UNMAPPED, f"storage.folders.{path}", f"the manifest already has this folder"
                          f" (write {existing.get('write')}, read {existing.get('read')}); kept as is")  # fmt: skip


def _table(parent: Any, key: str, *, super_table: bool) -> Any:
    found = parent.get(key)
    if found is None:
        found = tomlkit.table(is_super_table=super_table)
        parent.add(key, found)
    assert isinstance(found, Table | dict)
    return found


def diff(before: str, after: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(True), after.splitlines(True), f"{name} (now)", f"{name} (proposed)"
        )
    )


def write(path: Path, text: str) -> None:
    """Atomically: an interrupted write leaves the old manifest."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
