"""RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature verification, RFC 8017 section 8.2.2.

Verified by OpenSSL through `cryptography`, not a JWT library: the algorithm, the key and our own
claim checks stay ours (tokens.py), only the arithmetic is delegated. Measured on this machine's
2 vCPU (issue 20, per-call medians on one 2048-bit key): OpenSSL 25 us per signature (36 us with the key loaded per call,
hence the small cache below) against 174 us for the pure-Python `pow()` this module used before.
Its import costs ~19 ms, so it happens on the first verification (which also fetches the JWKS
over the network), never on the cold start of a function that verifies nothing.

OpenSSL's PKCS #1 v1.5 check re-encodes the expected block and compares it whole, which is what
RFC 8017 prescribes and what defeats the lenient-parser forgeries (Bleichenbacher 2006); the
forgeries in tests/unit/test_rs256.py check that it does.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

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
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    size = (modulus.bit_length() + 7) // 8
    # Our own bounds before OpenSSL's: no short keys, and exactly one encoding of a signature
    # (OpenSSL would also take a signature shorter than the modulus).
    if modulus.bit_length() < MIN_KEY_BITS or len(signature) != size:
        return False
    if int.from_bytes(signature, "big") >= modulus:
        return False
    try:
        _public_key(modulus, exponent).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):  # ValueError: numbers OpenSSL refuses as a key (e.g. e = 1)
        return False
    return True


@functools.lru_cache(maxsize=32)
def _public_key(modulus: int, exponent: int) -> Any:
    """OpenSSL's key object for a JWKS key (a pool publishes two; 32 spans rotations and tests).
    Only keys from the pool's key set reach here: a token names a kid, never a key."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    return RSAPublicNumbers(exponent, modulus).public_key()
