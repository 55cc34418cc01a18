"""The server side of Cognito's SRP-6a (USER_SRP_AUTH / PASSWORD_VERIFIER), for the local layer.

Cognito's variant, as its clients compute it (amazon-cognito-identity-js `AuthenticationHelper`,
Amplify v6 `srp/`, pycognito `aws_srp.py`): the 3072-bit group of RFC 5054 with g = 2,
k = H(pad(N) | pad(g)), x = H(pad(salt) | H(pool_name | user_id | ":" | password)), the session
key is HKDF-SHA256 of pad(S) salted with pad(u), info "Caldera Derived Key", 16 bytes, and the
client proves it with HMAC-SHA256(key, pool_name | user_id | SECRET_BLOCK bytes | TIMESTAMP).
`pad` is the clients' hex padding: an even number of digits, and "00" ahead of a high first
nibble, so that the bytes read as a positive number. No IO here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# "Tue Dec 2 06:42:32 UTC 2026": Cognito's clients never pad the day (pycognito strips a 0).
TIMESTAMP = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [1-9]\d? \d\d:\d\d:\d\d UTC \d{4}")
CLOCK_SKEW = timedelta(minutes=5)
# Cognito's AuthSessionValidity defaults to 3 minutes: a challenge unanswered by then is gone.
CHALLENGE_SECONDS = 180.0
MAX_PENDING = 10_000


class SrpError(Exception):
    """The proof is wrong, forged, reused or stale: always "Incorrect username or password."."""


def pad(value: int) -> bytes:
    """The bytes the clients hash for a number (see the module docstring)."""
    digits = f"{value:x}"
    if len(digits) % 2:
        digits = "0" + digits
    elif digits[0] in "89abcdef":
        digits = "00" + digits
    return bytes.fromhex(digits)


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


K = _hash(pad(N) + pad(G))


def pool_name(pool_id: str) -> str:
    """The part of "eu-west-1_AbC123" the proof uses: "AbC123"."""
    return pool_id.split("_", 1)[1]


def verifier(pool_id: str, user_id: str, password: str, salt: int) -> int:
    """v = g^x mod N for this user, password and salt."""
    inner = hashlib.sha256(f"{pool_name(pool_id)}{user_id}:{password}".encode()).digest()
    return pow(G, _hash(pad(salt) + inner), N)


def timestamp(now: datetime) -> str:
    """Cognito's TIMESTAMP for `now` (UTC): "Tue Dec 2 06:42:32 UTC 2026"."""
    return f"{DAYS[now.weekday()]} {MONTHS[now.month - 1]} {now.day} {now:%H:%M:%S} UTC {now.year}"


class Pending(NamedTuple):
    """A PASSWORD_VERIFIER challenge the layer has issued and not yet seen answered."""

    pool_id: str
    client_id: str
    user_id: str  # USER_ID_FOR_SRP: the user's internal username
    salt: int
    b: int  # the server's secret
    big_a: int
    big_b: int
    v: int  # 0 for a simulated challenge (unknown user): no proof can match
    expires: float


def challenge(pool_id: str, client_id: str, user_id: str, password: str | None, srp_a: str) -> Pending:
    """A fresh challenge for the client's SRP_A; `password` None simulates one for an unknown user,
    as Cognito does when the client prevents user existence errors."""
    big_a = int(srp_a, 16)
    if big_a % N == 0:
        raise SrpError("SRP_A is not a valid public value")
    salt = secrets.randbits(128)
    v = verifier(pool_id, user_id, password, salt) if password is not None else 0
    while True:
        b = secrets.randbelow(N - 1) + 1
        big_b = (K * v + pow(G, b, N)) % N
        if big_b and _u(big_a, big_b):
            break
    return Pending(
        pool_id, client_id, user_id, salt, b, big_a, big_b, v, time.monotonic() + CHALLENGE_SECONDS
    )


def _u(big_a: int, big_b: int) -> int:
    return _hash(pad(big_a) + pad(big_b))


def session_key(pending: Pending) -> bytes:
    """The 16-byte key the client must have derived: S = (A * v^u)^b mod N, then HKDF."""
    u = _u(pending.big_a, pending.big_b)
    s = pow(pending.big_a * pow(pending.v, u, N), pending.b, N)
    prk = hmac.new(pad(u), pad(s), hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:16]


def signature(key: bytes, pool_id: str, user_id: str, secret_block: bytes, stamp: str) -> str:
    """PASSWORD_CLAIM_SIGNATURE, base64, as the client computes it."""
    message = pool_name(pool_id).encode() + user_id.encode() + secret_block + stamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def check_timestamp(stamp: str, now: datetime) -> None:
    """Cognito's format, within a few minutes of `now`."""
    if not TIMESTAMP.fullmatch(stamp):
        raise SrpError(f"TIMESTAMP {stamp!r} is not in Cognito's format")
    when = datetime.strptime(stamp, "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=UTC)
    if abs(now - when) > CLOCK_SKEW:
        raise SrpError("TIMESTAMP is stale")


class Challenges:
    """Issued challenges by SECRET_BLOCK, each answerable once and only until it expires."""

    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def issue(self, pending: Pending) -> str:
        """Remember `pending`; returns its SECRET_BLOCK (base64, opaque to the client)."""
        block = base64.b64encode(secrets.token_bytes(64)).decode()
        with self._lock:
            now = time.monotonic()
            self._pending = {k: p for k, p in self._pending.items() if p.expires > now}
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[block] = pending
        return block

    def take(self, block: str) -> Pending:
        """The challenge of `block`, forgotten at once: a replayed answer finds nothing."""
        with self._lock:
            pending = self._pending.pop(block, None)
        if pending is None or pending.expires < time.monotonic():
            raise SrpError("SECRET_BLOCK is unknown, used or expired")
        return pending


def verify(pending: Pending, block: str, stamp: str, claimed: str, now: datetime) -> None:
    """Raise SrpError unless `claimed` is the signature of the password `pending` was made for."""
    check_timestamp(stamp, now)
    if not pending.v:
        raise SrpError("no such user")
    expected = signature(
        session_key(pending), pending.pool_id, pending.user_id, base64.b64decode(block), stamp
    )
    if not hmac.compare_digest(expected.encode(), claimed.encode()):
        raise SrpError("PASSWORD_CLAIM_SIGNATURE does not match")
