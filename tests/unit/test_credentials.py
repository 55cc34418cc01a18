"""Unit tests for chalicelib.db.credentials: SCRAM-SHA-256 verifiers and generated passwords.

The verifier is what Postgres stores in pg_authid.rolpassword (RFC 5802 section 3, RFC 7677).
Here it is checked three ways: its shape, an independent recomputation that spells out Hi() with
plain HMAC instead of hashlib.pbkdf2_hmac, and the RFC 7677 example exchange, which a server
holding only StoredKey and ServerKey must be able to verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string

from chalicelib.db.credentials import SCRAM_ITERATIONS, new_password, scram_verifier

VERIFIER = re.compile(
    r"SCRAM-SHA-256\$(?P<iterations>\d+):(?P<salt>[A-Za-z0-9+/]+=*)"
    r"\$(?P<stored_key>[A-Za-z0-9+/]+=*):(?P<server_key>[A-Za-z0-9+/]+=*)"
)
FIXED_SALT = bytes(range(16))


def parts(verifier: str) -> tuple[int, bytes, bytes, bytes]:
    """(iterations, salt, StoredKey, ServerKey) of a verifier, or an assertion error."""
    match = VERIFIER.fullmatch(verifier)
    assert match is not None, verifier
    raw = {k: base64.b64decode(match[k], validate=True) for k in ("salt", "stored_key", "server_key")}
    return int(match["iterations"]), raw["salt"], raw["stored_key"], raw["server_key"]


def rfc5802_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes, bytes]:
    """(ClientKey, StoredKey, ServerKey) straight from RFC 5802 section 3, Hi() written out."""
    block = hmac.new(password.encode(), salt + (1).to_bytes(4, "big"), hashlib.sha256).digest()
    salted = int.from_bytes(block, "big")
    for _ in range(iterations - 1):
        block = hmac.new(password.encode(), block, hashlib.sha256).digest()
        salted ^= int.from_bytes(block, "big")
    salted_password = salted.to_bytes(32, "big")
    client_key = hmac.new(salted_password, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted_password, b"Server Key", hashlib.sha256).digest()
    return client_key, hashlib.sha256(client_key).digest(), server_key


# --- the verifier -------------------------------------------------------------------------------


def test_verifier_has_the_postgres_format() -> None:
    iterations, salt, stored_key, server_key = parts(scram_verifier("pencil"))

    assert iterations == SCRAM_ITERATIONS == 4096
    assert len(salt) == 16
    assert len(stored_key) == len(server_key) == 32  # SHA-256 digests


def test_verifier_is_deterministic_for_a_fixed_salt() -> None:
    first = scram_verifier("pencil", salt=FIXED_SALT)

    assert scram_verifier("pencil", salt=FIXED_SALT) == first
    assert parts(first)[1] == FIXED_SALT


def test_verifier_matches_an_independent_rfc5802_computation() -> None:
    password, salt = "correct horse battery staple", b"fixed-salt-16byt"
    _, stored_key, server_key = rfc5802_keys(password, salt, SCRAM_ITERATIONS)

    assert scram_verifier(password, salt=salt) == (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{base64.b64encode(salt).decode()}"
        f"${base64.b64encode(stored_key).decode()}:{base64.b64encode(server_key).decode()}"
    )


def test_verifier_honours_a_custom_iteration_count() -> None:
    iterations, _, stored_key, server_key = parts(scram_verifier("pencil", salt=FIXED_SALT, iterations=10))

    assert iterations == 10
    assert (stored_key, server_key) == rfc5802_keys("pencil", FIXED_SALT, 10)[1:]


def test_verifier_authenticates_the_rfc7677_example_exchange() -> None:
    # Given the verifier for the RFC 7677 section 3 example user (password "pencil")
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _, _, stored_key, server_key = parts(scram_verifier("pencil", salt=salt))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}"
    ).encode()
    client_proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")

    # When the server checks the client's proof as RFC 5802 section 3 describes
    client_signature = hmac.digest(stored_key, auth_message, "sha256")
    client_key = bytes(p ^ s for p, s in zip(client_proof, client_signature, strict=True))
    server_signature = hmac.digest(server_key, auth_message, "sha256")

    # Then the proof verifies and the server signs exactly as in the RFC
    assert hashlib.sha256(client_key).digest() == stored_key
    assert base64.b64encode(server_signature).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_different_salts_give_different_verifiers() -> None:
    one = parts(scram_verifier("pencil", salt=b"a" * 16))
    two = parts(scram_verifier("pencil", salt=b"b" * 16))

    assert one[2] != two[2]
    assert one[3] != two[3]


def test_without_a_salt_each_call_draws_a_fresh_one() -> None:
    salts = {parts(scram_verifier("pencil"))[1] for _ in range(5)}

    assert len(salts) == 5


def test_different_passwords_give_different_keys() -> None:
    assert (
        parts(scram_verifier("pencil", salt=FIXED_SALT))[2:]
        != parts(scram_verifier("pencil2", salt=FIXED_SALT))[2:]
    )


def test_the_plaintext_never_appears_in_the_verifier() -> None:
    password = new_password()

    assert password not in scram_verifier(password)


# --- new_password -------------------------------------------------------------------------------

URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def test_new_password_is_long_and_url_safe() -> None:
    password = new_password()

    assert len(password) >= 32
    assert set(password) <= URL_SAFE


def test_new_password_carries_at_least_192_bits() -> None:
    # token_urlsafe(n) is n random bytes in unpadded URL-safe base64.
    raw = base64.urlsafe_b64decode(new_password() + "==")

    assert len(raw) >= 24


def test_new_passwords_are_all_distinct_and_varied() -> None:
    passwords = [new_password() for _ in range(100)]

    assert len(set(passwords)) == 100
    assert all(set(p) <= URL_SAFE and len(p) >= 32 for p in passwords)
    # 3,200 draws from a 64-symbol alphabet use nearly all of it; a weak generator would not.
    assert len(set("".join(passwords))) >= 60
