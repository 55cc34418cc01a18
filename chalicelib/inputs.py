"""The input boundary: what a client sends, decoded and checked once, into clean Python values.

    decode_json(b'{"folder": "uploads/"}', "the body")   # -> {"folder": "uploads/"}
    text_problem("a\\x00b")                               # -> "holds a NUL character (\\x00)"

Clean means: JSON at most MAX_JSON_DEPTH deep and MAX_JSON_BYTES long, strictly RFC 8259 (no
NaN/Infinity, no number that overflows a float), and every text valid Unicode
without NUL or an unpaired surrogate. Those reach SQL, S3 keys and log lines, where they fail
late and as 500s: psycopg2 refuses NUL in a literal, UTF-8 encoding refuses a lone surrogate,
Postgres `jsonb` refuses `\\u0000` and NaN, and json.loads itself raises RecursionError (not
ValueError) on deep nesting (issue 14).

Standard library only, and no other chalicelib import: the token verifier and the CloudEvents
binding call it as well as the gateway, and it is on the cold-start path.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deeper than any event or upload body we read; far below json.loads' recursion limit (~1000).
MAX_JSON_DEPTH = 64
#: Lambda's synchronous invocation payload limit (6 MB): nothing larger can reach a handler in AWS.
MAX_JSON_BYTES = 6 * 1024 * 1024

# Pattern strings, not compiled here: compiling four costs ~1 ms of every cold start, and `re`
# caches a pattern on its first use (which for all but the last is a rare, deeply bracketed body).
# A JSON string, escapes included (the "unrolled loop" form: no backtracking per character).
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_NOT_BRACKET = r"[^\[\]{}]+"
_PAIR = r"\[\]|\{\}"
# Escapes whose decoded text may be refused: NUL, and surrogate halves (paired ones are fine).
_SUSPECT_ESCAPE = r"\\u(?:0000|[dD][89a-fA-F])"


class InputError(ValueError):
    """Client input that is not acceptable: `message` says what is wrong and what to send."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def text_problem(text: str) -> str | None:
    """Why `text` may not reach SQL, an S3 key or a log line, or None when it is clean."""
    if "\x00" in text:
        return "holds a NUL character (\\x00)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds an unpaired UTF-16 surrogate (\\ud800-\\udfff): it is not Unicode text"
    return None


def clean_text(what: str, text: str) -> str:
    """`text` unchanged if clean; InputError naming `what` (e.g. "query parameter 'cursor'")."""
    problem = text_problem(text)
    if problem is not None:
        raise InputError(f"{what} {problem}; send valid UTF-8 text without NUL")
    return text


def decode_json(raw: bytes | str | None, what: str = "the body") -> Any:
    """The JSON value in `raw`, checked as the module says; InputError otherwise.

    The depth is checked before parsing, so json.loads never recurses deeper than MAX_JSON_DEPTH.
    """
    text = _text(raw, what)
    _check_depth(text, what)
    try:
        value = _DECODER.decode(text)
    except InputError as exc:
        raise InputError(f"{what}: {exc.message}") from None
    except ValueError as exc:  # JSONDecodeError, and int()'s 4,300-digit limit
        raise InputError(f"{what} is not JSON: {str(exc)[:200]}") from None
    if re.search(_SUSPECT_ESCAPE, text):  # rare: only then walk the value
        _check_strings(value, what)
    return value


def _text(raw: bytes | str | None, what: str) -> str:
    if raw is None or not raw:
        raise InputError(f"{what} is empty: send a JSON value")
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"{what} is larger than {MAX_JSON_BYTES:,} bytes")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text: JSON must be UTF-8 (RFC 8259 section 8.1)") from None


def _check_depth(text: str, what: str) -> None:
    # Fast path: fewer opening brackets than the limit cannot nest deeper than it (~1 us per KB).
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    # Brackets only, outside strings. Each pass deletes every innermost pair ("[]" or "{}"
    # adjacent once the rest is gone), i.e. the leaves of the nesting tree: the number of
    # passes that still shrink the text is its depth. One regex pass sees only the text it
    # started from, so a pair exposed by a deletion waits for the next pass.
    brackets = re.sub(_NOT_BRACKET, "", re.sub(_STRING, "", text))
    passes = 0
    while passes <= MAX_JSON_DEPTH:
        shorter = re.sub(_PAIR, "", brackets)
        if shorter == brackets:
            break  # empty (balanced), or what does not pair up: json.loads then says where
        brackets, passes = shorter, passes + 1
    # What never paired up ("[[[[" unclosed) is as deep as it is long, and json.loads would recurse into it.
    if passes > MAX_JSON_DEPTH or len(brackets) > MAX_JSON_DEPTH:
        raise InputError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects")


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity): send a number or null")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # "1e999" parses as inf, which Postgres jsonb refuses
        raise InputError(f"the number {literal[:40]} is too large for a 64-bit float")
    return value


#: Built once: json.loads with arguments builds a decoder per call. Duplicate keys are left to
#: Python's rule (the last wins): the value checked is the value used, and what we pass on is
#: re-serialized from it, so no other parser sees the duplicate; a per-object hook to refuse them
#: would double the parse time of a typical body.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _check_strings(value: Any, what: str) -> None:
    """Every string (keys too) in the decoded `value` clean; depth is bounded, so recursion is."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise InputError(f"{what}: a JSON string {problem}; send valid Unicode text without \\u0000")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, what)
            _check_strings(item, what)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, what)
