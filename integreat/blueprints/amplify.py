"""Amplify Gen 2 outputs (`amplify_outputs.json`, schema versions 1 to 1.4) -> a Proposal.

- auth.groups -> app roles ("ADMINS" -> "admin", the platform's app-admin role);
- storage.buckets[].paths -> folders under the app's folder: `media/{entity_id}/*` becomes
  `media/{user}/` (one folder per user, owner-only where the entity had the access); access
  actions -> who may write (write, delete) and read (read, get, list); `guest` is flagged (the
  platform has no guest access), `resource` (function access) is reported;
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
        for path, rule in sorted((bucket.get("paths") or {}).items()):
            where = f"storage.buckets[{b}].paths.{json.dumps(path)}"
            folder_path = _folder(path)
            if folder_path is None:
                proposal.note(UNMAPPED, where, f"{path!r} gives no platform folder: segments of a-z, 0-9,"
                                               " '_', '-' ending in '/*'; rename it by hand")  # fmt: skip
                continue
            folder = _access(rule if isinstance(rule, dict) else {}, folder_path, proposal, where)
            if folder is not None:
                proposal.add_folder(folder_path, folder, where)
                proposal.note(
                    MAPPED, where, f"folder {folder_path!r}: write {folder.write}, read {folder.read}"
                )


def _folder(path: str) -> str | None:
    if not path.endswith("/*"):
        return None
    segments = path[:-2].split("/")
    mapped = ["{user}" if s == "{entity_id}" else s for s in segments]
    if mapped.count("{user}") > 1 or not all(s == "{user}" or SEGMENT.fullmatch(s) for s in mapped):
        return None
    return "/".join(mapped) + "/"


def _access(rule: dict[str, Any], path: str, proposal: Proposal, where: str) -> Folder | None:
    writers: list[str] = []
    readers: list[str] = []
    for who, actions in rule.items():
        acts = set(actions or [])
        principal = _principal(who, path, proposal, f"{where}.{who}")
        if principal is None:
            continue
        if acts & WRITE_ACTIONS:
            writers.append(principal)
        if acts & READ_ACTIONS:
            readers.append(principal)
    write, read = _pick(writers, proposal, where, "write"), _pick(readers, proposal, where, "read")
    if write is None:
        proposal.note(UNMAPPED, where, "nobody the platform knows may write here; give it a writer by hand")
        return None
    return Folder(write=write, read=read or write)


def _principal(who: str, path: str, proposal: Proposal, where: str) -> str | None:
    if who == "authenticated":
        return "members"
    if who.startswith("entity"):
        if "{user}" not in path:
            proposal.note(UNMAPPED, where, "entity access outside an {entity_id} path has no owner")
            return None
        return "owner"
    if who.startswith("group"):
        return proposal.role_for_group(who.removeprefix("groups").removeprefix("group"), where)
    if who == "guest":
        proposal.note(FLAGGED, where, "guest access: the platform has no guest access yet; not granted")
        return None
    proposal.note(UNMAPPED, where, f"{who!r} access (functions): app backends act as the app's role (service"
                                   " principals) and reach its whole folder")  # fmt: skip
    return None


def _pick(principals: list[str], proposal: Proposal, where: str, right: str) -> str | None:
    """The platform allows one principal per right: members covers every role and the owner;
    otherwise the owner, then the first role. What is dropped is reported."""
    if not principals:
        return None
    chosen = "members" if "members" in principals else "owner" if "owner" in principals else principals[0]
    dropped = [p for p in dict.fromkeys(principals) if p != chosen and chosen != "members"]
    if dropped:
        proposal.note(UNMAPPED, where, f"{right}: only {chosen!r} kept; also had {', '.join(dropped)}"
                                       " (one principal per right: add a role or widen it by hand)")  # fmt: skip
    return chosen
