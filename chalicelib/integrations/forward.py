"""The integration forwarder: one call to a declared third-party API on an app's behalf.

The proxy routes `/apps/{app}/integrations/{name}/{p1}/.../{pN}` (depths 1 to 8, each of the
declared methods: Chalice has no greedy `{proxy+}`; `chalicelib.gateway.integrations`) hand
`forward` the manifest's upstream, the caller's request and the secret header to inject. The caller is treated as hostile, the upstream as
only half trusted:

- The connection only ever goes to the base URL's scheme, host and port. The caller supplies a path
  below the base path and a query string, never a URL.
- The path is decoded and re-encoded segment by segment. A segment is refused when it, or any of up
  to `MAX_DECODES` successive decodings of it, has a dot segment (also `..;`, which Tomcat reads as
  `..`), an empty segment, a backslash, a control character or invalid UTF-8 (overlong dots). So
  whatever decoding and normalising the upstream does, it stays under the base path.
- An encoded slash inside a segment (`a%2Fb`) is data: it is sent re-encoded, because APIs such as
  GitLab's use it in ids. Its decoded form is checked too, which is why `a%2F..%2Fb` is refused.
- The caller's credentials, cookies, hop-by-hop headers and proxy/AWS metadata are dropped. The
  injected header goes last, exactly once, and only ever to the base host.
- Redirects are followed only within the base URL's origin and under its path.
- One deadline covers the whole exchange, redirects included: every send and receive after the
  connection is set up gets only the time that is left (`_DeadlineSocket`).
- The response is capped in size and only allowlisted headers are relayed.

Not covered: DNS resolution has no timeout in the standard library (the Lambda timeout is the
backstop), and the TLS handshake is bounded per socket operation by `connect_timeout`.
"""

from __future__ import annotations

import functools
import http.client
import io
import re
import socket
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import SplitResult, quote_from_bytes, unquote_to_bytes, urljoin, urlsplit

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

UPSTREAM_TIMEOUT = "upstream_timeout"
UPSTREAM_UNREACHABLE = "upstream_unreachable"
UPSTREAM_TOO_LARGE = "upstream_too_large"
UPSTREAM_REDIRECT_REFUSED = "upstream_redirect_refused"
INVALID_UPSTREAM_PATH = "invalid_upstream_path"
INVALID_UPSTREAM_HEADER = "invalid_upstream_header"

# What API Gateway's ANY delivers. TRACE would reflect the injected secret back to the caller.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection"}
)  # RFC 9110 7.6.1, plus the legacy Proxy-Connection
DROPPED = HOP_BY_HOP | {
    "authorization", "proxy-authorization", "cookie",  # the caller's credentials are ours, not the upstream's
    "host", "content-length",  # set here from the base URL and the body: no smuggling
    "forwarded", "x-real-ip",  # the upstream must not learn, nor be lied to about, who calls
    "accept-encoding",  # http.client asks for identity: Content-Encoding is not relayed, bodies must be plain
}  # fmt: skip
# X-Amzn-* too: API Gateway and ALB put trace ids and identity claims there.
DROPPED_PREFIXES = ("x-amz-", "x-amzn-", "x-forwarded-")
BODY_HEADERS = frozenset({"content-type", "content-encoding", "content-language", "content-location"})
RELAYED = frozenset(
    {"content-type", "content-language", "content-disposition", "cache-control", "etag",
     "last-modified", "expires", "retry-after", "vary"}
)  # fmt: skip
RELAYED_PREFIXES = ("x-ratelimit-",)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110 5.6.2)
FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CTL but HTAB (RFC 9110 5.5), latin-1 on the wire
PRINTABLE = re.compile(r"[\x21\x22\x24-\x7e]*")  # printable ASCII without '#': a query, a base path
CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
PCHAR_SAFE = "!$&'()*+,;=:@"  # RFC 3986 pchar beyond the unreserved characters quote always keeps
MAX_DECODES = 3
CHUNK = 65_536


class Upstream(NamedTuple):
    base_url: str  # e.g. "https://api.example.com/v2"
    connect_timeout: float = 3.0
    total_timeout: float = 10.0  # the whole exchange, redirects included, as one deadline
    max_response_bytes: int = 1_048_576
    max_redirects: int = 3


class Forwarded(NamedTuple):
    status: int
    headers: list[tuple[str, str]]  # only the relayable ones (RELAYED, RELAYED_PREFIXES)
    body: bytes


class ForwardError(Exception):
    """The upstream exchange failed; `code` is machine-readable, message safe to show a client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Base(NamedTuple):
    scheme: str
    host: str
    port: int
    netloc: str  # the Host header
    path: str  # without a trailing slash: "" for the root


class _Request(NamedTuple):
    method: str
    target: str  # path and query, already checked and encoded
    headers: list[tuple[str, str]]  # Host and the caller's kept headers
    body: bytes | None
    inject: tuple[str, str] | None


class _Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # empty for a redirect


def forward(
    upstream: Upstream,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    body: bytes | None,
    inject: tuple[str, str] | None,
) -> Forwarded:
    """Call the upstream and return its answer, 4xx and 5xx included; raise ForwardError otherwise.

    `path` is relative to the base path, in URL form (escapes are decoded once and re-encoded);
    `query` is the raw query string without "?". A `body` of None sends no Content-Length. Example:

        forward(Upstream("https://api.example.com/v2"), "GET", "users/42", "fields=name",
                request.headers, None, ("X-Api-Key", secret))

    Raises ValueError for a malformed base URL or a method API Gateway never delivers.
    """
    base = _parse_base(upstream.base_url)
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not forwarded")
    target = _target(base.path, path) + _query(query)
    request = _Request(method, target, _request_headers(base, headers, inject), body, inject)
    deadline = time.monotonic() + upstream.total_timeout
    for _hop in range(upstream.max_redirects + 1):
        answer = _exchange(base, request, upstream, deadline)
        if answer.status not in REDIRECTS:
            return Forwarded(answer.status, _relayed(answer.headers), answer.body)
        request = _redirected(base, request, answer)
    raise ForwardError(UPSTREAM_REDIRECT_REFUSED, "the upstream redirected too many times")


@functools.lru_cache(maxsize=256)
def _parse_base(url: str) -> _Base:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or not PRINTABLE.fullmatch(parts.path)
    ):
        raise ValueError(
            "an upstream base URL is http(s)://host[:port][/path]: no credentials, query or fragment"
        )
    return _Base(
        scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme], parts.netloc, parts.path.rstrip("/")
    )


def _target(base_path: str, path: str) -> str:
    """base path + "/" + path; a trailing slash is kept, an empty segment elsewhere is refused."""
    *inner, last = path.removeprefix("/").split("/")
    if "" in inner:
        raise ForwardError(INVALID_UPSTREAM_PATH, "the path has an empty segment")
    encoded = [_segment(segment) for segment in inner] + [_segment(last) if last else ""]
    return f"{base_path}/{'/'.join(encoded)}"


def _segment(segment: str) -> str:
    raw = unquote_to_bytes(segment)
    if not _safe_segment(raw):
        raise ForwardError(INVALID_UPSTREAM_PATH, "the path is not allowed")
    return quote_from_bytes(raw, safe=PCHAR_SAFE)


def _safe_segment(raw: bytes) -> bool:
    """True when neither `raw` nor any decoding a server might apply to it can leave the base path."""
    for _ in range(MAX_DECODES):
        if b"\\" in raw or CONTROL.search(raw) or not _utf8(raw):
            return False
        # a server that decodes %2F before routing sees these pieces as segments of their own
        if any(piece.split(b";")[0] in (b"", b".", b"..") for piece in raw.split(b"/")):
            return False
        decoded = unquote_to_bytes(raw)
        if decoded == raw:
            return True
        raw = decoded
    return False  # still decoding: nobody's legitimate id is encoded four times


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")  # strict: refuses overlong forms such as %C0%AE for "."
    except UnicodeDecodeError:
        return False
    return True


def _query(query: str) -> str:
    if not PRINTABLE.fullmatch(query):
        raise ForwardError(INVALID_UPSTREAM_PATH, "the query string is not allowed")
    return f"?{query}" if query else ""


def _request_headers(
    base: _Base, headers: Mapping[str, str] | list[tuple[str, str]], inject: tuple[str, str] | None
) -> list[tuple[str, str]]:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for name, value in [*pairs, *([inject] if inject else [])]:
        if not TOKEN.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
            raise ForwardError(INVALID_UPSTREAM_HEADER, "a request header has a name or value not allowed")
    # RFC 9110 7.6.1: a header the sender names in Connection is hop-by-hop as well
    nominated = {
        n.strip().lower() for name, value in pairs if name.lower() == "connection" for n in value.split(",")
    }
    dropped = DROPPED | nominated | ({inject[0].lower()} if inject else set())
    kept = [
        (n, v) for n, v in pairs if n.lower() not in dropped and not n.lower().startswith(DROPPED_PREFIXES)
    ]
    return [("Host", base.netloc), *kept]


def _exchange(base: _Base, request: _Request, upstream: Upstream, deadline: float) -> _Answer:
    """One request on a fresh connection, closed whatever happens."""
    conn: http.client.HTTPConnection | None = None
    sock: socket.socket | None = None
    try:
        conn = _connection(base, min(upstream.connect_timeout, _remaining(deadline)))
        conn.connect()
        sock = conn.sock
        conn.sock = _DeadlineSocket(sock, deadline)
        _send(conn, request)
        with conn.getresponse() as response:
            capped = response.status not in REDIRECTS
            body = _read_capped(response, upstream.max_response_bytes) if capped else b""
            return _Answer(response.status, response.getheaders(), body)
    except TimeoutError as exc:
        raise ForwardError(UPSTREAM_TIMEOUT, "the upstream did not answer in time") from exc
    except OSError as exc:  # refused, DNS, TLS: none of them names the host or the secret to the caller
        raise ForwardError(UPSTREAM_UNREACHABLE, "the upstream did not answer") from exc
    except http.client.HTTPException as exc:
        raise ForwardError(UPSTREAM_UNREACHABLE, "the upstream's answer was not valid HTTP") from exc
    finally:
        if conn is not None:
            conn.close()
        if sock is not None:
            sock.close()


def _connection(base: _Base, timeout: float) -> http.client.HTTPConnection:
    if base.scheme == "https":
        return http.client.HTTPSConnection(base.host, base.port, timeout=timeout, context=_tls_context())
    return http.client.HTTPConnection(base.host, base.port, timeout=timeout)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # verifies the certificate and the host name


def _send(conn: http.client.HTTPConnection, request: _Request) -> None:
    conn.putrequest(request.method, request.target, skip_host=True)  # adds Accept-Encoding: identity
    length = [("Content-Length", str(len(request.body)))] if request.body is not None else []
    for name, value in [*request.headers, *length, *([request.inject] if request.inject else [])]:
        conn.putheader(name, value)
    conn.endheaders(request.body)


def _read_capped(response: http.client.HTTPResponse, limit: int) -> bytes:
    if response.length is not None and response.length > limit:
        raise ForwardError(UPSTREAM_TOO_LARGE, "the upstream's answer is too large")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(min(CHUNK, limit + 1 - size)):  # one byte past the cap tells
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ForwardError(UPSTREAM_TOO_LARGE, "the upstream's answer is too large")
    return b"".join(chunks)


def _relayed(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in headers
        if (name.lower() in RELAYED or name.lower().startswith(RELAYED_PREFIXES))
        and FIELD_VALUE.fullmatch(value)
    ]


def _redirected(base: _Base, request: _Request, answer: _Answer) -> _Request:
    """The next request when the redirect stays on the base origin and under the base path."""
    locations = [value for name, value in answer.headers if name.lower() == "location"]
    if len(locations) != 1:
        raise _refused()
    try:
        parts = urlsplit(urljoin(f"{base.scheme}://{base.netloc}{request.target}", locations[0].strip()))
        if not _same_origin(base, parts) or not parts.path.startswith(f"{base.path}/"):
            raise _refused()
        target = _target(base.path, parts.path[len(base.path) + 1 :]) + _query(parts.query)
    except (ValueError, ForwardError) as exc:  # ValueError: a malformed Location, e.g. a bad port
        raise _refused() from exc
    return _after_redirect(request, answer.status)._replace(target=target)


def _same_origin(base: _Base, parts: SplitResult) -> bool:
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    return (
        parts.scheme == base.scheme
        and parts.hostname == base.host
        and port == base.port
        and "@" not in parts.netloc
    )


def _after_redirect(request: _Request, status: int) -> _Request:
    """303 becomes GET, and so does POST after 301/302 (RFC 9110 15.4); 307/308 keep method and body."""
    if (status == 303 and request.method != "HEAD") or (status in (301, 302) and request.method == "POST"):
        headers = [(name, value) for name, value in request.headers if name.lower() not in BODY_HEADERS]
        return request._replace(method="GET", headers=headers, body=None)
    return request


def _refused() -> ForwardError:
    return ForwardError(UPSTREAM_REDIRECT_REFUSED, "the upstream redirected somewhere it may not")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline has passed")
    return left


class _DeadlineSocket:
    """The connected socket as http.client uses it, every send and receive held to the deadline.

    A socket timeout bounds one operation, so an upstream trickling a byte at a time would never trip
    it. Once connected, http.client only calls `sendall`, `makefile` and `close` on its socket.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), CHUNK):
            self._sock.settimeout(_remaining(self._deadline))
            self._sock.sendall(view[start : start + CHUNK])

    def recv_into(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        """Left to `_exchange`: http.client closes its socket before a `Connection: close` body is read."""


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._sock.recv_into(buffer)
