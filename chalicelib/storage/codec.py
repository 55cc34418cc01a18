"""Folder rules to and from their JSON form in the registry (the `storage` key of an app's sections).

The runtime never reads the manifest file (Lambda has none): provisioning writes each app's
rules into the registry, and the runtime reads them back with the rest of the app's record.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.storage.model import SHARED, Access, FolderRule, StorageSpec, access_of


def to_data(spec: StorageSpec) -> dict[str, Any]:
    """`bucket` only when not the shared one: rows (and fingerprints) of shared apps stay as they were."""
    data: dict[str, Any] = {
        "folders": [rule._asdict() | {"content_types": list(rule.content_types)} for rule in spec.folders]
    }
    if spec.bucket != SHARED:
        data["bucket"] = spec.bucket
    return data


def to_json(spec: StorageSpec) -> str:
    return json.dumps(to_data(spec))


def from_json(value: Any) -> StorageSpec:
    """From the registry (a dict from psycopg2's jsonb decoding, a JSON string, or None: no folders)."""
    data = json.loads(value) if isinstance(value, str) else (value or {})
    folders = tuple(
        FolderRule(
            path=str(f["path"]),
            write=_access(f["write"]),
            read=_access(f["read"]),
            content_types=tuple(str(c) for c in f["content_types"]),
            max_size=int(f["max_size"]),
        )
        for f in data.get("folders", [])
    )
    # An unknown placement is kept as read: `placement.app_bucket` refuses it (fails closed).
    return StorageSpec(folders=folders, bucket=str(data.get("bucket", SHARED)))


def _access(value: Any) -> Access:
    """A right as stored: a string (every row written before issue 18, and one principal since) or a
    list. An empty list (no row is written so) admits nobody but the platform admin: it fails closed."""
    return access_of(str(name) for name in value) if isinstance(value, list) else str(value)
