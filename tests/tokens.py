"""A token minter for tests: real RS256 signatures (cryptography), Cognito-shaped claims.

It plays the user pool's signing key so tests can shape claims exactly (Integreat's own claims,
expiry, issuer) and forge the attacks (alg none, HS256 with the public key, tampering).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


class Signer:
    def __init__(self, kid: str = "test-key-1", bits: int = 2048) -> None:
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=bits)

    def jwks(self) -> bytes:
        numbers = self._key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(n),
            "e": b64url(b"\x01\x00\x01"),
        }
        return json.dumps({"keys": [key]}).encode()

    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        head = _segment({"alg": "RS256", "kid": self.kid, "typ": "JWT", **header})
        body = _segment(claims)
        signature = self._key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64url(signature)}"

    def forge_hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """The classic key-confusion attack: HMAC keyed with the (public) RSA key."""
        head = _segment({"alg": "HS256", "kid": self.kid, "typ": "JWT"})
        body = _segment(claims)
        mac = hmac.new(self.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(mac)}"

    @staticmethod
    def forge_none(claims: dict[str, Any]) -> str:
        return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def access_claims(
    issuer: str, client_id: str, username: str, groups: list[str], **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)),
        "client_id": client_id,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "username": username,
        "cognito:groups": groups,
        **extra,
    }


def id_claims(issuer: str, client_id: str, username: str, groups: list[str], **extra: Any) -> dict[str, Any]:
    claims = access_claims(issuer, client_id, username, groups, **extra)
    for key in ("client_id", "scope", "username"):
        claims.pop(key)
    return {**claims, "aud": client_id, "token_use": "id", "cognito:username": username}
