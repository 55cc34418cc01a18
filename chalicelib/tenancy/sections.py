"""Sections: how a feature plugs its part of an app into the app model.

The app model is a core (slug, name, enrollment, roles, status) plus named sections. Each feature
package exports one `AppSection` (`chalicelib.storage.section.STORAGE`, ...): its manifest key
(`[apps.<slug>.<key>]`), its parser and cross-app checks, and its codec for the registry, which
keeps every app's sections as one JSON document keyed by section name. A section of the whole
platform (`[integrations]`) is a `PlatformSection`. Neither the manifest parser nor the registry
names a feature: they take the list of sections (`chalicelib.apps`), one line per feature.

    STORAGE = AppSection("storage", StorageSpec(), parse=..., encode=..., decode=...)
    STORAGE.of(app)        # the app's StorageSpec (the default when it declared none)

Standard library only: the registry decodes sections on the request path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

T = TypeVar("T")


class AppContext(NamedTuple):
    """What a section's parser may know of its app: the slug, and its roles (None when the roles
    are themselves invalid, so that a section does not report one mistake twice)."""

    slug: str
    roles: tuple[str, ...] | None


class HasSections(Protocol):
    @property
    def sections(self) -> Sections: ...


class AppSection(Generic[T]):
    """One named section of every app. `parse` reads `[apps.<slug>.<key>]` from the app's table,
    reporting each problem on it, and answers None when the section is invalid; `check` runs once
    every app is parsed, with each app's value (None: invalid, already reported); `encode` gives
    the value's JSON form in the registry and `decode` reads it back (None: never stored)."""

    __slots__ = ("check", "decode", "default", "encode", "key", "parse")

    def __init__(
        self,
        key: str,
        default: T,
        *,
        parse: Callable[[Table, AppContext], T | None],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        check: Callable[[Table, Mapping[str, T | None]], None] | None = None,
    ) -> None:
        self.key, self.default = key, default
        self.parse, self.check, self.encode, self.decode = parse, check, encode, decode

    def of(self, app: HasSections) -> T:
        """This section of `app`; its default when the app declared none."""
        # `Sections` holds under this key only what this section's parse or decode produced, so
        # the value is a T: the cast states that invariant, it converts nothing.
        return cast(T, app.sections.get(self.key, self.default))

    def __repr__(self) -> str:
        return f"AppSection({self.key!r})"


class PlatformSection(Generic[T]):
    """A top-level table of the manifest (`[integrations]`), parsed once every app is known."""

    __slots__ = ("default", "key", "parse")

    def __init__(self, key: str, default: T, *, parse: Callable[[Table, Collection[str]], T]) -> None:
        self.key, self.default, self.parse = key, default, parse

    def of(self, manifest: HasSections) -> T:
        return cast(T, manifest.sections.get(self.key, self.default))  # as AppSection.of


class Sections(Mapping[str, object]):
    """An app's (or the platform's) section values by key, immutable and hashable. Only values
    that differ from their section's default are kept, so an app declared without a section
    equals one built without it, and the stored document stays small."""

    __slots__ = ("_encoders", "_values")

    def __init__(self, pairs: Iterable[tuple[AppSection[Any], object]] = ()) -> None:
        values: dict[str, object] = {}
        encoders: dict[str, AppSection[Any]] = {}
        for section, value in pairs:
            if value != section.default:
                values[section.key], encoders[section.key] = value, section
        self._values, self._encoders = values, encoders

    @classmethod
    def of_platform(cls, pairs: Iterable[tuple[PlatformSection[Any], object]]) -> Sections:
        found = cls()
        found._values = {section.key: value for section, value in pairs if value != section.default}
        return found

    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)  # hot path: no Mapping mixin detour

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sections) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items(), key=lambda item: item[0])))

    def __repr__(self) -> str:
        return f"Sections({self._values!r})"

    def document(self) -> dict[str, Any]:
        """The JSON document the registry stores: each section's encoded value by key."""
        return {key: self._encoders[key].encode(value) for key, value in self._values.items()}


def decode_document(sections: Iterable[AppSection[Any]], document: Mapping[str, Any] | None) -> Sections:
    """An app's sections from the registry's document, by name; keys no section claims (written
    by a newer release) are ignored, a section absent from the document is its default."""
    found = document or {}
    return Sections(
        (section, section.decode(found[section.key])) for section in sections if section.key in found
    )
