"""Amplify Gen 2 outputs (`amplify_outputs.json`, schema versions 1 to 1.4) -> a Proposal.

- auth.groups -> app roles ("ADMINS" -> "admin", the platform's app-admin role);
- storage.buckets[].paths -> folders under the app's folder: an owner path becomes `media/{user}/`
  (one folder per user, owner-only where the entity had the access); access actions -> who may
  write (write, delete) and read (read, get, list), every principal of a right kept (any of them
  may); `guest` is flagged (the platform has no guest access), `resource` (function access) is
  reported;
- data (AppSync), auth settings, and the rest are reported with what to do instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from integreat.blueprints.proposal import FLAGGED, MAPPED, UNMAPPED, BlueprintError, Folder, Proposal

VERSIONS = ("1", "1.1", "1.2", "1.3", "1.4")
SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
READ_ACTIONS = {"read", "get", "list"}
WRITE_ACTIONS = {"write", "delete"}
#: The owner segment of a path as Amplify writes it into amplify_outputs.json: the `{entity_id}`
#: of `defineStorage` replaced by the identity pool's variable for `entity('identity')` access
#: (amplify-backend packages/backend-storage/src/constants.ts, `entityIdSubstitution`), and as
#: `defineStorage` declares it (`entityIdPathToken`).
ENTITY_SEGMENTS = ("${cognito-identity.amazonaws.com:sub}", "{entity_id}")
USER = "{user}"
MEMBERS = "members"
OWNER = "owner"


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BlueprintError(str(path), ["no such file"]) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BlueprintError(str(path), [f"not a JSON file: {exc}"]) from None
    if not isinstance(data, dict):
        raise BlueprintError(str(path), ["amplify_outputs.json must be a JSON object"])
    version = data.get("version")
    problems = []
    if version not in VERSIONS:
        problems.append(
            f"unknown outputs schema version {version!r}: this importer reads {', '.join(VERSIONS)}"
            " (regenerate with `npx ampx generate outputs --outputs-version 1.4`)"
        )
    if not isinstance(data.get("auth"), dict) and not isinstance(data.get("storage"), dict):
        problems.append(
            "no `auth` and no `storage` section: nothing to import (is this amplify_outputs.json?)"
        )
    if problems:
        raise BlueprintError(str(path), problems)
    return data


def propose(data: dict[str, Any], slug: str) -> Proposal:
    proposal = Proposal(slug=slug, name=slug.replace("_", " ").title())
    _auth(data.get("auth") or {}, proposal)
    _storage(data.get("storage") or {}, proposal)
    if "data" in data:
        models = sorted(((data["data"] or {}).get("model_introspection") or {}).get("models") or {})
        proposal.note(UNMAPPED, "data", "an AppSync API has no platform equivalent: the app keeps its own API"
                      " for its data; to share records with other apps, expose a view as a dataset"
                      + (f" (models: {', '.join(models)})" if models else ""))  # fmt: skip
    for key in sorted(set(data) - {"$schema", "version", "auth", "storage", "data"}):
        proposal.note(UNMAPPED, key, f"the {key!r} section has no platform equivalent; left to the app")
    return proposal


def _auth(auth: dict[str, Any], proposal: Proposal) -> None:
    for index, entry in enumerate(auth.get("groups") or []):
        for group in entry if isinstance(entry, dict) else ():
            proposal.role_for_group(str(group), f"auth.groups[{index}]")
    if auth.get("unauthenticated_identities_enabled"):
        proposal.note(FLAGGED, "auth.unauthenticated_identities_enabled",
                      "guest (unauthenticated) identities: the platform has no guest access yet; not granted")  # fmt: skip
    for key in ("password_policy", "mfa_configuration", "oauth", "username_attributes"):
        if key in auth:
            proposal.note(
                UNMAPPED, f"auth.{key}", "set once for the platform's single user pool, not per app"
            )


def _storage(storage: dict[str, Any], proposal: Proposal) -> None:
    for b, bucket in enumerate(storage.get("buckets") or []):
        for folder_path, entries in _folders(bucket.get("paths") or {}, b, proposal).items():
            folder = _access(entries, folder_path, proposal)
            if folder is not None:
                where = entries[0][0]
                proposal.add_folder(folder_path, folder, where)
                proposal.note(MAPPED, where, f"folder {folder_path!r}: write {_shown(folder.write)},"
                                             f" read {_shown(folder.read)}")  # fmt: skip


Entry = tuple[str, dict[str, Any]]  # where in the blueprint, the path's access rule


def _folders(paths: dict[str, Any], b: int, proposal: Proposal) -> dict[str, list[Entry]]:
    """Each platform folder with the path rules that make it.

    Amplify writes one `media/{entity_id}/*` definition as two paths: the entity's access at
    `media/${cognito-identity.amazonaws.com:sub}/*`, everyone else's at `media/*` (`{entity_id}`
    replaced by `*`, then `/*/*` cut to `/*`: storage_access_orchestrator.ts,
    `placeholderSubstitution`). It refuses any other path that is a prefix of an `{entity_id}`
    path, so a `media/*` beside an owner path is that definition's, and joins its folder.
    """
    found: dict[str, list[Entry]] = {}
    for path, rule in sorted(paths.items()):
        where = f"storage.buckets[{b}].paths.{json.dumps(path)}"
        folder_path = _folder(path)
        if folder_path is None:
            proposal.note(UNMAPPED, where, f"{path!r} gives no platform folder: segments of a-z, 0-9,"
                                           " '_', '-' ending in '/*'; rename it by hand")  # fmt: skip
            continue
        found.setdefault(folder_path, []).append((where, rule if isinstance(rule, dict) else {}))
    for plain in [path for path in found if f"{path}{USER}/" in found]:
        owned = f"{plain}{USER}/"
        proposal.note(MAPPED, found[plain][0][0], f"the rules Amplify writes here for {plain}{{entity_id}}/*"
                                                  f" (all but the owner's) join folder {owned!r}")  # fmt: skip
        found[owned] += found.pop(plain)
    return found


def _folder(path: str) -> str | None:
    if not path.endswith("/*"):
        return None
    segments = path[:-2].split("/")
    mapped = [USER if s in ENTITY_SEGMENTS else s for s in segments]
    if mapped.count(USER) > 1 or not all(s == USER or SEGMENT.fullmatch(s) for s in mapped):
        return None
    return "/".join(mapped) + "/"


def _access(entries: list[Entry], path: str, proposal: Proposal) -> Folder | None:
    writers: list[str] = []
    readers: list[str] = []
    for where, rule in entries:
        for who, actions in rule.items():
            acts = set(actions or [])
            principal = _principal(who, path, proposal, f"{where}.{who}")
            if principal is None:
                continue
            if acts & WRITE_ACTIONS:
                writers.append(principal)
            if acts & READ_ACTIONS:
                readers.append(principal)
    where = entries[0][0]
    write, read = _right(writers, proposal, where, "write"), _right(readers, proposal, where, "read")
    if write is None:
        proposal.note(UNMAPPED, where, "nobody the platform knows may write here; give it a writer by hand")
        return None
    return Folder(write=write, read=read or write)


def _principal(who: str, path: str, proposal: Proposal, where: str) -> str | None:
    if who == "authenticated":
        return MEMBERS
    if who.startswith("entity"):
        if USER not in path:
            proposal.note(UNMAPPED, where, "entity access outside an {entity_id} path has no owner")
            return None
        return OWNER
    if who.startswith("group"):
        return proposal.role_for_group(who.removeprefix("groups").removeprefix("group"), where)
    if who == "guest":
        proposal.note(FLAGGED, where, "guest access: the platform has no guest access yet; not granted")
        return None
    proposal.note(UNMAPPED, where, f"{who!r} access (functions): app backends act as the app's role (service"
                                   " principals) and reach its whole folder")  # fmt: skip
    return None


def _right(principals: list[str], proposal: Proposal, where: str, right: str) -> str | list[str] | None:
    """A folder right holding every principal given it (issue 18), in the blueprint's order: one
    as a string, several as a list. `members` alone when it is among them: it admits every member,
    whatever their roles, and the owner. What was merged is reported."""
    unique = list(dict.fromkeys(principals))
    if MEMBERS in unique:
        covered = [p for p in unique if p != MEMBERS]
        if covered:
            proposal.note(MAPPED, where, f"{right}: members (authenticated) already includes"
                                         f" {', '.join(covered)}; kept as members")  # fmt: skip
        return MEMBERS
    if len(unique) < 2:
        return unique[0] if unique else None
    proposal.note(MAPPED, where, f"{right}: {', '.join(unique)} merged into one folder right"
                                 " (any of them may)")  # fmt: skip
    return unique


def _shown(access: str | list[str]) -> str:
    return access if isinstance(access, str) else " or ".join(access)
