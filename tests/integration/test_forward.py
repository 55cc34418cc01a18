"""The integration forwarder against a real stand-in upstream: what reaches the upstream, what comes
back, and every way a caller or an upstream might steer the secret or the connection elsewhere.

A second stand-in on another port plays the "other host": another port is another origin.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.integrations.forward import Forwarded, ForwardError, Upstream, forward
from integreat.local.upstream import Received, StandInUpstream

BASE = "/v1"
SECRET = "sk-test-7f3a9c"
INJECT = ("X-Api-Key", SECRET)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Torn down last: every server a test starts must be stopped, its threads joined."""
    before = set(threading.enumerate())
    yield
    assert [thread.name for thread in threading.enumerate() if thread not in before] == []


@pytest.fixture
def up() -> Iterator[StandInUpstream]:
    with StandInUpstream() as server:
        yield server


@pytest.fixture
def other() -> Iterator[StandInUpstream]:
    with StandInUpstream() as server:
        yield server


def call(
    up: StandInUpstream,
    path: str,
    *,
    method: str = "GET",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    **limits: Any,
) -> Forwarded:
    return forward(Upstream(up.url + BASE, **limits), method, path, query, headers or [], body, INJECT)


def refused(up: StandInUpstream, path: str, **options: Any) -> ForwardError:
    with pytest.raises(ForwardError) as caught:
        call(up, path, **options)
    return caught.value


def names(received: Received) -> list[str]:
    return [name.lower() for name, _ in received.headers]


def header(received: Received, name: str) -> list[str]:
    return [value for key, value in received.headers if key.lower() == name.lower()]


def test_echo_round_trip_keeps_method_path_query_and_body(up: StandInUpstream) -> None:
    answer = call(
        up, "echo/items/42", method="PUT", query="a=1&b=two%20words", body=b'{"x": 1}',
        headers=[("Content-Type", "application/json"), ("Accept", "application/json")],
    )  # fmt: skip
    assert answer.status == 200
    assert json.loads(answer.body)["method"] == "PUT"
    [received] = up.requests
    assert received.method == "PUT"
    assert received.path == "/v1/echo/items/42?a=1&b=two%20words"
    assert received.body == b'{"x": 1}'
    assert header(received, "content-length") == ["8"]
    assert header(received, "content-type") == ["application/json"]
    assert header(received, "accept") == ["application/json"]
    assert header(received, "host") == [up.url.removeprefix("http://")]


def test_secret_is_injected_and_caller_credentials_hops_and_proxy_headers_are_dropped(
    up: StandInUpstream,
) -> None:
    caller = [
        ("Authorization", "Bearer caller-token"), ("Proxy-Authorization", "Basic eA=="),
        ("Cookie", "session=caller"), ("Host", "evil.example"), ("Content-Length", "999"),
        ("Connection", "keep-alive, X-Hop-Secret"), ("X-Hop-Secret", "nominated"),
        ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Trailer", "X-T"), ("Upgrade", "h2c"),
        ("Proxy-Connection", "keep-alive"), ("Transfer-Encoding", "chunked"),
        ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "for=10.0.0.1"), ("X-Real-Ip", "10.0.0.1"),
        ("X-Amz-Security-Token", "caller-session"), ("X-Amzn-Trace-Id", "Root=1"),
        ("Accept-Encoding", "gzip"), ("User-Agent", "app/1.0"),
    ]  # fmt: skip
    call(up, "echo", method="POST", headers=caller, body=b"{}")
    [received] = up.requests
    leaked = set(names(received)) & {name.lower() for name, _ in caller} - {
        "host",
        "content-length",
        "user-agent",
    }
    assert leaked == {"accept-encoding"}  # http.client's own, with "identity", not the caller's
    assert header(received, "accept-encoding") == ["identity"]
    assert header(received, "user-agent") == ["app/1.0"]
    assert header(received, "host") == [up.url.removeprefix("http://")]
    assert header(received, "content-length") == ["2"]
    assert header(received, "x-api-key") == [SECRET]
    assert received.headers[-1] == INJECT


def test_caller_cannot_override_or_duplicate_the_injected_header(up: StandInUpstream) -> None:
    caller = [("x-api-key", "mine"), ("X-API-KEY", "mine-too"), ("X-Api-Key", "and-mine")]
    call(up, "echo", headers=caller)
    [received] = up.requests
    assert header(received, "X-Api-Key") == [SECRET]
    assert received.headers[-1] == INJECT


def test_only_allowlisted_response_headers_are_relayed(up: StandInUpstream) -> None:
    answer = call(up, "echo")
    assert sorted(name.lower() for name, _ in answer.headers) == [
        "cache-control", "content-type", "x-ratelimit-remaining",
    ]  # fmt: skip  # not Set-Cookie, Server, Date, Content-Length
    assert ("X-RateLimit-Remaining", "99") in answer.headers


@pytest.mark.parametrize("status", [404, 500, 503])
def test_upstream_errors_are_relayed_not_raised(up: StandInUpstream, status: int) -> None:
    answer = call(up, f"status/{status}")
    assert answer.status == status
    assert json.loads(answer.body) == {"status": status}


@pytest.mark.parametrize(
    "path",
    [
        "../x", "a/../../x", "./x", "%2e%2e/x", ".%2E/x", "a//b", "a\\b", "a%5Cb", "a%2F..%2Fb",
        "%252e%252e/x", "..;/x", "a/%00", "a/%0d%0aX-Evil:1", "a\r\nb", "%C0%AE%C0%AE/x",
        "//127.0.0.1:1/x", "http:%2F%2F127.0.0.1:1/x", "a%2F%2Fb", "%2F",
    ],
)  # fmt: skip
def test_paths_that_could_leave_the_base_path_are_refused(up: StandInUpstream, path: str) -> None:
    assert refused(up, path).code == "invalid_upstream_path"
    assert up.requests == []


def test_encoded_slash_is_data_and_is_sent_encoded(up: StandInUpstream) -> None:
    call(up, "echo/group%2Fproject")
    assert up.requests[0].path == "/v1/echo/group%2Fproject"


def test_segments_are_reencoded_and_a_leading_slash_is_tolerated(up: StandInUpstream) -> None:
    call(up, "/echo/a b/ü/x%20y/a+b:c@d/")
    assert up.requests[0].path == "/v1/echo/a%20b/%C3%BC/x%20y/a+b:c@d/"


def test_a_path_never_changes_the_host(up: StandInUpstream, other: StandInUpstream) -> None:
    elsewhere = other.url.removeprefix("http://")
    assert call(up, f"@{elsewhere}/echo").status == 200
    assert up.requests[0].path == f"/v1/@{elsewhere}/echo"
    assert other.requests == []


@pytest.mark.parametrize("query", ["a=1\r\nX-Evil: 1", "a=1 b", "a=1#frag", "a=\x00", "a=\t", "a=ü"])
def test_queries_with_control_characters_whitespace_or_fragments_are_refused(
    up: StandInUpstream, query: str
) -> None:
    assert refused(up, "echo", query=query).code == "invalid_upstream_path"
    assert up.requests == []


@pytest.mark.parametrize(
    "bad", [("X-Note", "a\r\nX-Evil: 1"), ("X-Note", "a\nb"), ("X-Evil:\r\nX", "1"), ("X Note", "1")]
)
def test_headers_with_line_breaks_or_bad_names_are_refused(up: StandInUpstream, bad: tuple[str, str]) -> None:
    assert refused(up, "echo", headers=[bad]).code == "invalid_upstream_header"
    assert up.requests == []


def test_a_slow_upstream_times_out_at_the_deadline(up: StandInUpstream) -> None:
    started = time.monotonic()
    assert refused(up, "slow/3", total_timeout=0.3).code == "upstream_timeout"
    assert time.monotonic() - started < 0.8
    assert len(up.requests) == 1


def test_the_deadline_holds_when_the_upstream_trickles(up: StandInUpstream) -> None:
    # One byte every 0.15 s: each receive is well within 0.5 s, the whole body takes 1.5 s.
    started = time.monotonic()
    assert refused(up, "trickle/1.5", total_timeout=0.5).code == "upstream_timeout"
    assert time.monotonic() - started < 0.9


def test_a_trickle_within_the_deadline_is_read_whole(up: StandInUpstream) -> None:
    assert call(up, "trickle/0.2", total_timeout=2).body == b"0123456789"


@pytest.mark.parametrize("unsized", ["", "unsized"])
def test_the_response_size_cap(up: StandInUpstream, unsized: str) -> None:
    assert call(up, "big/100", query=unsized, max_response_bytes=100).body == b"x" * 100
    too_large = refused(up, "big/101", query=unsized, max_response_bytes=100)
    assert too_large.code == "upstream_too_large"


def test_an_unreachable_upstream_names_neither_the_secret_nor_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the call: nothing listens
    with pytest.raises(ForwardError) as caught:
        forward(Upstream(f"http://127.0.0.1:{port}/v1"), "GET", "echo", "", [], None, INJECT)
    assert caught.value.code == "upstream_unreachable"
    assert SECRET not in str(caught.value)
    assert str(port) not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


def test_a_tls_failure_is_unreachable(up: StandInUpstream) -> None:
    # https:// to a plain HTTP server: the handshake fails as it would on a bad certificate
    tls = up.url.replace("http://", "https://")
    with pytest.raises(ForwardError) as caught:
        forward(Upstream(tls + "/v1"), "GET", "echo", "", [], None, INJECT)
    assert caught.value.code == "upstream_unreachable"
    assert up.requests == []  # nothing was sent in the clear


@pytest.mark.parametrize("location", ["/v1/echo/landed", "echo/landed", f"{BASE}/./echo/landed"])
def test_a_redirect_under_the_base_path_is_followed_with_the_secret(
    up: StandInUpstream, location: str
) -> None:
    answer = call(up, "redirect", query=f"to={quote(location, safe='')}&code=302")
    assert answer.status == 200
    first, second = up.requests
    assert first.path.startswith("/v1/redirect?")
    assert second.path == "/v1/echo/landed"
    assert header(second, "x-api-key") == [SECRET]


def test_an_absolute_redirect_to_the_same_origin_is_followed(up: StandInUpstream) -> None:
    call(up, "redirect", query=f"to={quote(up.url + '/v1/echo/abs', safe='')}")
    assert [received.path for received in up.requests][1] == "/v1/echo/abs"


@pytest.mark.parametrize(
    "target",
    [
        "{other}/v1/echo",
        "//{other_netloc}/v1/echo",
        "https://{netloc}/v1/echo",
        "http://user@{netloc}/v1/echo",
    ],
)
def test_redirects_off_the_origin_are_refused_and_send_nothing(
    up: StandInUpstream, other: StandInUpstream, target: str
) -> None:
    location = target.format(
        other=other.url, other_netloc=other.url.removeprefix("http://"), netloc=up.url.removeprefix("http://")
    )
    error = refused(up, "redirect", query=f"to={quote(location, safe='')}")
    assert error.code == "upstream_redirect_refused"
    assert other.requests == []
    assert len(up.requests) == 1


@pytest.mark.parametrize("location", ["/admin/echo", "/v1x/echo", "/v1/../admin/echo", "/v1", "../echo"])
def test_redirects_outside_the_base_path_are_refused(up: StandInUpstream, location: str) -> None:
    error = refused(up, "redirect", query=f"to={quote(location, safe='')}")
    assert error.code == "upstream_redirect_refused"
    assert len(up.requests) == 1


def test_a_redirect_loop_is_refused_after_max_redirects(up: StandInUpstream) -> None:
    assert refused(up, "redirect", max_redirects=3).code == "upstream_redirect_refused"
    assert len(up.requests) == 4  # the first request and three followed redirects


@pytest.mark.parametrize(
    ("code", "method", "then"),
    [(303, "POST", "GET"), (302, "POST", "GET"), (301, "POST", "GET"), (303, "PUT", "GET"),
     (307, "POST", "POST"), (308, "PUT", "PUT"), (302, "PUT", "PUT")],
)  # fmt: skip
def test_redirect_methods_follow_rfc_9110(up: StandInUpstream, code: int, method: str, then: str) -> None:
    query = f"to={quote('/v1/echo/next', safe='')}&code={code}"
    call(
        up, "redirect", method=method, query=query, headers=[("Content-Type", "text/plain")], body=b"payload"
    )
    first, second = up.requests
    assert (first.method, second.method) == (method, then)
    if then == "GET":
        assert second.body == b""
        assert not {"content-length", "content-type"} & set(names(second))
    else:
        assert second.body == b"payload"
        assert header(second, "content-type") == ["text/plain"]
    assert header(second, "x-api-key") == [SECRET]
