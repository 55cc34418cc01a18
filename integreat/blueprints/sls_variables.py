"""Serverless Framework v3 variables, resolved statically, the way the Framework resolves them.

Follows serverless v3 `lib/configuration/variables/resolve.js`:

- a variable's sources are tried in order; a source with no value (an unset option or
  environment variable, a missing `self` key or file) gives way to the next; the last one
  having none is an error ("Value not found"); a literal ends the search;
- a string that is one variable takes its value as it is (a mapping, a number...); a string
  with text around its variables is a string, and a variable giving a mapping there is an error;
- values that hold variables again are resolved again, at most 10 levels deep (the Framework's
  limit, "Excessive variables nest depth"); a property depending on itself is a circular reference;
- `self` reads the configuration, resolving what it passes through first.

Where the Framework would reach the cloud or a plugin, or would fail, the value stays an
`Unresolved` reference and a "not mapped" note names its key: one value lost, never the file.
The sources themselves are in `sls_sources.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integreat.blueprints import sls_sources
from integreat.blueprints.proposal import UNMAPPED
from integreat.blueprints.sls_intrinsics import Intrinsic
from integreat.blueprints.sls_sources import FromEnvironment, Options, Unresolvable
from integreat.blueprints.sls_syntax import Variable, VariableSyntaxError, unescape, variables

#: resolve.js: `nestTracker = 10` and "Excessive property variables nest depth" past 10.
MAX_DEPTH = 10
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Unresolved:
    """A value that stays as written: `text` (e.g. "${ssm:/app/key}"), at `key`, and why."""

    text: str
    key: str
    reason: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Note:
    """A finding of the resolution, in the report's kinds (proposal.py)."""

    kind: str
    key: str
    message: str


class CircularReferenceError(Unresolvable):
    """A property that depends on itself, through `self` references."""


def dotted(path: Path) -> str:
    """The report's name of a place: `functions.hello.events[0].sqs.arn`."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text or "(top)"


class Resolver:
    """Resolves every variable of one service configuration; `notes` says what it could not.

    >>> Resolver({"service": "x", "custom": {"n": "${self:service}-${sls:stage}"}}, Options()).resolve()["custom"]
    {'n': 'x-dev'}
    """

    def __init__(self, config: dict[str, Any], options: Options) -> None:
        self.config = config
        self.options = options
        self.notes: list[Note] = []
        self._done: dict[Path, Any] = {}
        self._active: list[Path] = []
        self._nest: dict[Path, int] = {}
        self.variables_seen = 0  # how many `${...}` it met: the report says which stage it used

    def resolve(self) -> dict[str, Any]:
        resolved: dict[str, Any] = self.full((), self.config)
        return resolved

    def note(self, kind: str, path: Path, message: str) -> None:
        self.notes.append(Note(kind, dotted(path), message))

    def full(self, path: Path, node: Any) -> Any:
        """`node` (the value at `path`) with every variable inside it resolved."""
        if isinstance(node, str):
            node = self._leaf(path, node)
            if not isinstance(node, dict | list | Intrinsic):
                return node
        if isinstance(node, dict):
            return {key: self.full((*path, key), value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.full((*path, index), value) for index, value in enumerate(node)]
        if isinstance(node, Intrinsic):  # its arguments may hold variables: `!Sub "x-${sls:stage}"`
            return Intrinsic(
                node.function, self.full((*path, node.function), node.argument), node.line, node.file
            )
        return node

    def lookup(self, keys: list[str]) -> Any:
        """The resolved value at `keys` of the configuration (`${self:a.b}`), or None."""
        node: Any = self.config
        path: Path = ()
        for key in keys:
            step = _child(node, key)
            if step is None:
                return None
            path, node = (*path, step[0]), step[1]
            if isinstance(node, str):
                node = self._leaf(path, node)
            if isinstance(node, Unresolved):
                raise Unresolvable(f"uses {dotted(path)}, which is not resolved")
        return self.full(path, node)

    def evaluate(self, path: Path, text: str, depth: int = 0) -> Any:
        """The value of a string at `path`; raises Unresolvable for one the importer cannot know."""
        try:
            found = variables(text)
        except VariableSyntaxError as exc:
            raise Unresolvable(f"variable syntax: {exc}") from None
        if not found:
            return unescape(text)
        self.variables_seen += len(found)
        if depth > MAX_DEPTH:
            raise Unresolvable(f"more than {MAX_DEPTH} levels of variables giving variables (a cycle?)")
        values = [self._variable(path, variable, depth) for variable in found]
        if len(found) == 1 and (found[0].start, found[0].end) == (0, len(text)):
            return values[0]
        return _join(text, found, values)

    def _leaf(self, path: Path, text: str) -> Any:
        if path in self._done:
            return self._done[path]
        if path in self._active:
            chain = " -> ".join(dotted(p) for p in self._active[self._active.index(path) :])
            raise CircularReferenceError(f"circular reference: {chain} -> {dotted(path)}")
        self._active.append(path)
        try:
            value = self._guarded(path, text)
        finally:
            self._active.pop()
        self._done[path] = value
        return value

    def _guarded(self, path: Path, text: str) -> Any:
        try:
            if self._nesting(path) > MAX_DEPTH:
                raise Unresolvable(f"more than {MAX_DEPTH} levels of values holding variables (a cycle?)")
            value = self.evaluate(path, text)
        except Unresolvable as exc:
            reason = str(exc)  # a source's reason starts with its variable; say it once
            self.note(
                UNMAPPED,
                path,
                f"{reason if reason.startswith(text) else f'{text}: {reason}'}; left as written",
            )
            return Unresolved(text, dotted(path), str(exc))
        if isinstance(value, dict | list) and "${" in text:
            self._nest[path] = self._nesting(path) + 1  # its own strings are one level deeper
        return value

    def _nesting(self, path: Path) -> int:
        return max((self._nest.get(path[:i], 0) for i in range(len(path) + 1)), default=0)

    def _variable(self, path: Path, variable: Variable, depth: int) -> Any:
        for source in variable.sources:
            value = sls_sources.resolve(self, path, source, depth)
            if value is not None:
                return self._again(path, value, depth)
        last = variable.sources[-1]
        raise Unresolvable(f"{variable.text}: no value at the {last.type} source and no fallback")

    def _again(self, path: Path, value: Any, depth: int) -> Any:
        """A source's string may hold variables itself: resolved too (resolveInternalResult)."""
        if isinstance(value, Unresolved):
            raise Unresolvable(f"uses {value.key}, which is not resolved")
        if not isinstance(value, str) or "${" not in value:
            return value
        result = self.evaluate(path, value, depth + 1)
        if isinstance(value, FromEnvironment) and isinstance(result, str):
            return FromEnvironment(result, value.names)
        return result


def _child(node: Any, key: str) -> tuple[str | int, Any] | None:
    if isinstance(node, dict) and key in node:
        return key, node[key]
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return int(key), node[int(key)]
    return None


def _join(text: str, found: list[Variable], values: list[Any]) -> str:
    """The string a value with text around its variables becomes (resolve.js `coerceString`)."""
    pieces: list[str] = []
    names: list[str] = []
    last = 0
    for variable, value in zip(found, values, strict=True):
        pieces += [unescape(text[last : variable.start]), _as_text(variable, value)]
        names += value.names if isinstance(value, FromEnvironment) else ()
        last = variable.end
    joined = "".join([*pieces, unescape(text[last:])])
    return FromEnvironment(joined, tuple(names)) if names else joined


def _as_text(variable: Variable, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JavaScript writes 2.0 as "2"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Intrinsic):
        raise Unresolvable(f"{variable.text} is {value} ({value.where}) inside a string: the Framework"
                           " refuses it; write the whole value as `!Sub` instead")  # fmt: skip
    raise Unresolvable(f"{variable.text} gives a {type(value).__name__} inside a string (the Framework"
                       " refuses it: NON_STRING_VARIABLE_RESULT)")  # fmt: skip
