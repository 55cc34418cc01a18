"""Unit tests for chalicelib.identity.jwks: parsing, caching, the refresh rate limit, fetch errors.

No network: `Jwks` gets a fetch function returning bytes and a clock that moves when told to.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from typing import Any

import pytest

from chalicelib.identity.jwks import Jwks, JwksError, PublicKey, fetch_url, parse_jwks
from tests.tokens import b64url

URL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Unit/.well-known/jwks.json"
MIN_REFRESH = 30.0


def jwk(kid: str, n: int = 0xC0FFEE, e: int = 65537, **fields: Any) -> dict[str, Any]:
    """One RSA signing key as Cognito publishes it; `fields` override or (with None) remove."""
    key = {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")),
        "e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big")),
        **fields,
    }
    return {k: v for k, v in key.items() if v is not None}


def document(*keys: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeFetch:
    """Serves `body` (changeable, to rotate keys) and counts the requests made."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.body

    @property
    def calls(self) -> int:
        return len(self.urls)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetch() -> FakeFetch:
    return FakeFetch(document(jwk("k1", n=1111), jwk("k2", n=2222)))


@pytest.fixture
def jwks(fetch: FakeFetch, clock: FakeClock) -> Jwks:
    return Jwks(URL, fetch=fetch, min_refresh_seconds=MIN_REFRESH, clock=clock)


# --- parse_jwks ---------------------------------------------------------------------------------


def test_parse_jwks_decodes_modulus_and_exponent_by_kid() -> None:
    keys = parse_jwks(document(jwk("k1", n=2**2047 + 12345, e=3), jwk("k2", n=99)))

    assert keys == {"k1": PublicKey("k1", 2**2047 + 12345, 3), "k2": PublicKey("k2", 99, 65537)}


def test_parse_jwks_keeps_only_rsa_signing_keys_for_rs256() -> None:
    body = document(
        jwk("rsa-sig"),
        jwk("rsa-defaults", use=None, alg=None),  # use and alg are optional (RFC 7517 4.2, 4.4)
        jwk("rsa-enc", use="enc"),
        jwk("rsa-rs512", alg="RS512"),
        jwk("rsa-ps256", alg="PS256"),
        jwk("ec", kty="EC"),
        jwk("oct", kty="oct"),
        {"kty": "EC", "kid": "ec-real", "crv": "P-256", "x": "AQ", "y": "AQ"},
        {"kid": "no-kty", "n": "AQ", "e": "AQ"},
    )

    assert sorted(parse_jwks(body)) == ["rsa-defaults", "rsa-sig"]


def test_parse_jwks_of_an_empty_key_set_is_empty() -> None:
    assert parse_jwks(b'{"keys": []}') == {}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<html>502 Bad Gateway</html>", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"{}", id="no-keys"),
        pytest.param(b"[]", id="list"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"keys": 5}', id="keys-not-a-list"),
        pytest.param(document({"kty": "RSA", "kid": "k", "e": "AQAB"}), id="missing-n"),
        pytest.param(document({"kty": "RSA", "kid": "k", "n": "AQAB"}), id="missing-e"),
        pytest.param(document({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), id="missing-kid"),
        pytest.param(document(jwk("k", n=5) | {"n": "AQ=="}), id="padded-n"),
        pytest.param(document(jwk("k") | {"e": "+/8"}), id="standard-alphabet-e"),
        pytest.param(document(jwk("k") | {"n": 12345}), id="n-not-a-string"),
        pytest.param(document(jwk("k") | {"n": ""}), id="n-empty"),
        pytest.param(document(jwk("k") | {"kid": ["k"]}), id="kid-unhashable"),
    ],
)
def test_parse_jwks_raises_jwks_error_on_junk(body: bytes) -> None:
    with pytest.raises(JwksError, match="malformed JWKS"):
        parse_jwks(body)


@pytest.mark.parametrize("body", [b'{"keys": ["x"]}', b'{"keys": [1]}', b'{"keys": {"k1": {}}}'])
def test_parse_jwks_raises_jwks_error_on_entries_that_are_not_objects(body: bytes) -> None:
    with pytest.raises(JwksError, match="malformed JWKS"):
        parse_jwks(body)


# --- Jwks: caching and refresh ------------------------------------------------------------------


def test_the_first_lookup_fetches_the_configured_url(jwks: Jwks, fetch: FakeFetch) -> None:
    assert jwks.key("k1") == PublicKey("k1", 1111, 65537)
    assert fetch.urls == [URL]


def test_known_kids_are_served_from_the_cache(jwks: Jwks, fetch: FakeFetch, clock: FakeClock) -> None:
    # Given a warm cache
    jwks.key("k1")

    # When known kids are looked up many times, long after the refresh window
    for _ in range(100):
        assert jwks.key("k1") is not None
        assert jwks.key("k2") is not None
    clock.advance(10 * MIN_REFRESH)
    jwks.key("k2")

    # Then only the first lookup fetched
    assert fetch.calls == 1


def test_unknown_kids_refresh_at_most_once_per_window(jwks: Jwks, fetch: FakeFetch, clock: FakeClock) -> None:
    # Given a warm cache, one window after the first fetch
    jwks.key("k1")
    clock.advance(MIN_REFRESH)

    # When 1,000 made-up kids arrive within one window
    for i in range(1000):
        assert jwks.key(f"made-up-{i}") is None
        clock.advance(MIN_REFRESH / 2000)

    # Then they cost exactly one request between them
    assert fetch.calls == 2

    # And once the window has passed, the next unknown kid may refresh again (once)
    clock.advance(MIN_REFRESH)
    for i in range(1000):
        jwks.key(f"more-{i}")
    assert fetch.calls == 3


def test_an_unknown_kid_on_a_cold_cache_fetches_once(jwks: Jwks, fetch: FakeFetch) -> None:
    for _ in range(1000):
        assert jwks.key("made-up") is None

    assert fetch.calls == 1


def test_the_refresh_window_is_measured_from_the_last_fetch(
    jwks: Jwks, fetch: FakeFetch, clock: FakeClock
) -> None:
    jwks.key("k1")
    clock.advance(MIN_REFRESH - 0.001)
    jwks.key("made-up")
    assert fetch.calls == 1

    clock.advance(0.001)
    jwks.key("made-up")
    assert fetch.calls == 2


def test_a_rotated_key_is_picked_up_after_refresh(jwks: Jwks, fetch: FakeFetch, clock: FakeClock) -> None:
    # Given a warm cache, and then the pool rotates its signing key
    assert jwks.key("k1") is not None
    fetch.body = document(jwk("k2", n=2222), jwk("k3", n=3333))

    # When a token signed with the new key arrives within the window, it cannot be verified yet
    assert jwks.key("k3") is None

    # Then after the window the new key is fetched and served
    clock.advance(MIN_REFRESH)
    assert jwks.key("k3") == PublicKey("k3", 3333, 65537)
    assert jwks.key("k2") == PublicKey("k2", 2222, 65537)
    assert fetch.calls == 2


def test_a_key_the_pool_no_longer_publishes_is_dropped_on_refresh(
    jwks: Jwks, fetch: FakeFetch, clock: FakeClock
) -> None:
    jwks.key("k1")
    fetch.body = document(jwk("k3", n=3333))
    clock.advance(MIN_REFRESH)

    assert jwks.key("k3") is not None
    assert jwks.key("k1") is None


@pytest.mark.parametrize(
    "error",
    [
        OSError("connection reset"),
        TimeoutError("timed out"),
        ConnectionRefusedError("refused"),
        urllib.error.URLError("name resolution failed"),
        urllib.error.HTTPError(URL, 503, "Service Unavailable", None, None),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_failing_fetch_raises_jwks_error(clock: FakeClock, error: OSError) -> None:
    def failing(url: str) -> bytes:
        raise error

    jwks = Jwks(URL, fetch=failing, min_refresh_seconds=MIN_REFRESH, clock=clock)

    with pytest.raises(JwksError, match="cannot fetch") as raised:
        jwks.key("k1")
    assert raised.value.__cause__ is error


def test_a_failing_fetch_is_not_retried_within_the_window(clock: FakeClock) -> None:
    # Given a key endpoint that is down
    attempts: list[str] = []

    def failing(url: str) -> bytes:
        attempts.append(url)
        raise ConnectionResetError("reset")

    jwks = Jwks(URL, fetch=failing, min_refresh_seconds=MIN_REFRESH, clock=clock)
    with pytest.raises(JwksError):
        jwks.key("k1")

    # When more tokens arrive within the window, they do not hammer the endpoint
    for _ in range(100):
        assert jwks.key("k1") is None
    assert len(attempts) == 1

    # Then after the window it is tried again
    clock.advance(MIN_REFRESH)
    with pytest.raises(JwksError):
        jwks.key("k1")
    assert len(attempts) == 2


def test_a_malformed_refresh_keeps_the_keys_already_held(
    jwks: Jwks, fetch: FakeFetch, clock: FakeClock
) -> None:
    jwks.key("k1")
    fetch.body = b"<html>oops</html>"
    clock.advance(MIN_REFRESH)

    with pytest.raises(JwksError, match="malformed JWKS"):
        jwks.key("made-up")
    assert jwks.key("k1") == PublicKey("k1", 1111, 65537)


# --- fetch_url ----------------------------------------------------------------------------------
# Every URL below carries a non-numeric port: if the scheme check ever let one through, urllib
# would raise http.client.InvalidURL while building the connection, before any DNS lookup or
# socket, so these tests can fail without touching the network.


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib would connect to an environment proxy before looking at the target's port."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_proxy")
@pytest.mark.parametrize(
    "url",
    [
        "http://cognito-idp.eu-west-1.amazonaws.com:port/pool/.well-known/jwks.json",
        "http://attacker.example:port/jwks.json",
        "http://10.0.0.1:port/jwks.json",
        "ftp://attacker.example:port/jwks.json",
        "file:///nonexistent/jwks.json",
        "//attacker.example:port/jwks.json",
        "attacker.example:port/jwks.json",
        "",
    ],
)
def test_fetch_url_refuses_anything_but_https_or_the_local_platform(url: str) -> None:
    with pytest.raises(JwksError, match="https only"):
        fetch_url(url)


@pytest.mark.usefixtures("no_proxy")
@pytest.mark.parametrize(
    "url",
    [
        "https://cognito-idp.eu-west-1.amazonaws.com:port/pool/.well-known/jwks.json",
        "http://127.0.0.1:port/jwks.json",
        "http://localhost:port/jwks.json",
        "http://[::1]:port/jwks.json",
    ],
)
def test_fetch_url_lets_https_and_the_local_platform_through(url: str) -> None:
    # The check passes; urllib then refuses the port, proving we got past the scheme check offline.
    with pytest.raises(http.client.InvalidURL):
        fetch_url(url)


@pytest.mark.usefixtures("no_proxy")
@pytest.mark.parametrize(
    "url",
    ["http://localhost.attacker.example:port/jwks.json", "http://127.0.0.1.attacker.example:port/jwks.json"],
)
def test_fetch_url_refuses_remote_hosts_that_merely_start_like_local_ones(url: str) -> None:
    with pytest.raises(JwksError, match="https only"):
        fetch_url(url)
