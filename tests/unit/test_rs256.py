"""Unit tests for chalicelib.identity.rs256: RSASSA-PKCS1-v1_5 / SHA-256 verification (RFC 8017 8.2.2).

Signatures are made by `cryptography` (an independent implementation), and forgeries are built by
hand with the private exponent, so every rejection below is of a block a lenient verifier would take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.identity.rs256 import MIN_KEY_BITS, b64url_decode, verify
from tests.tokens import b64url

#: DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
MESSAGES = (
    b"",
    b"a",
    b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm4ifQ",
    bytes(range(256)),
    b"x" * 10_000,
)


@dataclass(frozen=True)
class Key:
    private: rsa.RSAPrivateKey
    n: int
    e: int
    d: int

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def sign(self, message: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
        return self.private.sign(message, padding.PKCS1v15(), algorithm or hashes.SHA256())

    def raw_sign(self, block: bytes) -> bytes:
        """`block` raised to the private exponent: a "signature" of any encoded message we like."""
        return pow(int.from_bytes(block, "big"), self.d, self.n).to_bytes(self.size, "big")

    def verifies(self, message: bytes, signature: bytes) -> bool:
        return verify(self.n, self.e, message, signature)


def make_key(bits: int) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = private.private_numbers()
    return Key(private, numbers.public_numbers.n, numbers.public_numbers.e, numbers.d)


@pytest.fixture(scope="module")
def key() -> Key:
    return make_key(2048)


def flip_bit(data: bytes, index: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)


# --- valid signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m)}-bytes")
def test_a_pkcs1v15_sha256_signature_from_cryptography_verifies(key: Key, message: bytes) -> None:
    assert key.verifies(message, key.sign(message))


def test_a_3072_bit_key_verifies() -> None:
    big = make_key(3072)

    assert big.verifies(b"payload", big.sign(b"payload"))


def test_the_hand_built_encoding_matches_cryptography(key: Key) -> None:
    # The forgery tests below build blocks by hand; this pins that the correct block does verify,
    # so their rejections are about the block's content, not about how it was signed.
    digest = hashlib.sha256(b"payload").digest()
    t = SHA256_DIGEST_INFO + digest
    block = b"\x00\x01" + b"\xff" * (key.size - len(t) - 3) + b"\x00" + t

    assert key.raw_sign(block) == key.sign(b"payload")
    assert key.verifies(b"payload", key.raw_sign(block))


# --- tampering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "bit"), [(0, 0), (0, 7), (100, 3), (-1, 0), (-1, 7)])
def test_a_flipped_bit_in_the_signature_is_rejected(key: Key, index: int, bit: int) -> None:
    signature = key.sign(b"payload")

    assert not key.verifies(b"payload", flip_bit(signature, index, bit))


@pytest.mark.parametrize(("index", "bit"), [(0, 0), (3, 5), (-1, 0), (-1, 7)])
def test_a_flipped_bit_in_the_message_is_rejected(key: Key, index: int, bit: int) -> None:
    message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm4ifQ"
    signature = key.sign(message)

    assert not key.verifies(flip_bit(message, index, bit), signature)


def test_a_signature_for_another_message_is_rejected(key: Key) -> None:
    assert not key.verifies(b"pay", key.sign(b"payload"))


def test_a_signature_under_another_key_is_rejected(key: Key) -> None:
    other = make_key(2048)

    assert not key.verifies(b"payload", other.sign(b"payload"))


@pytest.mark.parametrize(
    "reshape",
    [
        pytest.param(lambda s: s[:-1], id="one-byte-short"),
        pytest.param(lambda s: s[1:], id="first-byte-dropped"),
        pytest.param(lambda s: s + b"\x00", id="one-byte-long"),
        pytest.param(lambda s: b"\x00" + s, id="leading-zero-same-integer"),
        pytest.param(lambda s: b"", id="empty"),
    ],
)
def test_a_signature_of_the_wrong_length_is_rejected(key: Key, reshape: Callable[[bytes], bytes]) -> None:
    signature = key.sign(b"payload")

    assert not key.verifies(b"payload", reshape(signature))


def test_a_signature_not_reduced_modulo_n_is_rejected() -> None:
    # Given a valid signature s for which s + n still fits in the modulus' byte length
    # (s + n = s (mod n), so a verifier that skips the range check accepts it)
    key, message, signature = _signature_with_room_above_n()
    assert key.verifies(message, signature)
    unreduced = (int.from_bytes(signature, "big") + key.n).to_bytes(key.size, "big")

    # Then the unreduced representative is rejected (RFC 8017 5.2.2: s must be in [0, n-1])
    assert not key.verifies(message, unreduced)


@pytest.mark.parametrize("value", ["n", "n+1", "all-ones"])
def test_signature_values_at_or_above_n_are_rejected(key: Key, value: str) -> None:
    s = {"n": key.n, "n+1": key.n + 1, "all-ones": 2 ** (8 * key.size) - 1}[value]

    assert not key.verifies(b"payload", s.to_bytes(key.size, "big"))


def _signature_with_room_above_n() -> tuple[Key, bytes, bytes]:
    limit = 0
    for _ in range(20):
        key = make_key(2048)
        limit = 2 ** (8 * key.size) - key.n
        for i in range(200):
            message = f"message {i}".encode()
            signature = key.sign(message)
            if int.from_bytes(signature, "big") < limit:
                return key, message, signature
    raise AssertionError(f"no signature below 2**2048 - n found (last limit {limit.bit_length()} bits)")


# --- weak keys and other digests ----------------------------------------------------------------


def test_min_key_bits_is_2048() -> None:
    assert MIN_KEY_BITS == 2048


def test_a_valid_signature_under_a_1024_bit_key_is_rejected() -> None:
    weak = make_key(1024)
    signature = weak.sign(b"payload")
    # (the signature itself is sound: cryptography accepts it)
    weak.private.public_key().verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())

    assert not weak.verifies(b"payload", signature)


@pytest.mark.parametrize(
    "algorithm",
    [hashes.SHA1(), hashes.SHA512(), hashes.SHA384(), hashes.SHA224()],  # noqa: S303 (signing with SHA-1 is the attack)
    ids=lambda a: a.name,
)
def test_a_signature_with_another_digest_algorithm_is_rejected(
    key: Key, algorithm: hashes.HashAlgorithm
) -> None:
    signature = key.sign(b"payload", algorithm)

    assert not key.verifies(b"payload", signature)


# --- Bleichenbacher-style lenient-parser forgeries ----------------------------------------------


def _block(key: Key, message: bytes, *, padding_length: int, junk: bytes) -> bytes:
    """00 01 FF..FF 00 || DigestInfo || SHA-256(message) || junk, as long as the modulus."""
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    block = b"\x00\x01" + b"\xff" * padding_length + b"\x00" + t + junk
    assert len(block) == key.size
    return block


@pytest.mark.parametrize("padding_length", [8, 16, 100])
def test_garbage_after_the_digest_is_rejected(key: Key, padding_length: int) -> None:
    # Given a block with a short padding and junk after the hash (what a parser that reads
    # DigestInfo and ignores the rest would accept: Bleichenbacher 2006)
    t_length = len(SHA256_DIGEST_INFO) + 32
    junk = b"\xab" * (key.size - 3 - padding_length - t_length)
    forged = key.raw_sign(_block(key, b"payload", padding_length=padding_length, junk=junk))

    assert not key.verifies(b"payload", forged)


def test_a_block_with_a_wrong_type_byte_is_rejected(key: Key) -> None:
    good = bytearray(_block(key, b"payload", padding_length=key.size - 3 - 51, junk=b""))
    good[1] = 0x02  # encryption padding, not signature padding

    assert not key.verifies(b"payload", key.raw_sign(bytes(good)))


def test_a_block_with_non_ff_padding_is_rejected(key: Key) -> None:
    good = bytearray(_block(key, b"payload", padding_length=key.size - 3 - 51, junk=b""))
    good[10] = 0xFE

    assert not key.verifies(b"payload", key.raw_sign(bytes(good)))


def test_a_digest_info_without_the_null_parameters_is_rejected(key: Key) -> None:
    # The other DER encoding of the SHA-256 AlgorithmIdentifier (parameters absent, RFC 8017
    # 9.2 note 2) is two bytes shorter; we accept only the one Cognito (and RFC 7518) uses.
    info = bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20"
    t = info + hashlib.sha256(b"payload").digest()
    block = b"\x00\x01" + b"\xff" * (key.size - len(t) - 3) + b"\x00" + t

    assert not key.verifies(b"payload", key.raw_sign(block))


# --- base64url ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"\x00", b"ab", b"abc", b"\xfb\xff\xfe", bytes(range(256))])
def test_b64url_decode_round_trips_unpadded_segments(raw: bytes) -> None:
    assert b64url_decode(b64url(raw)) == raw


def test_b64url_decode_uses_the_url_safe_alphabet() -> None:
    assert b64url_decode("-_-_") == b"\xfb\xff\xbf"


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("", id="empty"),
        pytest.param("QUI=", id="padding"),
        pytest.param("QQ==", id="double-padding"),
        pytest.param("+/+/", id="standard-alphabet"),
        pytest.param("QU+D", id="plus"),
        pytest.param("QU/D", id="slash"),
        pytest.param("QU JD", id="space"),
        pytest.param("QUJD\n", id="newline"),
        pytest.param("Q", id="impossible-length"),
        pytest.param("QUJé", id="non-ascii"),
    ],
)
def test_b64url_decode_rejects_anything_but_unpadded_base64url(segment: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the contract is "ValueError", whatever the message)
        b64url_decode(segment)


@pytest.mark.parametrize("junk", ["\t", "\r", "\x0b", "\x0c", "!", "*", "~", "\x00"])
def test_b64url_decode_rejects_other_whitespace_and_non_alphabet_characters(junk: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        b64url_decode(f"QU{junk}JD")
