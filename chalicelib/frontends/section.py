"""The frontend's section of the app model: `[apps.<slug>.frontend]`, the app's browser origins
and its hosting. The runtime decodes it with the registry (the API's CORS reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.frontends.model import FrontendSpec, from_data, to_data
from chalicelib.tenancy.sections import AppContext, AppSection

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table


def _parse(app: Table, context: AppContext) -> FrontendSpec | None:
    from chalicelib.frontends.spec import parse_frontend

    return parse_frontend(app)


def _encode(spec: FrontendSpec) -> Any:
    return to_data(spec)


#: None declared: no origin may call the app's routes from a browser, and nothing is hosted.
FRONTEND: AppSection[FrontendSpec] = AppSection(
    "frontend", FrontendSpec(), parse=_parse, encode=_encode, decode=from_data
)
