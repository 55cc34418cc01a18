"""Query-string parsing shared by the routes: one place that turns bad input into a clear 400."""

from __future__ import annotations

from chalice.app import Request

from chalicelib.gateway.errors import ApiError


def query(request: Request | None) -> dict[str, str]:
    return dict((request.query_params if request is not None else None) or {})


def integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """`params[name]` as an int in [low, high], `default` when absent; 400 `invalid_<name>` otherwise."""
    raw = params.get(name)
    if raw is None:
        return default
    # isascii: "²" and "①" pass isdigit() but int() refuses them.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, f"invalid_{name}", f"{name} must be an integer from {low} to {high}")
    return int(raw)
