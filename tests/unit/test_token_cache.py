"""The verified-token cache (issue 20): a token seen before skips only its signature check.
Expiry, issuer, token use, the client's app and the groups are checked on every use; a rotated
key set drops what its old keys verified; the cache is bounded."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.identity.jwks import Jwks
from chalicelib.identity.tokens import ID, TokenError, TokenVerifier
from chalicelib.tenancy.registry import ACTIVE, REMOVED, AppRecord, Registry
from tests.tokens import Signer
from tests.unit.test_tokens import APPS, CHURCH, ISSUER, LEEWAY, NOW, access

Clock = list[float]


class World:
    """A verifier whose clock, key set and registry the test moves."""

    def __init__(self, cache_size: int = 8) -> None:
        self.now, self.signer, self.apps = [NOW], Signer(kid="cache-key-1"), dict(APPS)
        self.keys_of = [self.signer]
        self.jwks = Jwks(f"{ISSUER}/.well-known/jwks.json", fetch=self._fetch, clock=lambda: self.now[0],
                         min_refresh_seconds=0)  # fmt: skip
        self.registry = Registry(lambda: self.apps, clock=lambda: self.now[0], ttl_seconds=0)
        self.verifier = TokenVerifier(issuer=ISSUER, jwks=self.jwks, registry=self.registry,
                                      clock=lambda: self.now[0], leeway_seconds=LEEWAY, cache_size=cache_size)  # fmt: skip

    def _fetch(self, url: str) -> bytes:
        import json

        keys = [k for s in self.keys_of for k in json.loads(s.jwks())["keys"]]
        return json.dumps({"keys": keys}).encode()

    def token(self, **claims: Any) -> str:
        return self.signer.sign(access(**claims))


def test_a_cached_token_is_refused_once_it_expires() -> None:
    world = World()
    token = world.token()
    assert world.verifier.verify(token).app == "church"
    world.now[0] = NOW + 3600 + LEEWAY + 1

    with pytest.raises(TokenError, match="token expired"):
        world.verifier.verify(token)


def test_a_cached_token_is_refused_for_another_token_use() -> None:
    world = World()
    token = world.token()
    world.verifier.verify(token)

    with pytest.raises(TokenError, match="an id token is required"):
        world.verifier.verify(token, ID)


def test_a_cached_token_of_an_app_since_removed_is_refused() -> None:
    world = World()
    token = world.token()
    world.verifier.verify(token)
    world.apps["church"] = AppRecord("church", REMOVED, "Church", clients=(CHURCH,))
    world.registry.invalidate()

    with pytest.raises(TokenError, match="not registered"):
        world.verifier.verify(token)
    world.apps["church"] = AppRecord("church", ACTIVE, "Church", roles=("member",), clients=(CHURCH,))


def test_a_key_rotation_drops_what_the_old_key_verified() -> None:
    world = World()
    token = world.token()
    world.verifier.verify(token)
    rotated = Signer(kid="cache-key-2")
    world.keys_of = [rotated]  # the pool's key set no longer holds the old key
    world.verifier.verify(rotated.sign(access()))  # a token of the new key reloads the set

    with pytest.raises(TokenError, match="unknown signing key"):
        world.verifier.verify(token)


def test_a_tampered_copy_of_a_cached_token_is_checked_in_full() -> None:
    world = World()
    token = world.token()
    world.verifier.verify(token)
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"

    with pytest.raises(TokenError, match=r"invalid signature|malformed"):
        world.verifier.verify(forged)


def test_the_cache_is_bounded_and_size_zero_turns_it_off() -> None:
    world = World(cache_size=2)
    for n in range(5):
        world.verifier.verify(world.token(jti=str(n)))
    assert len(world.verifier._verified) == 2
    off = World(cache_size=0)
    off.verifier.verify(off.token())
    assert len(off.verifier._verified) == 0
