"""The event envelope: CloudEvents 1.0 in structured JSON mode (design decision 4).

`validate` checks what an app sends and returns every problem at once; the platform stamps
`source` from the verified caller (a body may repeat that value, never claim another) and fills
`time` when it is absent. `Envelope.to_json` is the text the queue carries; `parse` reads it back
on the consumer side. Spec: github.com/cloudevents/spec v1.0.2, `spec.md` and `formats/json-format.md`.

On every publish and every delivery, so it imports only the standard library's basics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple, TypeGuard

from chalicelib.messaging.spec import cut, show, type_problem

SPECVERSION = "1.0"
#: SQS allows 256 KiB per message, message attributes included: keep a margin for those.
MAX_EVENT_BYTES = 240 * 1024
MAX_ID_LENGTH = 256
JSON_CONTENT_TYPE = "application/json"
#: CloudEvents extension attribute names: lowercase letters and digits, 20 at most.
EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
CORE_ATTRIBUTES = frozenset(
    ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data")
)

_SOURCE = re.compile(r"/apps/([a-z][a-z0-9_]{0,39})")
# RFC 3339 section 5.6 date-time; impossible values (month 13, Feb 30) are left to datetime.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)", re.ASCII)
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(?:\s*;.*)?")
# Postgres text and jsonb refuse NUL, and a lone surrogate is not Unicode (nor valid UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NOT_IN_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT32 = range(-(2**31), 2**31)  # CloudEvents' Integer type
_NO_EXTENSIONS: Mapping[str, str | int | bool] = MappingProxyType({})
_TIME_RULE = "must be RFC 3339, e.g. 2026-11-27T10:00:00Z"
_FORGED = "set by the platform; a body may not claim another source (got {})"
_TEXT_RULE = "must be a non-empty string without U+0000; got {}"
_MEDIA_RULE = f"must be a media type such as {JSON_CONTENT_TYPE!r}; got {{}}"


class EnvelopeError(ValueError):
    """An event that is not a valid envelope; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


class Envelope(NamedTuple):
    """One valid event, `source` stamped and `time` filled. Build it with `validate` or `parse`."""

    id: str
    source: str
    type: str
    time: str
    specversion: str = SPECVERSION
    subject: str | None = None
    datacontenttype: str | None = JSON_CONTENT_TYPE
    data: Any = None  # any JSON value; None: no data
    extensions: Mapping[str, str | int | bool] = _NO_EXTENSIONS  # CloudEvents extension attributes

    def to_json(self) -> str:
        """Compact; attributes in a fixed order, extensions sorted, `data` last."""
        return self.json_with(self.data_json())

    def data_json(self) -> str | None:
        """`data` as compact JSON text, as `to_json` writes it; None when there is no data."""
        return None if self.data is None else json.dumps(self.data, separators=(",", ":"), allow_nan=False)

    def json_with(self, data: str | None) -> str:
        """`to_json`, given `data_json()` already made: the inbox stores both texts (issue 20)."""
        attributes = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "datacontenttype": self.datacontenttype,
        }
        body: dict[str, Any] = {name: value for name, value in attributes.items() if value is not None}
        body.update(sorted(self.extensions.items()))
        # ASCII (the default): escaped non-ASCII stays inside the characters SQS accepts.
        head = json.dumps(body, separators=(",", ":"), allow_nan=False)
        # `data` last, as the encoder would have written it: `{...,"data":<text>}`.
        return head if data is None else f'{head[:-1]},"data":{data}}}'


def source_for(slug: str) -> str:
    """The `source` the platform stamps on an app's events, a URI-reference: '/apps/<slug>'."""
    if not _SOURCE.fullmatch(f"/apps/{slug}"):
        raise ValueError(f"invalid app slug {slug!r}")
    return f"/apps/{slug}"


def app_of_source(source: object) -> str | None:
    """The app a stamped `source` names, or None if it is not one the platform stamps."""
    match = _SOURCE.fullmatch(source) if isinstance(source, str) else None
    return match[1] if match else None


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate(
    raw: Any, *, app: str, now: Callable[[], datetime] = utc_now
) -> tuple[Envelope | None, list[str]]:
    """Check `raw` (a decoded JSON object) as an event published by `app`.

    Returns (the envelope, []) or (None, every problem). `source` is stamped as
    `source_for(app)`; an absent `time` is filled from `now()` (UTC; a naive value is taken as
    UTC); an absent `datacontenttype` becomes application/json.
    """
    return _validate(raw, app, now, None)


def parse(text: str) -> Envelope:
    """The envelope in text made by `Envelope.to_json`; raise EnvelopeError if it is not one.

    The app is the one its `source` names, and `time` must be present: nothing is filled here.
    """
    try:
        raw = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise EnvelopeError([f"event: is not JSON text ({cut(str(exc))})"]) from None
    source = raw.get("source") if isinstance(raw, dict) else None
    app = app_of_source(source) if isinstance(raw, dict) else ""
    if app is None:
        raise EnvelopeError([f"source: must be '/apps/<slug>', stamped by the platform; got {show(source)}"])
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    envelope, problems = _validate(raw, app, None, size)
    if envelope is None:
        raise EnvelopeError(problems)
    return envelope


def _validate(
    raw: Any, app: str, now: Callable[[], datetime] | None, size: int | None
) -> tuple[Envelope | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"event: must be a JSON object; got {show(raw)}"]
    source = source_for(app)
    problems = _attribute_problems(raw, app, source, required_time=now is None)
    problems += _extension_problems(raw)
    problems += _data_problems(raw)
    envelope = None if problems else _envelope(raw, source, now)
    if size is None:
        size = _size(raw) if envelope is None else len(envelope.to_json())
    if size > MAX_EVENT_BYTES:
        problems.append(f"event is {_bytes(size)}; the limit is {_bytes(MAX_EVENT_BYTES)}")
    return (None if problems else envelope), problems


def _envelope(raw: dict[str, Any], source: str, now: Callable[[], datetime] | None) -> Envelope:
    time = raw.get("time")
    if time is None and now is not None:  # parse demands a time; validate fills one
        moment = now()
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        time = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    extensions = {k: v for k, v in raw.items() if k not in CORE_ATTRIBUTES and v is not None}
    content_type = raw.get("datacontenttype") or JSON_CONTENT_TYPE
    return Envelope(
        raw["id"], source, raw["type"], str(time), SPECVERSION, raw.get("subject"), content_type,
        raw.get("data"), MappingProxyType(extensions) if extensions else _NO_EXTENSIONS,
    )  # fmt: skip


# --- the attributes ------------------------------------------------------------------------------


def _attribute_problems(raw: dict[str, Any], app: str, source: str, required_time: bool) -> list[str]:
    found = {
        "specversion": _specversion_problem(raw.get("specversion")),
        "id": _id_problem(raw.get("id")),
        "source": _optional(raw.get("source"), lambda value: value == source, _FORGED),
        "type": _type_problem(raw.get("type"), app),
        "time": _time_problem(raw.get("time"), required_time),
        "subject": _optional(raw.get("subject"), _is_text, _TEXT_RULE),
        "datacontenttype": _optional(raw.get("datacontenttype"), _is_media_type, _MEDIA_RULE),
    }
    return [f"{name}: {problem}" for name, problem in found.items() if problem is not None]


def _optional(value: object, valid: Callable[[Any], object], template: str) -> str | None:
    """None if `value` is absent (null counts as absent in CloudEvents JSON) or valid."""
    return None if value is None or valid(value) else template.format(show(value))


def _specversion_problem(value: object) -> str | None:
    if value == SPECVERSION:
        return None
    return f"must be {SPECVERSION!r}; " + ("it is missing" if value is None else f"got {show(value)}")


def _id_problem(value: object) -> str | None:
    rule = f"must be a non-empty string of at most {MAX_ID_LENGTH} characters"
    if value is None:
        return f"{rule}; it is missing"
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
        return f"{rule}; got {show(value)}"
    bad = _NOT_IN_ID.search(value)
    return None if bad is None else f"must not contain U+{ord(bad[0]):04X}; got {show(value)}"


def _type_problem(value: object, app: str) -> str | None:
    if value is None:
        return f"is required: an event type namespaced by {app}, such as '{app}.thing.happened'"
    if not isinstance(value, str):
        return f"must be a string such as '{app}.thing.happened'; got {show(value)}"
    return type_problem(value, app)


def _time_problem(value: object, required: bool) -> str | None:
    if value is None:
        return f"{_TIME_RULE}; it is missing" if required else None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return f"{_TIME_RULE}; got {show(value)}"
    try:
        datetime.fromisoformat(value.upper())
    except ValueError as exc:  # the right shape, but an impossible date or time
        return f"{_TIME_RULE}; got {show(value)} ({exc})"
    return None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value != "" and not _UNSTORABLE.search(value)


def _is_media_type(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _MEDIA_TYPE.fullmatch(value) is not None


def _extension_problems(raw: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in raw.items():
        if name in CORE_ATTRIBUTES:
            continue
        if name == "data_base64":
            problems.append("data_base64: binary data is not supported; send JSON or text in 'data'")
        elif not isinstance(name, str) or not EXTENSION_NAME.fullmatch(name):
            rule = "extension attributes are named with 1 to 20 lowercase letters and digits"
            problems.append(f"unknown attribute {show(name)}: {rule}")
        elif (problem := _extension_value_problem(value)) is not None:
            problems.append(f"{name}: {problem}")
    return problems


def _extension_value_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if value in _INT32 else f"must fit a 32-bit integer; got {value}"
    if isinstance(value, str):
        return None if _is_text(value) else _TEXT_RULE.format(show(value))
    return f"an extension attribute must be a string, an integer or a boolean; got {show(value)}"


# --- the data ------------------------------------------------------------------------------------


def _data_problems(raw: dict[str, Any]) -> list[str]:
    data, content_type = raw.get("data"), raw.get("datacontenttype")
    if data is None:
        return []
    # Structured mode carries non-JSON content as a string (CloudEvents JSON format, section 3.1).
    # An invalid content type is reported on its own.
    if _is_media_type(content_type) and not is_json_media(content_type) and not isinstance(data, str):
        return [f"data: with datacontenttype {show(content_type)} must be a string; got {show(data)}"]
    problem = _json_problem(data)
    return [] if problem is None else [problem]


def is_json_media(content_type: str | None) -> bool:
    """Whether data of this `datacontenttype` is JSON: any "*/json" or "*+json" type, or none."""
    return content_type is None or content_type.split(";", 1)[0].strip().lower().endswith(("/json", "+json"))


def _json_problem(data: Any) -> str | None:
    """The first value in `data` the inbox cannot store as JSON, with its path; or None."""
    # The encoder refuses NaN, non-JSON types and (encoding) lone surrogates, and shows NUL as
    # \u0000, at C speed: the walk below, which names the place, runs only if it finds something.
    try:
        if b"\\u0000" not in json.dumps(data, ensure_ascii=False, allow_nan=False).encode():
            return None
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        pass
    return _locate_json_problem(data)


def _locate_json_problem(data: Any) -> str | None:
    # Iterative: nesting as deep as the JSON decoder allows must not exhaust the stack.
    stack: list[tuple[Any, str]] = [(data, "data")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or _UNSTORABLE.search(key):
                    return f"{cut(path)}: has a key the inbox cannot store: {show(key)}"
                stack.append((item, f"{path}.{key}" if _BARE_KEY.fullmatch(key) else f"{path}[{key!r}]"))
        elif isinstance(value, list | tuple):  # the encoder writes a tuple as an array
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        elif (problem := _scalar_problem(value)) is not None:
            return f"{cut(path)}: {problem}"
    return None


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, str):
        bad = _UNSTORABLE.search(value)
        return None if bad is None else f"contains U+{ord(bad[0]):04X}, which the inbox cannot store"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number; got {value} (not JSON)"
    if value is None or isinstance(value, bool | int):
        return None
    return f"must be JSON (object, array, string, number, boolean or null); got a {type(value).__name__}"


def _size(raw: dict[str, Any]) -> int:
    try:
        return len(json.dumps(raw, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return 0  # not JSON: reported already


def _bytes(size: int) -> str:
    """'300 KiB' for whole KiB, else '245,761 bytes'."""
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size:,} bytes"
