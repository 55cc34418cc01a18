"""Storage's section of the app model: `[apps.<slug>.storage]`, its folders and who may use them.

Imported whenever the registry is decoded, so the parser (`spec`, with its regular expressions)
and the codec are imported only when first called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.storage.model import StorageSpec
from chalicelib.tenancy.sections import AppContext, AppSection

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table


def _parse(app: Table, context: AppContext) -> StorageSpec | None:
    from chalicelib.storage.spec import parse_storage

    return parse_storage(app, context.roles)


def _encode(spec: StorageSpec) -> Any:
    from chalicelib.storage.codec import to_data

    return to_data(spec)


def _decode(data: Any) -> StorageSpec:
    from chalicelib.storage.codec import from_json

    return from_json(data)


#: None declared: every upload is refused (deny by default).
STORAGE: AppSection[StorageSpec] = AppSection(
    "storage", StorageSpec(), parse=_parse, encode=_encode, decode=_decode
)
