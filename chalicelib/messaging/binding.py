"""The CloudEvents HTTP binding: a publish request's headers and body -> the events `publish()` takes.

    read_events({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0", ...}',
                json_body=lambda: request.json_body)  # -> [{"specversion": "1.0", ...}]

The Content-Type picks the mode (HTTP binding section 3): `application/cloudevents-batch+json` is
a batch (a JSON array), `application/cloudevents+json` one structured event, any other type with
`ce-` headers binary mode (attributes in the headers, the data as the body), and plain
`application/json` without them our own JSON body (one event or a list), read by Chalice as
before. Only the shape is checked here: every event then goes through `envelope.validate` like a
JSON one, so a `ce-source` header is a body `source` (stamped by the platform, never another app's)
and the type must be one the app publishes. Spec: github.com/cloudevents/spec v1.0.2,
`cloudevents/bindings/http-protocol-binding.md`, `cloudevents/formats/json-format.md`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from chalicelib.inputs import InputError, clean_text, decode_json
from chalicelib.messaging.envelope import JSON_CONTENT_TYPE, SPECVERSION, is_json_media
from chalicelib.messaging.publish import MAX_BATCH, PublishRequestError, as_batch
from chalicelib.messaging.spec import show

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
CE_PREFIX = "ce-"
#: Binary mode needs these; `source` is the platform's to stamp, so it may be left out.
REQUIRED_HEADERS = ("ce-specversion", "ce-id", "ce-type")
#: Attributes that binary mode carries elsewhere: the data is the body, its type the Content-Type
#: (section 3.1.1: `ce-datacontenttype` MUST NOT be present).
_NOT_HEADERS = {"data": "the request body", "data_base64": "the request body",
                "datacontenttype": "the Content-Type header"}  # fmt: skip
_ACCEPTED = (
    f"send {JSON_CONTENT_TYPE}, {STRUCTURED}, {BATCH}, or binary mode"
    " (the event's attributes as ce-specversion, ce-id and ce-type headers, the data as the body)"
)
# RFC 7230 section 3.2.6 quoted-string, and its backslash escapes (binding section 3.1.3.2).
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPED = re.compile(r"\\(.)")


class BindingError(ValueError):
    """A request that is no CloudEvents HTTP message we read: `status` (400, or 415 for a media
    type we do not read) and a machine `code`; the message says what to send instead."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def read_events(
    headers: Mapping[str, str], body: bytes | str | None, *, json_body: Callable[[], Any]
) -> list[Any]:
    """The 1 to 10 events of a publish request, each as decoded JSON (a dict when well formed).

    `headers` in any case; `body` as Chalice's `raw_body`; `json_body` reads an `application/json`
    body exactly as Chalice's `request.json_body` does (our JSON body, unchanged).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type")
    media, charset = _media(content_type)
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if media.startswith("application/cloudevents"):  # section 3: prefix match, batch first
        return (
            _batch(raw, media, charset)
            if media.startswith("application/cloudevents-batch")
            else [_structured(raw, media, charset)]
        )
    if any(name.startswith(CE_PREFIX) for name in lowered):
        return [_binary(lowered, raw, content_type, charset)]
    if media in ("", JSON_CONTENT_TYPE):  # Chalice's default when no Content-Type is sent
        return _our_json(json_body)
    raise BindingError(
        "unsupported_media_type", f"Content-Type {show(media)} is not an event: {_ACCEPTED}", 415
    )


# --- the modes -----------------------------------------------------------------------------------


def _our_json(json_body: Callable[[], Any]) -> list[Any]:
    try:
        return as_batch(json_body())
    except PublishRequestError as exc:
        raise BindingError("invalid_events", str(exc)) from None


def _structured(raw: bytes, media: str, charset: str | None) -> Any:
    _json_format_only(media, STRUCTURED, charset)
    event = _json(raw, "structured mode: the body")
    if not isinstance(event, dict):
        message = f"structured mode: the body is one event, a JSON object; got {show(event)}"
        hint = f" (send a list of events as {BATCH})" if isinstance(event, list) else ""
        raise BindingError("invalid_event", message + hint)
    return event


def _batch(raw: bytes, media: str, charset: str | None) -> list[Any]:
    _json_format_only(media, BATCH, charset)
    events = _json(raw, "batch mode: the body")
    if not isinstance(events, list):
        message = f"batch mode: the body is a JSON array of 1 to {MAX_BATCH} events; got {show(events)}"
        hint = f" (send one event as {STRUCTURED})" if isinstance(events, dict) else ""
        raise BindingError("invalid_events", message + hint)
    if not 1 <= len(events) <= MAX_BATCH:  # the format allows [], but nothing to publish is a mistake
        raise BindingError("invalid_events", f"batch mode: send 1 to {MAX_BATCH} events; got {len(events)}")
    return events


def _binary(headers: dict[str, str], raw: bytes, content_type: str | None, charset: str | None) -> Any:
    missing = [name for name in REQUIRED_HEADERS if name not in headers]
    if missing:
        names = ", ".join(missing)
        message = (
            f"binary mode: the {names} header{'s' if len(missing) > 1 else ''} must be sent; {_ACCEPTED}"
        )
        raise BindingError("missing_attribute", message)
    event: dict[str, Any] = _attributes(headers)
    if event["specversion"] != SPECVERSION:
        message = f"binary mode: ce-specversion must be {SPECVERSION!r}; got {show(event['specversion'])}"
        raise BindingError("unsupported_specversion", message)
    if content_type is not None:
        event["datacontenttype"] = content_type
    if raw:  # no body: an event without data
        event["data"] = _binary_data(raw, content_type, charset)
    return event


def _attributes(headers: dict[str, str]) -> dict[str, str]:
    """Every `ce-<name>` header as the attribute `<name>` (header names are case-insensitive)."""
    attributes = {}
    for header, value in headers.items():
        name = header.removeprefix(CE_PREFIX)
        if name == header:
            continue
        if name in _NOT_HEADERS:
            message = f"binary mode: the {name} is {_NOT_HEADERS[name]}; do not send a {header} header"
            raise BindingError("invalid_header", message)
        attributes[name] = _header_value(header, value)
    return attributes


def _binary_data(raw: bytes, content_type: str | None, charset: str | None) -> Any:
    _utf8_only(charset)
    if is_json_media(content_type):
        return _json(raw, f"binary mode: the body (Content-Type {show(content_type or JSON_CONTENT_TYPE)})")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        message = (
            f"binary mode: the body (Content-Type {show(content_type)}) is not UTF-8 text;"
            " binary data is not supported: send JSON or text"
        )
        raise BindingError("invalid_data", message) from None


# --- the pieces ----------------------------------------------------------------------------------


def _media(content_type: str | None) -> tuple[str, str | None]:
    """('type/subtype' lowercased, or '' if absent; the charset parameter lowercased, or None)."""
    media, *parameters = (content_type or "").split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _json_format_only(media: str, expected: str, charset: str | None) -> None:
    if media != expected:  # e.g. application/cloudevents+avro: another event format
        message = f"{show(media)}: only the JSON event format is read: send {STRUCTURED} or {BATCH}"
        raise BindingError("unsupported_media_type", message, 415)
    _utf8_only(charset)


def _utf8_only(charset: str | None) -> None:
    # JSON between systems MUST be UTF-8 (RFC 8259 section 8.1), and text data is stored as it is.
    if charset is not None and charset != "utf-8":
        message = f"charset {show(charset)} is not supported: send UTF-8 (charset=utf-8) or no charset"
        raise BindingError("unsupported_charset", message, 415)


def _json(raw: bytes, what: str) -> Any:
    try:
        return decode_json(raw, what)  # the one input boundary: depth, size, NaN, NUL, surrogates
    except InputError as exc:
        raise BindingError("invalid_json", exc.message) from None


def _header_value(header: str, value: str) -> str:
    """A header's attribute value: quoted strings unescaped, then one round of percent-decoding
    whose bytes must be UTF-8 (binding section 3.1.3.2: "%C0%A0" MUST be rejected)."""
    if not value.isascii():  # HTTP header values are printable US-ASCII (RFC 7230 section 3.2)
        raise BindingError("invalid_header", f"{header}: percent-encode characters outside ASCII")
    if '"' in _QUOTED.sub("", value):
        raise BindingError("invalid_header", f"{header}: an unterminated quoted string: {show(value)}")
    unquoted = _QUOTED.sub(lambda match: _ESCAPED.sub(r"\1", match[1]), value.strip())
    try:
        return clean_text(header, unquote_to_bytes(unquoted).decode("utf-8"))
    except InputError as exc:  # "%00" decodes to NUL, which may not reach SQL or a log line
        raise BindingError("invalid_header", exc.message) from None
    except UnicodeDecodeError:
        message = f"{header}: the percent-encoded bytes are not UTF-8: {show(value)}"
        raise BindingError("invalid_header", message) from None
