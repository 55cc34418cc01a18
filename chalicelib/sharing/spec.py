"""The `[apps.<slug>.datasets.<name>]` tables of the manifest, and their parser.

    [apps.church.datasets.services]
    view = "public_services"   # a view in the app's schema, created by the app's migrations
    key = "id"                 # a unique column of it: rows are ordered and paged by it
    readers = ["events"]       # apps allowed to read it (the owner always may)

Only the manifest tooling imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from chalicelib.sharing.model import DatasetSpec

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

#: Dataset names, views and key columns: plain lowercase SQL identifiers (never quoted oddly).
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")
IDENTIFIER_RULE = "a lowercase identifier: a-z, then up to 62 of a-z, 0-9, '_'"
DATASET_KEYS = ("view", "key", "readers")


def parse_datasets(app: Table) -> tuple[DatasetSpec, ...] | None:
    """The app's datasets; None if any breaks a rule (each problem is reported on `app`)."""
    table = app.table("datasets", "a table of datasets, written [apps.<slug>.datasets.<name>]", default={})
    if table is None:
        return None
    before = len(table.issues)
    found = []
    for name in table.values:
        if not IDENTIFIER.fullmatch(name):
            table.report(name, f"invalid dataset name: must be {IDENTIFIER_RULE}")
            continue
        entry = table.table(name, f"a table, written [apps.<slug>.datasets.{name}]")
        if entry is None:
            continue
        entry.check_keys(DATASET_KEYS)
        view = entry.matching("view", IDENTIFIER, "the name of a view in the app's schema")
        key = entry.matching("key", IDENTIFIER, "a unique column of the view, to order and page by")
        readers = _readers(entry)
        if view is not None and key is not None and readers is not None:
            found.append(DatasetSpec(name, view, key, readers))
    return None if len(table.issues) != before else tuple(found)


def _readers(entry: Table) -> tuple[str, ...] | None:
    raw = entry.values.get("readers", [])
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        entry.reject("readers", 'an array of app slugs such as ["events"]', raw)
        return None
    return tuple(dict.fromkeys(raw))


def check_dataset_readers(apps: Table, datasets: Mapping[str, tuple[DatasetSpec, ...] | None]) -> None:
    """Every reader must be another declared app (checked once every app is parsed)."""
    for owner, specs in datasets.items():
        for spec in specs or ():
            readers = apps.child(owner).child("datasets").child(spec.name).child("readers")
            for index, reader in enumerate(spec.readers):
                if reader == owner:
                    readers.report(index, f"{owner!r} owns the dataset and may always read it; remove it")
                elif reader not in datasets:
                    known = ", ".join(sorted(datasets))
                    readers.report(index, f"{reader!r} is not an app of this manifest (apps: {known})")
