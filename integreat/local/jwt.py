"""Tokens of the local platform: the local signing key and re-minting moto's tokens with a
pre-token-generation response. Operator tooling only (never deployed): it uses `cryptography`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from chalicelib.identity.rs256 import b64url_decode

# Keys of a V2_0 pre-token response (not secrets).
ID_TOKEN = "idTokenGeneration"  # noqa: S105
ACCESS_TOKEN = "accessTokenGeneration"  # noqa: S105
#: Claims a trigger response may not add, change or remove (Cognito's rule, docs/architecture.md).
PROTECTED = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "client_id",
        "token_use",
        "exp",
        "iat",
        "jti",
        "scope",
        "username",
        "cognito:username",
        "auth_time",
        "origin_jti",
        "event_id",
        "version",
        "identities",
        "nbf",
    }
)
MAX_REMEMBERED_SIGN_INS = 10_000


class SignIn(NamedTuple):
    """What Cognito keeps for all the tokens of one authentication, refreshes included."""

    event_id: str
    auth_time: int


class SignIns:
    """Each authentication's event id and time, by moto's `origin_jti` (which its refreshed
    tokens keep): a refreshed token carries the `auth_time` of the sign-in, as in Cognito."""

    def __init__(self) -> None:
        self._known: dict[str, SignIn] = {}
        self._lock = threading.Lock()

    def of(self, claims: dict[str, Any], refreshed: bool) -> SignIn:
        origin = str(claims.get("origin_jti", ""))
        with self._lock:
            known = self._known.get(origin) if refreshed else None
            if known is None:  # a new sign-in, or one from before a restart
                known = SignIn(str(uuid.uuid4()), int(claims.get("auth_time") or claims["iat"]))
                self._known[origin] = known
                if len(self._known) > MAX_REMEMBERED_SIGN_INS:
                    del self._known[next(iter(self._known))]
        return known


def cognito_claims(
    claims: dict[str, Any], kind: str, sign_in: SignIn, attributes: dict[str, str]
) -> dict[str, Any]:
    """The claims real Cognito tokens carry that moto's lack or get wrong (AWS developer guide,
    "Understanding the access token" / "the identity token"): `version` 2 (access), `event_id`,
    the sign-in's `auth_time`, and in the ID token the user's `email` (moto writes the username
    there when e-mail is the username) with `email_verified` a boolean (`attributes`: the user's)."""
    out = {**claims, "event_id": sign_in.event_id, "auth_time": sign_in.auth_time}
    if kind == ACCESS_TOKEN:
        out["version"] = 2
        return out
    for name in ("email", "phone_number"):
        out.pop(name, None)
        out.pop(f"{name}_verified", None)
        if name in attributes:
            out[name] = attributes[name]
            out[f"{name}_verified"] = attributes.get(f"{name}_verified", "false").lower() == "true"
    return out


class KeyFileError(Exception):
    """The key file exists but is not an RSA private key."""


class SigningKey:
    """RSA 2048 in a PEM file, created (0600) when missing and reused after: tokens outlive restarts."""

    def __init__(self, path: Path) -> None:
        self._key = _load_or_create(path)
        der = self._key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.kid = "integreat-local-" + hashlib.sha256(der).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        n, e = (_b64(v.to_bytes((v.bit_length() + 7) // 8, "big")) for v in (numbers.n, numbers.e))
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": n, "e": e}]}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"kid": self.kid, "alg": "RS256"}  # Cognito's header: no "typ"
        signed = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        signature = self._key.sign(signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"


def reminted(claims: dict[str, Any], details: dict[str, Any], kind: str) -> dict[str, Any]:
    """moto's claims with a V2_0 response applied to one token (`kind`: ID_TOKEN or ACCESS_TOKEN)."""
    out = dict(claims)
    groups = details.get("groupOverrideDetails") or {}
    if "groupsToOverride" in groups:  # an empty list leaves no claim, as in Cognito
        out.pop("cognito:groups", None)
        out.update({"cognito:groups": groups["groupsToOverride"]} if groups["groupsToOverride"] else {})
    # IAM roles are claims of the ID token only.
    roles = (("cognito:roles", "iamRolesToOverride"), ("cognito:preferred_role", "preferredRole"))
    out.update({claim: groups[key] for claim, key in roles if groups.get(key) and kind == ID_TOKEN})
    changes = details.get(kind) or {}
    added = changes.get("claimsToAddOrOverride") or {}
    out.update({k: v for k, v in added.items() if k not in PROTECTED})
    if kind == ACCESS_TOKEN:
        scopes = str(out.get("scope", "")).split() + list(changes.get("scopesToAdd") or [])
        out["scope"] = " ".join(dict.fromkeys(scopes))
    return out


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise KeyFileError(f"{path} is not an RSA key: delete it to make a new one")
        return loaded
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
        file.write(pem)
    return key


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a token moto has just issued (straight from moto: nothing to verify)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
