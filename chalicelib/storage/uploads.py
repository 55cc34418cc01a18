"""What the files API does, as plain functions: sign an upload, list a folder, sign a download.

Every decision is the one decision function's (`chalicelib.storage.rules`); this module only
turns an API request into a key and a caller into an Actor, and asks.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from chalicelib.storage.errors import StorageRefusal, StorageRequestError
from chalicelib.storage.rules import Actor, Verdict, decide_read, decide_write, folder_key
from chalicelib.storage.spec import USER, FolderRule, StorageSpec

UPLOAD_SECONDS = 300
DOWNLOAD_SECONDS = 300
MAX_LIST = 200


_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def filename_problem(filename: str) -> str | None:
    """Traversal and encoding tricks are refused outright (400), not silently rewritten; other
    characters are made safe by `safe_filename` when the key is built."""
    if "/" in filename or "\\" in filename:
        return "file name may not contain '/' or '\\': the server picks the folder"
    if filename.strip(".") == "":
        return "file name may not be empty or only dots"
    if _CONTROL.search(filename):
        return "file name may not contain control characters"
    if _ENCODED.search(filename):
        return "file name may not contain URL-encoded characters (%XX): send the name decoded"
    if not filename.isascii() and not _encodable(filename):  # "a\ud800.txt": no S3 key nor SQL text
        return "file name must be Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)"
    if len(filename.encode()) > 1000:
        return "file name is longer than 1,000 bytes"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class UploadRequest(NamedTuple):
    folder: str
    filename: str
    content_type: str
    size: int


def parse_upload(body: Any) -> UploadRequest:
    """Validate the JSON body {folder, filename, content_type, size} at the edge."""
    if not isinstance(body, dict):
        raise StorageRequestError("the body must be a JSON object: {folder, filename, content_type, size}")
    problems = [f"{k} must be a non-empty string" for k in ("folder", "filename", "content_type")
                if not isinstance(body.get(k), str) or not body[k]]  # fmt: skip
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        problems.append("size must be a positive integer (bytes)")
    unknown = set(body) - set(UploadRequest._fields)
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}; allowed: {list(UploadRequest._fields)}")
    if isinstance(body.get("filename"), str) and body["filename"]:
        problem = filename_problem(body["filename"])
        if problem:
            problems.append(problem)
    if problems:
        raise StorageRequestError("; ".join(problems))
    assert isinstance(size, int)
    return UploadRequest(body["folder"], body["filename"], body["content_type"], size)


def _folder(spec: StorageSpec, app: str, path: str) -> FolderRule:
    for folder in spec.folders:
        if folder.path == path:
            return folder
    known = ", ".join(f.path for f in spec.folders) or "none"
    raise StorageRequestError(f"{app} has no folder {path!r}; its folders: {known}")


def upload_key(app: str, spec: StorageSpec, request: UploadRequest, actor: Actor) -> tuple[str, FolderRule]:
    """The key the server picks, and its folder; the client never chooses a key."""
    folder = _folder(spec, app, request.folder)
    try:
        return folder_key(app, folder, request.filename, owner=actor.user_id), folder
    except ValueError as exc:
        raise StorageRequestError(str(exc)) from exc


def authorize_upload(
    app: str, storage: dict[str, StorageSpec], request: UploadRequest, actor: Actor
) -> tuple[str, FolderRule]:
    key, folder = upload_key(app, storage[app], request, actor)
    verdict = decide_write(
        key, size=request.size, content_type=request.content_type, actor=actor, storage=storage
    )
    if not verdict.allowed:
        raise StorageRefusal(verdict.reason)
    return key, folder


def upload_metadata(actor: Actor) -> dict[str, str]:
    """Pinned in the presigned POST: the consumer trusts it only for uploads signed by the API."""
    return {
        "app": actor.app or "",
        "uploader": actor.user_id or "",
        "roles": " ".join(actor.roles),
        "admin": "true" if actor.is_admin else "false",
    }


def listing_prefix(app: str, folder: str, actor: Actor, storage: dict[str, StorageSpec]) -> str:
    """The key prefix to list: a folder path of the app, `{user}` standing for the caller's own
    (or a concrete user's folder, for a role allowed to read it)."""
    concrete = folder.replace(USER, actor.user_id or "") if USER in folder else folder
    if not concrete.endswith("/"):
        raise StorageRequestError(f"folder must end with '/': got {folder!r}")
    _raise_unless(decide_read(f"{app}/{concrete}probe", actor=actor, storage=storage))
    return f"{app}/{concrete}"


def authorize_download(app: str, key: str, actor: Actor, storage: dict[str, StorageSpec]) -> None:
    if not key.startswith(f"{app}/"):
        raise StorageRequestError(f"key must lie in {app}/")
    _raise_unless(decide_read(key, actor=actor, storage=storage))


def _raise_unless(verdict: Verdict) -> None:
    """Allowed, or 400 for a key in no folder (a request error), or 403 for a refused reader."""
    if verdict.allowed:
        return
    raise (StorageRefusal if verdict.folder is not None else StorageRequestError)(verdict.reason)
