"""The user pool's public keys (JWKS), fetched over HTTPS, cached, refreshed on an unknown kid.

Plain urllib (no boto3, no requests): this sits on every request's path and the cold start.
A refresh is attempted at most once per `min_refresh_seconds`, so a stream of tokens with made-up
`kid`s cannot turn into a stream of requests to Cognito.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

from chalicelib.identity.rs256 import b64url_decode


class JwksError(Exception):
    """The key set could not be fetched or parsed."""


class PublicKey(NamedTuple):
    kid: str
    modulus: int
    exponent: int


Fetch = Callable[[str], bytes]


_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def fetch_url(url: str, timeout: float = 2.0) -> bytes:
    parts = urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)):
        raise JwksError(f"refusing to fetch keys from {url}: https only (or the local platform on loopback)")
    import urllib.request  # lazy: it pulls in http.client, ssl and email (~18 ms of every cold start)

    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
        body: bytes = response.read(1_000_000)
        return body


def parse_jwks(body: bytes) -> dict[str, PublicKey]:
    """The RSA signing keys of a JWKS document, by kid; anything else in it is ignored."""
    try:
        keys = json.loads(body)["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise JwksError("malformed JWKS: keys must be a list of objects")
        return {
            k["kid"]: PublicKey(
                k["kid"],
                int.from_bytes(b64url_decode(k["n"]), "big"),
                int.from_bytes(b64url_decode(k["e"]), "big"),
            )
            for k in keys
            if k.get("kty") == "RSA" and k.get("use", "sig") == "sig" and k.get("alg", "RS256") == "RS256"
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JwksError(f"malformed JWKS: {exc}") from exc


class Jwks:
    """Keys by kid, fetched lazily from `url`."""

    def __init__(
        self,
        url: str,
        *,
        fetch: Fetch = fetch_url,
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at = -float("inf")
        self._lock = threading.Lock()

    def key(self, kid: str) -> PublicKey | None:
        found = self._keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            if kid not in self._keys and self._clock() - self._fetched_at >= self._min_refresh:
                self._fetched_at = self._clock()
                try:
                    self._keys = parse_jwks(self._fetch(self.url))
                except OSError as exc:
                    raise JwksError(f"cannot fetch {self.url}: {exc}") from exc
        return self._keys.get(kid)
