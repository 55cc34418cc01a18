"""The user pool's public keys (JWKS), fetched over HTTPS, cached, refreshed on an unknown kid.

Plain urllib (no boto3, no requests): this sits on every request's path and the cold start.
A refresh is attempted at most once per `min_refresh_seconds`, so a stream of tokens with made-up
`kid`s cannot turn into a stream of requests to Cognito.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

from chalicelib.identity.rs256 import b64url_decode
from chalicelib.ttl import TtlCache


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
    """Keys by kid, fetched lazily from `url` (a `TtlCache` whose copy never expires: keys change
    only when a token names one the copy lacks)."""

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
        # A failed fetch counts towards the window too: a down endpoint is not asked per token.
        self._keys: TtlCache[dict[str, PublicKey]] = TtlCache(
            self._load, {}, ttl=math.inf, min_reload=min_refresh_seconds, throttle_failures=True, clock=clock
        )

    def cached(self, kid: str) -> PublicKey | None:
        """The key the copy holds now, never fetching: a reload that drops or replaces a key makes
        every token verified with the old one be checked again (`TokenVerifier`'s cache)."""
        return self._keys.value.get(kid)

    def key(self, kid: str) -> PublicKey | None:
        found = self._keys.value.get(kid)
        if found is not None:
            return found
        return self._keys.reload().get(kid)

    def _load(self) -> dict[str, PublicKey]:
        try:
            body = self._fetch(self.url)
        except OSError as exc:
            raise JwksError(f"cannot fetch {self.url}: {exc}") from exc
        return parse_jwks(body)
