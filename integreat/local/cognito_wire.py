"""The wire of the local Cognito layer: requests, replies and Cognito's JSON error shape.

Every answer to an AWS JSON 1.1 call is JSON, as Cognito's are: moto's HTML pages (an operation it
does not implement, an exception inside it) become `{"__type", "message"}` with the
`x-amzn-ErrorType` header that SDKs read the code from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple

Event = dict[str, Any]
JSON_TYPE = "application/x-amz-json-1.1"
INCORRECT = "Incorrect username or password."


class Exchange(NamedTuple):
    method: str
    path: str
    headers: Message  # case-insensitive look-ups
    body: bytes


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class CognitoError(Exception):
    """An answer in Cognito's error shape: `CognitoError("NotAuthorizedException", INCORRECT)`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def error(status: int, code: str, message: str) -> Reply:
    headers = [("Content-Type", JSON_TYPE), ("x-amzn-ErrorType", code)]
    return Reply(status, headers, json.dumps({"__type": code, "message": message}).encode())


def ok(body: Event) -> Reply:
    return Reply(200, [("Content-Type", JSON_TYPE)], json.dumps(body).encode())


def call(operation: str, body: Event) -> Exchange:
    """A request for moto built by the layer itself (unsigned, as Amplify's are)."""
    headers = Message()
    headers["Content-Type"] = JSON_TYPE
    headers["X-Amz-Target"] = f"AWSCognitoIdentityProviderService.{operation}"
    return Exchange("POST", "/", headers, json.dumps(body).encode())


def params_of(body: bytes) -> Event:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def error_of(reply: Reply) -> tuple[str, str] | None:
    """(code, message) of an error reply in Cognito's shape; None for a success."""
    if reply.status < 400:
        return None
    body = params_of(reply.body)
    code = str(body.get("__type") or dict(reply.headers).get("x-amzn-ErrorType") or "")
    return code.rsplit("#", 1)[-1], str(body.get("message") or body.get("Message") or "")


def as_json(reply: Reply, operation: str) -> Reply:
    """`reply` if its body is JSON; otherwise Cognito's error shape saying what happened."""
    if reply.status < 400 and not reply.body.strip():
        return reply._replace(body=b"{}")  # moto answers "" where Cognito answers {}
    try:
        json.loads(reply.body)
    except ValueError:
        if reply.status < 400:
            return error(500, "InternalErrorException", f"moto gave a non-JSON answer to {operation}")
        code, status = (
            ("InternalErrorException", 500) if reply.status >= 500 else ("InvalidParameterException", 400)
        )
        detail = f"the local Cognito (moto) could not serve {operation} (HTTP {reply.status})"
        return error(status, code, detail)
    return reply


def masked_email(email: str) -> str:
    """Cognito's CodeDeliveryDetails destination: "alice@example.org" -> "a***@e***"."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


#: Cognito's user pool endpoint is called from browsers (Amplify, amazon-cognito-identity-js) on
#: any origin: it allows every origin, and lets the SDKs read its error headers.
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"),
)


def preflight(requested_headers: str) -> Reply:
    """The answer to a CORS preflight: POST (every operation) and GET (the JWKS), the headers asked."""
    allowed = requested_headers or "content-type, x-amz-target, x-amz-user-agent"
    headers = [("Access-Control-Allow-Methods", "POST, GET, OPTIONS"), ("Access-Control-Allow-Headers", allowed),
               ("Access-Control-Max-Age", "86400")]  # fmt: skip
    return Reply(200, headers, b"")


def handler_class(handle: Callable[[Exchange], Reply]) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler that answers every request with `handle`."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "OPTIONS":  # a browser's preflight: Cognito answers it itself
                reply = preflight(self.headers.get("Access-Control-Request-Headers", ""))
            else:
                reply = handle(Exchange(self.command, self.path, self.headers, body))
                # moto's own CORS headers (flask-cors echoes the origin) give way to Cognito's: a
                # browser refuses an answer carrying two Access-Control-Allow-Origin values.
                kept = [h for h in reply.headers if not h[0].lower().startswith("access-control-")]
                reply = reply._replace(headers=kept)
            self.send_response(reply.status)
            headers = [*reply.headers, *CORS_HEADERS, ("Content-Length", str(len(reply.body)))]
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"" if self.command == "HEAD" else reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None: ...  # silent: never a request's tokens

    return Handler
