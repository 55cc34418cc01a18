"""Limits' sections: each app's `[apps.<slug>.limits]` (`LIMITS`), and the platform's defaults
(`PLATFORM_LIMITS`, `[platform.limits]`), merged into every app by the manifest loader
(`chalicelib.apps.manifest`), so the registry holds each app's limits as they apply."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from chalicelib.tenancy.sections import AppContext, AppSection, PlatformSection
from chalicelib.usage.model import LimitsSpec, from_data, to_data

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table


def _parse(app: Table, _context: AppContext) -> LimitsSpec | None:
    from chalicelib.usage.spec import parse_limits

    return parse_limits(app)


def _parse_defaults(doc: Table, _slugs: Collection[str]) -> LimitsSpec:
    from chalicelib.usage.spec import parse_limits

    platform = doc.values.get("platform")
    if not isinstance(platform, dict):
        return LimitsSpec()  # the [platform] table's own parser reports it
    from chalicelib.tenancy.toml_reader import Table as Reader

    return parse_limits(Reader(platform, ("platform",), doc.issues)) or LimitsSpec()


LIMITS: AppSection[LimitsSpec] = AppSection(
    "limits", LimitsSpec(), parse=_parse, encode=to_data, decode=from_data
)
#: A key with a dot: a sub-table of [platform], not a top-level table of its own.
PLATFORM_LIMITS: PlatformSection[LimitsSpec] = PlatformSection(
    "platform.limits", LimitsSpec(), parse=_parse_defaults
)
