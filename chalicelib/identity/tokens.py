"""The one place tokens are verified, in every stage (design decision 6).

RS256 only: the algorithm is fixed here and a header that says otherwise is refused, never
followed. Then the signature against the pool's JWKS, the issuer, expiry (small leeway),
`token_use`, and the client (`aud` for ID tokens, `client_id` for access tokens) mapped to an
app through the registry. The caller's roles come from the signed `cognito:groups`; Integreat's
own claims are cross-checked against them, never trusted alone.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.identity.jwks import Jwks, JwksError, PublicKey
from chalicelib.identity.names import ADMIN_GROUP, APP_CLAIM, ROLES_CLAIM, roles_in
from chalicelib.identity.rs256 import b64url_decode, verify
from chalicelib.inputs import InputError, decode_json
from chalicelib.tenancy.registry import Registry

ALGORITHM = "RS256"
ACCESS = "access"
ID = "id"
TOKEN_USES = (ACCESS, ID)
MAX_TOKEN_BYTES = 16_384
DEFAULT_LEEWAY_SECONDS = 30.0
#: Tokens whose signature this instance has checked, kept (least recently used out): one client
#: sends the same access token for up to an hour, and the RS256 check is most of a request's own
#: cost (~200 us in pure Python). 1,024 tokens of ~1 KB: about 1 MB.
CACHE_SIZE = 1024


class TokenError(Exception):
    """The token is not acceptable; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Caller(NamedTuple):
    """Who is calling, as established by a verified token."""

    user_id: str
    username: str
    app: str
    roles: tuple[str, ...]  # empty: not a member of `app`
    is_admin: bool
    client_id: str
    token_use: str
    is_service: bool = False  # an app backend signed with its IAM role (identity/services.py)

    @property
    def is_member(self) -> bool:
        return bool(self.roles)


def issuer_for(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        jwks: Jwks,
        registry: Registry,
        clock: Callable[[], float] = time.time,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.issuer = issuer
        self._jwks = jwks
        self._registry = registry
        self._clock = clock
        self._leeway = leeway_seconds
        self._cache_size = cache_size
        # token -> (the key that verified it, its claims). Only the signature check is skipped
        # on a hit: issuer, expiry, token use, the client's app and the groups are checked again
        # on every use, and a hit counts only while the JWKS still holds that very key.
        self._verified: OrderedDict[str, tuple[PublicKey, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str, token_use: str = ACCESS) -> Caller:
        """The caller behind `token`, or TokenError saying what is wrong."""
        claims = self._verified_claims(token)
        self._check_claims(claims, token_use)
        return self._caller(claims, token_use)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        hit = self._verified.get(token)
        if hit is not None and self._jwks.cached(hit[0].kid) is hit[0]:
            with self._lock:
                if token in self._verified:
                    self._verified.move_to_end(token)
            return hit[1]
        key, claims = self._check_signature(token)
        if self._cache_size:
            with self._lock:
                self._verified[token] = (key, claims)
                if len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
        return claims

    def _check_signature(self, token: str) -> tuple[PublicKey, dict[str, Any]]:
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2 or not token.isascii():
            raise TokenError("malformed token")
        head, body, signature = token.split(".")
        header = _json_segment(head)
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"unsupported algorithm: only {ALGORITHM} is accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenError("token has no key id")
        try:
            key = self._jwks.key(kid)
        except JwksError as exc:
            raise TokenError("signing keys unavailable") from exc
        if key is None:
            raise TokenError("unknown signing key")
        if not verify(key.modulus, key.exponent, f"{head}.{body}".encode("ascii"), _segment(signature)):
            raise TokenError("invalid signature")
        return key, _json_segment(body)

    def _check_claims(self, claims: dict[str, Any], token_use: str) -> None:
        if claims.get("iss") != self.issuer:
            raise TokenError("token from another issuer")
        now = self._clock()
        exp: Any = claims.get("exp")
        iat: Any = claims.get("iat", 0)
        # Written to fail closed: NaN and infinities (which Python's JSON accepts) never pass.
        if not (_finite(exp) and now <= float(exp) + self._leeway):
            raise TokenError("token expired")
        if not (_finite(iat) and float(iat) <= now + self._leeway):
            raise TokenError("token issued in the future")
        if claims.get("token_use") != token_use:
            raise TokenError(f"an {token_use} token is required")

    def _caller(self, claims: dict[str, Any], token_use: str) -> Caller:
        client_id = claims.get("client_id" if token_use == ACCESS else "aud")
        app = self._registry.app_for_client(client_id) if isinstance(client_id, str) else None
        if app is None or not isinstance(client_id, str):
            raise TokenError("token from a client that is not registered with Integreat")
        groups = claims.get("cognito:groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise TokenError("malformed groups claim")
        roles = roles_in(app.slug, groups, app.roles)
        _cross_check(claims, app.slug, roles)
        username = claims.get("username" if token_use == ACCESS else "cognito:username")
        sub = claims.get("sub")
        if not isinstance(username, str) or not isinstance(sub, str):
            raise TokenError("token has no subject")
        return Caller(sub, username, app.slug, roles, ADMIN_GROUP in groups, client_id, token_use)


def _cross_check(claims: dict[str, Any], slug: str, roles: tuple[str, ...]) -> None:
    """Integreat's own claims, when present, must agree with the client and the signed groups."""
    if APP_CLAIM in claims and claims[APP_CLAIM] != slug:
        raise TokenError("app claim does not match the token's client")
    if ROLES_CLAIM in claims and sorted(str(claims[ROLES_CLAIM]).split()) != sorted(roles):
        raise TokenError("roles claim does not match the token's groups")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _segment(segment: str) -> bytes:
    try:
        return b64url_decode(segment)
    except ValueError:
        raise TokenError("malformed token") from None


def _json_segment(segment: str) -> dict[str, Any]:
    # The gateway's JSON boundary: bounded depth (json.loads alone raises RecursionError, not
    # ValueError, on ~1,000 levels: issue 14), UTF-8, no NaN, no NUL or lone surrogate in a claim.
    try:
        value = decode_json(_segment(segment), "token segment")
    except InputError:
        raise TokenError("malformed token") from None
    if not isinstance(value, dict):
        raise TokenError("malformed token")
    return value
