"""Request input for the routes: one place that turns bad input into a clear 400.

The authorization middleware calls `check_request` first on every request, so path parameters,
query values and headers that reach a view (and every log line) are clean text
(`gateway/inputs.py`); views read the query with `query` and the JSON body with `json_body`,
never `request.json_body` (whose json.loads raises RecursionError on deep nesting: a 500).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chalice.app import Request

from chalicelib.gateway.errors import ApiError
from chalicelib.inputs import InputError, clean_text, decode_json, text_problem


def check_request(request: Request) -> None:
    """400 for a path parameter, query parameter or header that is not clean text."""
    _check((request.uri_params or {}).items(), "the path parameter", "invalid_request")
    _check(_query_pairs(request), "the query parameter", "invalid_request")
    _check(request.headers.items(), "the header", "invalid_header")


def _check(pairs: Iterable[tuple[str, str]], what: str, code: str) -> None:
    # Hot path (every request, ~10 headers): the message is built only for a refusal.
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            raise ApiError(400, code, f"{what} {name!r} {problem}; send valid UTF-8 text without NUL")


def _query_pairs(request: Request) -> Iterator[tuple[str, str]]:
    # Every value of a repeated name, not only the last: the integration proxy forwards them all.
    lists: dict[str, list[str]] = request.to_original_event().get("multiValueQueryStringParameters") or {}
    return ((name, value) for name, values in lists.items() for value in values)


def query(request: Request | None) -> dict[str, str]:
    """The query parameters (the last value of a repeated name), checked by `check_request`."""
    params = dict((request.query_params if request is not None else None) or {})
    try:
        return {clean_text("a query parameter", k): clean_text(f"the query parameter {k!r}", v)
                for k, v in params.items()}  # fmt: skip
    except InputError as exc:  # only off the middleware's path (it refused these already)
        raise ApiError(400, "invalid_request", exc.message) from None


def json_body(request: Request | None) -> Any:
    """The request's JSON body, decoded and checked (`inputs.decode_json`); None without a body.

    A 400 `invalid_json` says what is wrong: not UTF-8, not JSON, too deep, too large, NaN, NUL.
    """
    try:
        # raw_body encodes a text body to UTF-8 itself, and a lone surrogate cannot be encoded
        raw = request.raw_body if request is not None else None
        return decode_json(raw, "the body") if raw else None
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_json", "the body is not UTF-8 text: JSON must be UTF-8") from None
    except InputError as exc:
        raise ApiError(400, "invalid_json", exc.message) from None


def integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """`params[name]` as an int in [low, high], `default` when absent; 400 `invalid_<name>` otherwise."""
    raw = params.get(name)
    if raw is None:
        return default
    # isascii: "²" and "①" pass isdigit() but int() refuses them.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, f"invalid_{name}", f"{name} must be an integer from {low} to {high}")
    return int(raw)
