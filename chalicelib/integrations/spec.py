"""The `[integrations.<name>]` tables of the manifest, and their parser.

    [integrations.weather]
    base_url = "https://api.weather.example/v1"   # https only; the proxy never calls elsewhere
    local_base_url = "http://127.0.0.1:8099/v1"   # optional stand-in for `make dev` (loopback only)
    methods = ["GET"]                              # default ["GET"]
    paths = ["forecast/"]                          # allowed path prefixes; default [""] (all)
    secret = "integreat/integrations/weather"      # Secrets Manager secret id (its SecretString)
    header = "X-Api-Key"                           # the header the secret is injected into
    value = "{secret}"                             # default "{secret}"; e.g. "Bearer {secret}"
    apps = ["church", "events"]                    # who may call it (deny by default)
    per_minute = 60                                # calls per app per minute (default 60)
    timeout_seconds = 10                           # default 10, at most 29 (API Gateway's limit)
    max_request_bytes = 1048576                    # default 1 MiB
    max_response_bytes = 5242880                   # default 5 MiB, at most 6 MB (Lambda's limit)

Only the manifest tooling imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.integrations.model import METHODS, IntegrationSpec

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+"  # never "." or ".."
PATH_PREFIX = re.compile(rf"(?:{_SEGMENT}/)*(?:{_SEGMENT}/?)?")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: Headers the proxy sets or strips itself: injecting into one would be overwritten or unsafe.
RESERVED_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "cookie"})
KEYS = (
    "base_url", "local_base_url", "methods", "paths", "secret", "header", "value", "apps",
    "per_minute", "timeout_seconds", "max_request_bytes", "max_response_bytes",
)  # fmt: skip
MAX_RESPONSE = 6_000_000


def parse_integrations(doc: Table, slugs: Collection[str]) -> tuple[IntegrationSpec, ...]:
    table = doc.table("integrations", "a table of integrations, written [integrations.<name>]", default={})
    if table is None:
        return ()
    found = []
    for name in table.values:
        if not NAME.fullmatch(name):
            table.report(name, "invalid integration name: a-z first, then up to 39 of a-z, 0-9, '_', '-'")
            continue
        entry = table.table(name, f"a table, written [integrations.{name}]")
        spec = _parse_one(entry, name, slugs) if entry is not None else None
        if spec is not None:
            found.append(spec)
    return tuple(found)


def _parse_one(entry: Table, name: str, slugs: Collection[str]) -> IntegrationSpec | None:
    before = len(entry.issues)
    entry.check_keys(KEYS)
    base = _url(entry, "base_url", local=False)
    local = _url(entry, "local_base_url", local=True) if "local_base_url" in entry.values else None
    header = entry.matching("header", HEADER, "an HTTP header name such as 'X-Api-Key'")
    if header is not None and header.lower() in RESERVED_HEADERS:
        entry.report("header", f"{header!r} is set by the proxy itself; choose another header")
    value = entry.text("value", "the header value, with {secret} where the secret goes", "{secret}")
    if value is not None and value.count("{secret}") != 1:
        entry.report("value", "must contain {secret} exactly once")
    spec = IntegrationSpec(
        name=name,
        base_url=base or "",
        local_base_url=local,
        methods=_strings(
            entry, "methods", ["GET"], lambda m: m in METHODS, f"methods among {', '.join(METHODS)}"
        ),
        paths=_strings(
            entry, "paths", [""], PATH_PREFIX.fullmatch, "relative path prefixes such as 'forecast/'"
        ),
        secret=entry.matching("secret", SECRET_ID, "a Secrets Manager secret id or ARN") or "",
        header=header or "",
        value=value or "",
        apps=_apps(entry, slugs),
        per_minute=_number(entry, "per_minute", 60, 1, 100_000),
        timeout_seconds=float(_number(entry, "timeout_seconds", 10, 1, 29)),
        max_request_bytes=_number(entry, "max_request_bytes", 1_048_576, 0, MAX_RESPONSE),
        max_response_bytes=_number(entry, "max_response_bytes", 5_242_880, 1, MAX_RESPONSE),
    )
    return spec if len(entry.issues) == before else None


def _url(entry: Table, key: str, *, local: bool) -> str | None:
    text = entry.text(key, "an absolute URL")
    if text is None:
        return None
    parts = urlsplit(text)
    problem = None
    if parts.query or parts.fragment or parts.username or parts.password or not parts.hostname:
        problem = "an absolute URL without user, query or fragment"
    elif local and parts.hostname not in LOOPBACK:
        problem = "a loopback URL (127.0.0.1, localhost): the local stand-in for the real API"
    elif not local and parts.scheme != "https":
        problem = "an https:// URL (the secret never travels in clear)"
    elif local and parts.scheme not in ("http", "https"):
        problem = "an http:// or https:// URL"
    if problem:
        entry.reject(key, problem, text)
        return None
    return text.rstrip("/")


def _strings(entry: Table, key: str, default: list[str], ok: Any, allowed: str) -> tuple[str, ...]:
    raw = entry.values.get(key, default)
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and ok(v) for v in raw):
        entry.reject(key, f"a non-empty array of {allowed}", raw)
        return ()
    return tuple(dict.fromkeys(raw))


def _apps(entry: Table, slugs: Collection[str]) -> tuple[str, ...]:
    raw = entry.values.get("apps")
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        entry.reject("apps", 'an array of app slugs such as ["church"] (who may call it)', raw)
        return ()
    for index, app in enumerate(raw):
        if app not in slugs:
            entry.child("apps").report(index, f"{app!r} is not an app of this manifest")
    return tuple(dict.fromkeys(raw))


def _number(entry: Table, key: str, default: int, low: int, high: int) -> int:
    raw = entry.values.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        entry.reject(key, f"an integer from {low} to {high}", raw)
        return default
    return raw
