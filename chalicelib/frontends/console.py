"""The platform's own browser frontend, the admin console: `[console] origins = [...]`.

    [console]
    origins = ["https://console.example.org", "http://localhost:5180"]   # as an app's origins

Its origins may call every route but `/service` (the console reads `/admin` and each app's
routes with the signed-in user's token; the policies decide what that user may see). The runtime
learns them from `INTEGREAT_CONSOLE_ORIGINS` (`chalicelib.settings`), which the stack and the
local platform set from this table; only the manifest tooling imports this module.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.tenancy.sections import PlatformSection

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table


class ConsoleSpec(NamedTuple):
    origins: tuple[str, ...] = ()

    def allowed_origins(self, local: bool) -> tuple[str, ...]:
        """Outside `local` only the https ones, as for an app's frontend."""
        return tuple(origin for origin in self.origins if local or origin.startswith("https://"))


def _parse(doc: Table, _slugs: Collection[str]) -> ConsoleSpec:
    from chalicelib.frontends.spec import parse_origins

    table = doc.table("console", "a table, written [console], with `origins`", default={})
    if table is None:
        return ConsoleSpec()
    table.check_keys(("origins",))
    return ConsoleSpec(parse_origins(table) or ())


CONSOLE: PlatformSection[ConsoleSpec] = PlatformSection("console", ConsoleSpec(), parse=_parse)
