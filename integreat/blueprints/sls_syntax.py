"""The syntax of Serverless Framework v3 variables: `${source:address, fallback, ...}`.

Hand-written because no Python library reads it; it follows the Framework's own parser
(serverless v3 `lib/configuration/variables/parse.js`):

- a variable starts `${` then a source type (a lowercase letter first, then letters, digits,
  `.`, `-`) followed by `:` (an address) or `(` (parameters, then an optional `:address`);
  anything else in `${...}` is not a variable (CloudFormation's `${AWS::Region}` in `!Sub`);
- sources are separated by commas; after the first, a source may be a literal: a quoted string
  ('single' as written, "double" as JSON), a number, `true`, `false` or `null`; an unquoted word
  is an error there (`${opt:stage, dev}` fails in v3: strings must be quoted);
- addresses and parameters may hold variables themselves (`${self:custom.${sls:stage}.x}`);
  quoted ones are literals;
- `\\${` is not a variable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TYPE = re.compile(r"[a-z][a-zA-Z0-9.-]*")
STRICT_TYPE = re.compile(r"[a-z][a-zA-Z0-9]*")  # parse.js `isType`, for fallback sources
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


class VariableSyntaxError(ValueError):
    """A `${...}` that the Framework would refuse to parse."""


@dataclass(frozen=True)
class Literal:
    """A value written in the variable itself: a quoted string, a number, true/false/null."""

    value: Any


#: An address or parameter: raw text (which may hold variables) or a literal.
Text = str | Literal


@dataclass(frozen=True)
class Source:
    """One source of a variable: `type` with its `params` and `address`, or a `literal`."""

    type: str | None
    address: Text | None = None
    params: tuple[Text | None, ...] = ()
    literal: Any = None

    def __str__(self) -> str:
        if self.type is None:
            return json.dumps(self.literal)
        params = f"({', '.join(_show(p) for p in self.params)})" if self.params else ""
        return f"{self.type}{params}" + (f":{_show(self.address)}" if self.address is not None else "")


def _show(text: Text | None) -> str:
    return text.value if isinstance(text, Literal) else "" if text is None else text


@dataclass(frozen=True)
class Variable:
    """`text[start:end]` is the variable; `sources` are tried in order."""

    start: int
    end: int
    sources: tuple[Source, ...]
    text: str


def variables(text: str) -> list[Variable]:
    """Every variable of `text`, left to right (nested ones stay inside their parent's text).

    >>> [str(s) for s in variables("events-${opt:stage, 'dev'}")[0].sources]
    ['opt:stage', '"dev"']
    """
    found: list[Variable] = []
    index = text.find("${")
    while index != -1:
        if index and text[index - 1] == "\\":
            index = text.find("${", index + 2)
            continue
        end = _closing(text, index + 2)
        if end == -1:
            _unterminated(text, index)
        sources = _sources(text[index + 2 : end]) if end != -1 else None
        if sources is None:  # not a variable: look inside it, as parse.js does for `foreign` text
            index = text.find("${", index + 2)
            continue
        found.append(Variable(index, end + 1, sources, text[index : end + 1]))
        index = text.find("${", end + 1)
    return found


def unescape(text: str) -> str:
    """The text of a string around its variables: `\\${` stands for `${`."""
    return text.replace("\\${", "${")


def _unterminated(text: str, index: int) -> None:
    if TYPE.match(text, index + 2) and _after_type(text, index + 2) in (":", "("):
        raise VariableSyntaxError(f"missing closing bracket in {text!r}")


def _after_type(text: str, start: int) -> str:
    match = TYPE.match(text, start)
    end = match.end() if match else start
    return text[end : end + 1] if text[end : end + 2] != "::" else ""


def _closing(text: str, start: int) -> int:
    """The index of the `}` closing a `${` whose body starts at `start`, or -1."""
    depth, index = 1, start
    while index < len(text):
        char = text[index]
        if char in "'\"" and depth:
            index = _string_end(text, index)
        elif text.startswith("${", index):
            depth, index = depth + 1, index + 1
        elif char == "}":
            depth -= 1
            if not depth:
                return index
        index += 1
    return -1


def _string_end(text: str, start: int) -> int:
    quote, index = text[start], start + 1
    while index < len(text) and text[index] != quote:
        index += 2 if quote == '"' and text[index] == "\\" else 1
    return index


def _split(body: str, separator: str = ",") -> list[str]:
    """`body` split at `separator`s outside quotes, parentheses and nested `${...}`."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(body):
        char = body[index]
        if char == separator and not depth:
            parts.append(body[start:index])
            start = index + 1
        elif char in "'\"":
            index = _string_end(body, index)
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        index += 1
    return [*parts, body[start:]]


def _sources(body: str) -> tuple[Source, ...] | None:
    first, *rest = _split(body)
    source = _typed(first)
    if source is None:
        return None  # `${AWS::Region}`, `${Name}`: CloudFormation's, not the Framework's
    return (source, *(_fallback(part) for part in rest))


def _typed(part: str, pattern: re.Pattern[str] = TYPE) -> Source | None:
    match = pattern.match(part)
    if not match:
        return None
    kind, rest = match.group(), part[match.end() :]
    params: tuple[Text | None, ...] = ()
    if rest.startswith("("):
        close = _split(rest[1:], ")")
        if len(close) < 2:
            raise VariableSyntaxError(f"unclosed parameters in {part!r}")
        params = tuple(_param(p) for p in _split(close[0]))
        rest = rest[len(close[0]) + 2 :]
    if rest.startswith("::") or not (rest.startswith(":") or (params and not rest.strip())):
        return None
    return Source(kind, _address(rest[1:]) if rest.startswith(":") else None, params)


def _address(text: str) -> Text | None:
    text = text.strip()
    if text[:1] in ("'", '"'):
        return Literal(_quoted(text))
    return text or None


def _param(text: str) -> Text | None:
    text = text.strip()
    if not text:
        return None
    if text[:1] in ("'", '"'):
        return Literal(_quoted(text))
    if "${" in text:
        return text
    literal = _literal(text)
    return Literal(literal) if literal is not _NOT_LITERAL else text


def _fallback(part: str) -> Source:
    text = part.strip()
    if text[:1] in ("'", '"'):
        return Source(None, literal=_quoted(text))
    typed = _typed(text, STRICT_TYPE)
    if typed is not None:
        return typed
    literal = _literal(text)
    if literal is _NOT_LITERAL:
        raise VariableSyntaxError(f"invalid fallback {text!r}: quote a string ('{text}')")
    return Source(None, literal=literal)


_NOT_LITERAL = object()


def _literal(text: str) -> Any:
    if text in KEYWORDS:
        return KEYWORDS[text]
    if NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    return _NOT_LITERAL


def _quoted(text: str) -> str:
    if text[0] == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise VariableSyntaxError(f"unterminated string {text!r}")
        return text[1:-1]
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise VariableSyntaxError(f"invalid string {text!r}: {exc}") from None
    if not isinstance(value, str):
        raise VariableSyntaxError(f"invalid string {text!r}")
    return value
