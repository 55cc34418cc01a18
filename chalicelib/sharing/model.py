"""A dataset as the runtime sees it, and its JSON form in the registry (the `datasets` key of an
app's sections).

Read on the request path, so a NamedTuple and the standard library only.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple


class DatasetSpec(NamedTuple):
    name: str  # the URL name: /apps/<owner>/datasets/<name>
    view: str  # a view (or table) in the owner's schema, created by the owner's migrations
    key: str  # a unique column the rows are ordered and paged by
    readers: tuple[str, ...]  # apps whose members and services may read it (the owner always may)


def to_data(datasets: tuple[DatasetSpec, ...]) -> list[dict[str, Any]]:
    return [{"name": d.name, "view": d.view, "key": d.key, "readers": list(d.readers)} for d in datasets]


def to_json(datasets: tuple[DatasetSpec, ...]) -> str:
    return json.dumps(to_data(datasets))


def from_json(value: Any) -> tuple[DatasetSpec, ...]:
    data = json.loads(value) if isinstance(value, str) else (value or [])
    return tuple(DatasetSpec(d["name"], d["view"], d["key"], tuple(d["readers"])) for d in data)


def find(datasets: tuple[DatasetSpec, ...], name: str) -> DatasetSpec | None:
    return next((d for d in datasets if d.name == name), None)
