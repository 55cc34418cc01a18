"""The local API server: Chalice local's gateway, served the way API Gateway takes requests.

Chalice's `LocalDevServer` as it comes is made for one developer's browser, and falls short of a
test suite or an SDK hitting the platform:
- its socket's listen backlog is 5 (`socketserver`'s default), so a burst of 50 concurrent
  connections gets TCP resets; ours queues `BACKLOG` connections, as a load balancer would;
- it reads a body only by `Content-Length`, so a chunked request (the CloudEvents npm SDK's
  emitter, Node's `fetch` with a stream) reached the view empty or corrupted; ours decodes
  `Transfer-Encoding: chunked` (RFC 9112 7.1), as API Gateway does before invoking Lambda;
- built directly, it shares one `current_request` between its threads, so one view could read
  another request's body; `chalice.local.create_local_server` installs the per-thread request
  (Lambda runs one request per process, so production never had the problem);
- stopping it left keep-alive connections served after the runtime was gone; ours answers
  anything still arriving 503 with `Retry-After`, in the API's error shape, and lets the
  requests already running finish (bounded) before the runtime goes.

The app is imported from the checkout, which a console script does not have on `sys.path`.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, ThreadedHTTPServer

#: The checkout (editable install): app.py lives here, beside chalicelib/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 1024
#: API Gateway's payload limit (10 MB); a bigger body is refused before it is read whole.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_CHUNK_LINE = 1024
#: How long a stop waits for requests already running (a Lambda's own timeout is the API's 29 s).
DRAIN_SECONDS = 10.0


class BodyError(ValueError):
    """The request body is not well framed; the client gets a 400 saying why."""


def load_app() -> Any:
    """The Chalice app of the checkout (`app.py`), importable from any working directory."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    import app as chalice_app

    return chalice_app.app


class _Server(ThreadedHTTPServer):
    request_queue_size = BACKLOG
    allow_reuse_address = True
    stopping = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = 0
        self.idle = threading.Condition()

    def admit(self) -> bool:
        """Count a request in, unless stopping: checked and counted at once, so `drain` never
        misses a request that slipped past the flag."""
        with self.idle:
            if self.stopping:
                return False
            self.in_flight += 1
            return True

    def done(self) -> None:
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def drain(self, seconds: float) -> int:
        """Refuse new requests, wait up to `seconds` for the running ones; returns how many are left."""
        with self.idle:
            self.stopping = True
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=seconds)
            return self.in_flight


class _Handler(ChaliceRequestHandler):
    server: _Server

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        encoding = self.headers.get("Transfer-Encoding", "").lower()
        body = _read_chunked(self.rfile) if "chunked" in encoding else self._read_sized()
        headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
        if body:
            headers["Content-Length"] = str(len(body))  # what API Gateway hands Lambda
        return headers, body or None

    def _read_sized(self) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            raise BodyError("Content-Length is not a number")
        if int(raw) > MAX_BODY_BYTES:
            raise BodyError(f"the body is over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(raw)) if int(raw) else b""

    def _generic_handle(self) -> None:
        if not self.server.admit():
            self.close_connection = True
            return self._error(503, "stopping", "the local platform is stopping; retry once it is back")
        try:
            super()._generic_handle()
        except BodyError as exc:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._error(400, "invalid_body", str(exc))
        finally:
            self.server.done()

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message, "request_id": None}}).encode()
        headers = {"Content-Type": "application/json", "Retry-After": "5"} if status == 503 else {}
        self._send_http_response(status, headers or {"Content-Type": "application/json"}, body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def log_message(self, format: str, *args: Any) -> None: ...  # the middleware logs each request


def _read_chunked(stream: Any) -> bytes:
    """A chunked body, whole (trailers read and dropped, as API Gateway does)."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(MAX_CHUNK_LINE)
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored (RFC 9112 7.1.1)
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError("malformed chunked body: a chunk size is not hexadecimal") from None
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise BodyError(f"the body is over {MAX_BODY_BYTES} bytes")
        parts.append(stream.read(size))
        if stream.readline(MAX_CHUNK_LINE).strip():
            raise BodyError("malformed chunked body: a chunk is longer than its size")
    while stream.readline(MAX_CHUNK_LINE).strip():  # trailer fields, up to the empty line
        pass
    return b"".join(parts)


USAGE_FLUSH_SECONDS = 2.0


class ApiServer:
    """The app on 127.0.0.1:`port`, in a thread: `start()`, then `stop()`.

    server = ApiServer(load_app(), port=8000); server.start(); ...; server.stop()
    """

    def __init__(self, app: Any, port: int, stage: str = "local") -> None:
        self._server = _Server(("127.0.0.1", port), _bind(_per_thread_request(app), stage))
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="api", daemon=True)
        # A Lambda instance flushes its usage on a later request; this long-lived one also flushes
        # on a timer, so what the API counted shows in `integreat usage` once it goes idle.
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_usage, name="api-usage", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._flusher.start()

    def _flush_usage(self) -> None:
        from chalicelib.usage.gate import flush_now

        while not self._stopping.wait(USAGE_FLUSH_SECONDS):
            flush_now()

    def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Requests arriving from now on get 503 (new connections and kept-alive ones alike); those
        already running finish, for up to `drain_seconds`, before the runtime is uninstalled
        (issue 14: a stop mid-request answered 500 `MissingSettingError`)."""
        left = self._server.drain(drain_seconds)
        if left:
            print(f"api: {left} request(s) still running after {drain_seconds:g} s; stopping anyway")
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._stopping.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout=10)
            from chalicelib.usage.gate import flush_now

            flush_now()  # what the last requests counted


def _per_thread_request(app: Any) -> Any:
    """The app with a per-thread `current_request`, exactly as `chalice.local.create_local_server`
    makes it (which would also bind a server of its own); done once per app object."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    return app


def _bind(app: Any, stage: str) -> Any:
    config = Config.create(chalice_stage=stage)

    def handler(request: Any, client_address: Any, server: Any) -> _Handler:
        return _Handler(request, client_address, server, app_object=app, config=config)

    return handler
