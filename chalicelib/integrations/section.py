"""Integrations' section of the platform: the top-level `[integrations.<name>]` tables. Each
names the apps that may call it, so it is parsed once every app is known. Stored apart from the
apps (`integreat.integrations`, `chalicelib.provisioning.integrations`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from chalicelib.tenancy.sections import PlatformSection

if TYPE_CHECKING:  # the spec's NamedTuple is built when first parsed, not at every cold start
    from chalicelib.integrations.model import IntegrationSpec
    from chalicelib.tenancy.toml_reader import Table


def _parse(doc: Table, slugs: Collection[str]) -> tuple[IntegrationSpec, ...]:
    from chalicelib.integrations.spec import parse_integrations

    return parse_integrations(doc, slugs)


INTEGRATIONS: PlatformSection[tuple[IntegrationSpec, ...]] = PlatformSection("integrations", (), parse=_parse)
