"""One way for the local platform's HTTP layers (the Cognito layer, the AWS front) to serve on
127.0.0.1 in a thread.

`http.server`'s servers keep `socketserver`'s listen backlog of 5: a test suite or an SDK opening
a burst of connections gets TCP resets, which AWS's endpoints never give. Ours queue `BACKLOG`.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACKLOG = 1024


class LoopbackServer(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True  # a kept-alive client connection never holds up a stop


class ServerThread:
    """`start()` serves `handler` on (host, port) in a daemon thread and returns the base URL;
    `stop()` stops it and frees the port; safe to call twice."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._address, self._handler, self._name = address, handler, name
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self._server = LoopbackServer(self._address, self._handler)
        host, port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{self._name}-{port}", daemon=True
        )
        self._thread.start()
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None
