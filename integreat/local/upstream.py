"""A stand-in third-party API: the upstream that integration tests and the local demo call.

`with StandInUpstream() as up:` serves on `up.url` (http://127.0.0.1:<free port>) and records every
request it receives in `up.requests`. What it answers depends only on the path's last segments, so it
works under any base path (`/v1/echo` and `/echo` behave alike). In this order:

- `.../status/<n>`, `.../slow/<s>`, `.../big/<n>`, `.../trickle/<s>`: the second-to-last segment names
  the behaviour, the last is its argument:
  - `status/<n>`: status n (200-599) with a small JSON body;
  - `slow/<s>`: waits s seconds (a float, at most 60), then 200;
  - `big/<n>`: 200 with n bytes of body (at most 16 MiB); with `?unsized` no Content-Length is sent,
    so the body ends when the connection closes;
  - `trickle/<s>`: 200 with a 10-byte body sent one byte every s/10 seconds.
- `.../redirect?to=<url-encoded URL>&code=<3xx>`: redirects there (code defaults to 302); without
  `to` it redirects to itself, a loop.
- any path with a segment `echo` (`/v1/echo`, `/v1/echo/a/b`), any method: 200 and JSON
  {"method", "path" (the raw target), "headers" {lower-cased name: value}, "body" (text)}, with
  `Cache-Control: no-store`, `X-RateLimit-Remaining: 99`, `Set-Cookie: upstream=1`, `Server: standin`.
- anything else: 404 with a JSON body.

It speaks HTTP/1.0, so every connection closes after one answer, and stays silent. `stop()` wakes
any waiting answer, then joins every thread and closes the socket.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

POLL_SECONDS = 0.02
MAX_BIG = 16 * 1024 * 1024
MAX_WAIT = 60.0
TRICKLE_BODY = b"0123456789"
ECHO_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-RateLimit-Remaining", "99"),
    ("Set-Cookie", "upstream=1"),
]


class Received(NamedTuple):
    method: str
    path: str  # the raw request target, query included
    headers: list[tuple[str, str]]  # as sent, duplicates and case kept
    body: bytes


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    delay: float = 0.0  # seconds before answering
    pace: float = 0.0  # seconds between body bytes
    sized: bool = True  # send Content-Length


class StandInUpstream:
    """A local third-party API with scripted behaviours (see the module docstring)."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StandInUpstream:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in upstream is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _handler(self))
        # stop() waits for the serve loop to poll its flag: poll often, so a test's teardown stays quick
        serve = functools.partial(self._server.serve_forever, poll_interval=POLL_SECONDS)
        self._thread = threading.Thread(target=serve, name=f"standin-{self.url}")
        self._thread.daemon = True
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._stopping.set()  # slow and trickling answers give up at once
            self._server.shutdown()
            self._server.server_close()  # joins the request threads (block_on_close)
            self._thread.join()
        self._server = self._thread = None

    def record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the server is stopping."""
        return self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    # Not daemon threads: only those does server_close() join (socketserver.ThreadingMixIn), so
    # that stop() returns with every request thread done; Handler.timeout bounds the wait.
    daemon_threads = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The proxy hanging up mid-answer (its deadline, its size cap) is what tests provoke.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def reply_for(received: Received) -> Reply:
    """What the stand-in answers to a request."""
    split = urlsplit(received.path)
    segments = split.path.split("/")
    query = parse_qs(split.query, keep_blank_values=True)
    try:
        if len(segments) >= 2 and segments[-2] in ARGUMENT_ROUTES:
            return ARGUMENT_ROUTES[segments[-2]](segments[-1], query)
        if segments[-1] == "redirect":
            return _redirect(received.path, query)
    except ValueError as exc:
        return _json(400, {"error": str(exc)})
    if "echo" in segments:
        return _echo(received)
    return _json(404, {"error": "not found", "path": received.path})


def _status(argument: str, query: dict[str, list[str]]) -> Reply:
    status = _number(argument, 200, 599)
    if status in (204, 304):
        return Reply(status, [])
    return _json(status, {"status": status})


def _slow(argument: str, query: dict[str, list[str]]) -> Reply:
    seconds = _seconds(argument)
    return _json(200, {"slept": seconds})._replace(delay=seconds)


def _big(argument: str, query: dict[str, list[str]]) -> Reply:
    size = _number(argument, 0, MAX_BIG)
    return Reply(
        200, [("Content-Type", "application/octet-stream")], b"x" * size, sized="unsized" not in query
    )


def _trickle(argument: str, query: dict[str, list[str]]) -> Reply:
    seconds = _seconds(argument)
    return Reply(200, [("Content-Type", "text/plain")], TRICKLE_BODY, pace=seconds / len(TRICKLE_BODY))


def _redirect(path: str, query: dict[str, list[str]]) -> Reply:
    code = _number(query.get("code", ["302"])[0], 300, 399)
    return Reply(code, [("Location", query.get("to", [path])[0])])


def _echo(received: Received) -> Reply:
    payload = {
        "method": received.method,
        "path": received.path,
        "headers": {name.lower(): value for name, value in received.headers},
        "body": received.body.decode("utf-8", "replace"),
    }
    return _json(200, payload, ECHO_HEADERS)


def _json(status: int, payload: object, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(
        status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(payload).encode()
    )


def _number(text: str, low: int, high: int) -> int:
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_WAIT:  # also refuses NaN
        raise ValueError(f"{text} seconds is outside 0..{MAX_WAIT}")
    return value


ARGUMENT_ROUTES: dict[str, Callable[[str, dict[str, list[str]]], Reply]] = {
    "status": _status,
    "slow": _slow,
    "big": _big,
    "trickle": _trickle,
}


def _handler(upstream: StandInUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a client that connects and says nothing cannot hold stop() up for long

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(self.command, self.path, list(self.headers.items()), self.rfile.read(length))
            upstream.record(received)
            _write(self, upstream, reply_for(received))

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

        def version_string(self) -> str:
            return "standin"

        def log_message(self, format: str, *args: Any) -> None: ...  # quiet: tests provoke errors on purpose

    return Handler


def _write(handler: BaseHTTPRequestHandler, upstream: StandInUpstream, reply: Reply) -> None:
    if upstream.wait(reply.delay):
        return
    handler.send_response(reply.status)
    for name, value in reply.headers:
        handler.send_header(name, value)
    if reply.sized:
        handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    if handler.command == "HEAD":
        return
    if not reply.pace:
        handler.wfile.write(reply.body)
        return
    for index in range(len(reply.body)):
        handler.wfile.write(reply.body[index : index + 1])
        if upstream.wait(reply.pace):
            return
