"""An integration as the runtime sees it, and its JSON form in `integreat.integrations`.

Read on the request path, so a NamedTuple and the standard library only.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from chalicelib.integrations import METHODS as METHODS  # re-exported


class IntegrationSpec(NamedTuple):
    name: str  # the URL name: /apps/<app>/integrations/<name>/...
    base_url: str  # https://host[:port][/path]: every call goes here and nowhere else
    local_base_url: str | None  # a loopback stand-in, used only by the local platform and tests
    methods: tuple[str, ...]  # the HTTP methods callers may use
    paths: tuple[str, ...]  # allowed path prefixes, relative to the base URL ("" = all)
    secret: str  # the Secrets Manager secret id whose SecretString is injected
    header: str  # the request header it is injected into
    value: str  # the header's value, with "{secret}" where the secret goes
    apps: tuple[str, ...]  # apps whose members and services may call it
    per_minute: int  # calls per app per minute; over it -> 429 with Retry-After
    timeout_seconds: float
    max_request_bytes: int
    max_response_bytes: int

    def allows_path(self, path: str) -> bool:
        """`path` (relative, no leading "/") lies under one of the allowed prefixes; a prefix
        matches whole segments ("messages" allows "messages" and "messages/1", not "messagesx")."""
        return any(
            p == "" or path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/")
            for p in self.paths
        )


def to_json(spec: IntegrationSpec) -> str:
    return json.dumps(spec._asdict())


def from_json(value: Any) -> IntegrationSpec:
    data = json.loads(value) if isinstance(value, str) else dict(value)
    for key in ("methods", "paths", "apps"):
        data[key] = tuple(data[key])
    return IntegrationSpec(**data)
