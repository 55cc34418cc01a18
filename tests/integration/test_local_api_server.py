"""The local API server (integreat/local/api_server.py) takes requests the way API Gateway does:
bursts of concurrent connections without resets, chunked bodies, one request object per thread,
and a stop that answers late requests 503 instead of running views without a runtime."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from chalice.app import Chalice

from integreat.local.api_server import ApiServer
from integreat.local.postgres import free_port


def echo_app() -> Chalice:
    app = Chalice(app_name="echo")

    @app.route("/echo", methods=["POST"], content_types=["application/json", "text/plain"])
    def echo() -> dict[str, object]:
        request = app.current_request
        assert request is not None
        body = request.raw_body
        time.sleep(0.01)  # another thread's request would overwrite a shared one meanwhile
        return {"body": body.decode(), "query": (app.current_request.query_params or {}).get("n")}

    @app.route("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def server() -> Iterator[ApiServer]:
    api = ApiServer(echo_app(), free_port())
    api.start()
    yield api
    api.stop()


def _post(port: int, n: int) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"/echo?n={n}", body=f"body-{n}", headers={"Content-Type": "text/plain"})
        result: dict[str, object] = json.loads(conn.getresponse().read())
        return result
    finally:
        conn.close()


def test_a_burst_of_concurrent_connections_gets_no_reset_and_each_request_its_own_body(
    server: ApiServer,
) -> None:
    # Chalice local's backlog of 5 reset 6-9 of 200 requests at 50 connections, and its shared
    # request object answered some with another request's body.
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda n: _post(server.port, n), range(200)))
    assert answers == [{"body": f"body-{n}", "query": str(n)} for n in range(200)]


def test_a_chunked_body_arrives_whole(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 200")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"body": "hello world", "query": None}


def test_a_malformed_chunked_body_is_a_400_in_the_error_shape(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n"
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 400")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "invalid_body"


def test_requests_arriving_on_a_kept_alive_connection_after_stop_get_503() -> None:
    api = ApiServer(echo_app(), free_port())
    api.start()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("GET", "/ping")
    assert conn.getresponse().read() == b'{"ok":"yes"}'
    stopper = threading.Thread(target=api.stop)
    stopper.start()
    stopper.join(timeout=15)
    conn.request("GET", "/ping")
    response = conn.getresponse()
    assert response.status == 503
    assert response.getheader("Retry-After") == "5"
    assert json.loads(response.read())["error"]["code"] == "stopping"
    conn.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", api.port), timeout=2):
        pass  # nothing listens any more


def _read_reply(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body
