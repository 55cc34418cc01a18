"""Passwords for the LOGIN roles Integreat creates.

Roles get a SCRAM-SHA-256 verifier computed here (RFC 5802/7677, the format Postgres stores),
so the plaintext never appears in a CREATE/ALTER ROLE statement that a server log could keep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRAM_ITERATIONS = 4096  # Postgres' default scram_iterations


def new_password() -> str:
    return secrets.token_urlsafe(24)


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`, accepted by ALTER ROLE ... PASSWORD."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
