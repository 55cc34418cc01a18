"""The manifest's limits: `[apps.<slug>.limits]` and the defaults of every app, `[platform.limits]`.

[platform.limits]
requests_per_minute = 1200     # API requests per app and minute (429 + Retry-After beyond)
storage_bytes = "5GB"          # files under the app's folder (uploads refused before signing)
events_per_day = 50000         # events published per app and UTC day (refused per event)

[apps.church.limits]
requests_per_minute = 300      # only what differs from the platform's
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.usage.model import KEYS, LimitsSpec

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

MAX_COUNT = 100_000_000
_COUNT_RULE = f"a whole number from 1 to {MAX_COUNT:,}"


def parse_limits(parent: Table) -> LimitsSpec | None:
    """`parent`'s `limits` table (absent: nothing declared); None after reporting a problem."""
    from chalicelib.storage.spec import parse_size

    if "limits" not in parent.values:
        return LimitsSpec()
    table = parent.table("limits", f"a table with keys {', '.join(KEYS)}")
    if table is None:
        return None
    table.check_keys(KEYS)
    found: dict[str, int] = {}
    ok = len(table.issues)
    for key in ("requests_per_minute", "events_per_day"):
        value = table.values.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
            table.reject(key, _COUNT_RULE, value)
        else:
            found[key] = value
    if "storage_bytes" in table.values:
        size = parse_size(table.values["storage_bytes"])
        if size is None or size < 1:
            table.reject(
                "storage_bytes",
                'bytes, or a string such as "5GB" (B, KB, MB or GB)',
                table.values["storage_bytes"],
            )
        else:
            found["storage_bytes"] = size
    return None if len(table.issues) > ok else LimitsSpec(**found)
