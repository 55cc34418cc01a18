"""Temporary credentials for app backends on the local platform: a stand-in for STS AssumeRole.

In AWS an app backend runs as its app's IAM role and signs with STS credentials that API Gateway
checks. Locally the platform issues credentials of the same shape itself, and can check them
without storing any: like an STS session token, the token carries the role's unique id, the
access key id and the expiry under the platform's MAC, and the secret key is derived from them.
A leaked token without its secret key signs nothing; a forged or altered token is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple

from chalicelib.identity.sigv4 import SignatureError

MAX_TTL_SECONDS = 12 * 3600
DEFAULT_TTL_SECONDS = 3600


class Credentials(NamedTuple):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: int  # epoch seconds
    role_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ServiceKeys:
    """Issues and opens local service credentials under one platform key (32 random bytes)."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 32:
            raise ValueError("the service key must be at least 32 bytes")
        self._key = key
        self._clock = clock

    def issue(self, role_id: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> Credentials:
        """Credentials that sign as the role with unique id `role_id` (the app's role: AROA...)."""
        if not 60 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 60 and {MAX_TTL_SECONDS} seconds")
        key_id = "ASIA" + base64.b32encode(secrets.token_bytes(10)).decode()  # 20 chars, like STS
        expires = int(self._clock()) + ttl_seconds
        payload = _b64(json.dumps({"k": key_id, "r": role_id, "e": expires}, separators=(",", ":")).encode())
        token = f"{payload}.{_b64(self._mac(b'token', payload))}"
        return Credentials(key_id, self._secret(payload), token, expires, role_id)

    def open(self, access_key_id: str, session_token: str | None) -> tuple[str, str]:
        """(role id, secret key) of credentials this platform issued, or SignatureError."""
        if not session_token or session_token.count(".") != 1 or len(session_token) > 1024:
            raise SignatureError("an X-Amz-Security-Token issued by this platform is required")
        payload, mac = session_token.split(".")
        try:
            genuine = hmac.compare_digest(_unb64(mac), self._mac(b"token", payload))
            claims = json.loads(_unb64(payload)) if genuine else None
        except (ValueError, UnicodeDecodeError):
            genuine, claims = False, None
        if not genuine or not isinstance(claims, dict):
            raise SignatureError("the security token was not issued by this platform")
        if claims.get("k") != access_key_id:
            raise SignatureError("the security token belongs to another access key")
        if not isinstance(claims.get("e"), int) or claims["e"] < self._clock():
            raise SignatureError("the credentials have expired; issue new ones")
        return str(claims["r"]), self._secret(payload)

    def _mac(self, purpose: bytes, payload: str) -> bytes:
        return hmac.new(self._key, purpose + b"\0" + payload.encode(), hashlib.sha256).digest()

    def _secret(self, payload: str) -> str:
        return _b64(self._mac(b"secret", payload))[:40]
