"""The server side of Cognito's SRP (integreat/local/srp.py) against pycognito's client side, a
client that real Cognito accepts: what one computes, the other must agree with, bit for bit."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP, pad_hex  # type: ignore[import-untyped]

from integreat.local import srp

POOL = "eu-west-1_AbCdEf123"
CLIENT = "client-1"
USER = "7c2e1b9a-0000-4000-8000-000000000001"
PASSWORD = "Corr3ct-Horse-Battery!"
NOW = datetime(2026, 12, 2, 6, 42, 32, tzinfo=UTC)


def client(password: str = PASSWORD) -> Any:
    # client=object(): the math only, no boto3 client is ever called here
    return AWSSRP(USER, password, POOL, CLIENT, client=object())


def answer(user: Any, pending: srp.Pending, block: str, stamp: str) -> str:
    """pycognito's PASSWORD_CLAIM_SIGNATURE for this challenge, at `stamp`."""
    key = user.get_password_authentication_key(USER, user.password, pending.big_b, f"{pending.salt:x}")
    message = POOL.split("_")[1].encode() + USER.encode() + base64.b64decode(block) + stamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def issued(user: Any, password: str | None = PASSWORD) -> tuple[srp.Pending, str, srp.Challenges]:
    challenges = srp.Challenges()
    pending = srp.challenge(POOL, CLIENT, USER, password, f"{user.large_a_value:x}")
    return pending, challenges.issue(pending), challenges


def test_the_group_and_padding_are_cognitos() -> None:
    user = client()
    assert (user.big_n, user.val_g, user.val_k) == (srp.N, srp.G, srp.K)
    for value in (1, 0x7F, 0x80, 0xABC, srp.N, user.large_a_value):
        assert srp.pad(value).hex() == pad_hex(value).lower()


def test_the_timestamp_is_cognitos_with_an_unpadded_day() -> None:
    assert srp.timestamp(NOW) == "Wed Dec 2 06:42:32 UTC 2026"
    assert srp.timestamp(NOW) == AWSSRP.get_cognito_formatted_timestamp(NOW)
    srp.check_timestamp("Wed Dec 2 06:42:32 UTC 2026", NOW)
    with pytest.raises(srp.SrpError, match="format"):
        srp.check_timestamp("Wed Dec 02 06:42:32 UTC 2026", NOW)


def test_the_right_password_verifies() -> None:
    user = client()
    pending, block, _ = issued(user)
    srp.verify(pending, block, srp.timestamp(NOW), answer(user, pending, block, srp.timestamp(NOW)), NOW)


def test_pycognitos_own_challenge_answer_verifies() -> None:
    user = client()
    pending, block, _ = issued(user)
    parameters = {"USER_ID_FOR_SRP": USER, "SALT": f"{pending.salt:x}", "SRP_B": f"{pending.big_b:x}",
                  "SECRET_BLOCK": block}  # fmt: skip
    response = user.process_challenge(parameters, {"USERNAME": USER})
    signature, stamp = response["PASSWORD_CLAIM_SIGNATURE"], response["TIMESTAMP"]
    srp.verify(pending, block, stamp, signature, datetime.now(UTC))


def test_a_wrong_password_is_refused() -> None:
    wrong = client("Wr0ng-Horse-Battery!")
    pending, block, _ = issued(wrong)
    with pytest.raises(srp.SrpError, match="does not match"):
        srp.verify(pending, block, srp.timestamp(NOW), answer(wrong, pending, block, srp.timestamp(NOW)), NOW)


def test_a_simulated_challenge_refuses_every_answer() -> None:
    user = client()
    pending, block, _ = issued(user, password=None)
    with pytest.raises(srp.SrpError):
        srp.verify(pending, block, srp.timestamp(NOW), answer(user, pending, block, srp.timestamp(NOW)), NOW)


def test_a_stale_timestamp_is_refused_even_when_signed() -> None:
    user = client()
    pending, block, _ = issued(user)
    stale = srp.timestamp(NOW - timedelta(minutes=6))
    with pytest.raises(srp.SrpError, match="stale"):
        srp.verify(pending, block, stale, answer(user, pending, block, stale), NOW)


def test_a_secret_block_is_answerable_once_and_a_forged_one_never() -> None:
    user = client()
    pending, block, challenges = issued(user)
    assert challenges.take(block) == pending
    with pytest.raises(srp.SrpError, match="unknown, used or expired"):
        challenges.take(block)
    with pytest.raises(srp.SrpError, match="unknown, used or expired"):
        challenges.take(base64.b64encode(b"forged" * 10).decode())


def test_an_expired_challenge_is_refused() -> None:
    user = client()
    pending, _, challenges = issued(user)
    block = challenges.issue(pending._replace(expires=0.0))
    with pytest.raises(srp.SrpError):
        challenges.take(block)


def test_a_public_value_of_zero_is_refused() -> None:
    with pytest.raises(srp.SrpError):
        srp.challenge(POOL, CLIENT, USER, PASSWORD, f"{srp.N:x}")
