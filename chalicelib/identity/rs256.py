"""RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature verification, RFC 8017 section 8.2.2.

Why not a JWT library: token checks run on every request and the cold-start budget counts every
import; `cryptography` alone costs tens of milliseconds to import. Verification needs only a
modular exponentiation and a comparison. We compare the *whole* re-encoded message with the
expected encoding (never parse the decrypted block), which is what RFC 8017 prescribes and what
defeats the classic lenient-parser forgeries (Bleichenbacher 2006).
"""

from __future__ import annotations

import base64
import re

#: DER prefix of DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
MIN_KEY_BITS = 2048
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def b64url_decode(segment: str) -> bytes:
    """Base64url without padding (JWT segments); raises ValueError on anything else."""
    # Strict alphabet: the decoder would silently skip other characters, letting one signature
    # be written as many different token strings.
    if not _B64URL.fullmatch(segment):
        raise ValueError("not a base64url segment")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify(modulus: int, exponent: int, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid RS256 signature of `message` under the public key."""
    # Imported here: loading OpenSSL (_hashlib) costs ~1.4 ms, paid by the first verification
    # (which also fetches the JWKS over the network) rather than by every cold start.
    import hashlib
    import hmac

    size = (modulus.bit_length() + 7) // 8
    if modulus.bit_length() < MIN_KEY_BITS or len(signature) != size:
        return False
    s = int.from_bytes(signature, "big")
    if s >= modulus:
        return False
    encoded = pow(s, exponent, modulus).to_bytes(size, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(encoded, expected)
