"""Sharing's section of the app model: `[apps.<slug>.datasets.<name>]`, the views an app shares
and the apps allowed to read each; between apps, that every reader is another declared app.

Imported at every cold start (the registry decodes it): the model, the parser and the codec load
when first used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.tenancy.sections import AppContext, AppSection

if TYPE_CHECKING:
    from chalicelib.sharing.model import DatasetSpec
    from chalicelib.tenancy.toml_reader import Table

Datasets = tuple["DatasetSpec", ...]


def _parse(app: Table, context: AppContext) -> Datasets | None:
    from chalicelib.sharing.spec import parse_datasets

    return parse_datasets(app)


def _check(apps: Table, datasets: Mapping[str, Datasets | None]) -> None:
    from chalicelib.sharing.spec import check_dataset_readers

    check_dataset_readers(apps, datasets)


def _encode(datasets: Datasets) -> Any:
    from chalicelib.sharing.model import to_data

    return to_data(datasets)


def _decode(data: Any) -> Datasets:
    from chalicelib.sharing.model import from_json

    return from_json(data)


#: None declared: nothing shared.
DATASETS: AppSection[Datasets] = AppSection(
    "datasets", (), parse=_parse, check=_check, encode=_encode, decode=_decode
)
