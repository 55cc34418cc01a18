"""USER_SRP_AUTH for the local Cognito layer: the PASSWORD_VERIFIER challenge and its check.

moto answers USER_SRP_AUTH with random numbers and accepts any PASSWORD_VERIFIER answer, so a
wrong password signs in. This answers both itself (`integreat/local/srp.py` does the math) and,
once the proof holds, hands the layer the user to authenticate at moto by password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from integreat.local import srp
from integreat.local.cognito_wire import INCORRECT, CognitoError, Event
from integreat.local.moto_users import NotInProcessError


class Passwords(Protocol):
    def password(self, pool_id: str, username: str, sub: str) -> str: ...


class SrpSignIn:
    """The two halves of USER_SRP_AUTH, against moto's users (`moto`, a boto3 client) and the
    passwords `passwords` reveals (`moto_users.InProcessMoto` on the local platform)."""

    def __init__(self, moto: Any, passwords: Passwords) -> None:
        self._moto = moto
        self._passwords = passwords
        self._challenges = srp.Challenges()

    def challenge(self, pool_id: str, client_id: str, auth: Event) -> Event:
        """InitiateAuth's answer: a PASSWORD_VERIFIER challenge for SRP_A."""
        client = self.client(pool_id, client_id)
        username, srp_a = str(auth.get("USERNAME") or ""), str(auth.get("SRP_A") or "")
        if not username or not srp_a:
            raise CognitoError("InvalidParameterException", "Missing required parameter USERNAME or SRP_A")
        _check_secret_hash(client, username, auth.get("SECRET_HASH"))
        user = self._user(pool_id, username, prevent=client.get("PreventUserExistenceErrors") == "ENABLED")
        user_id = str(user["Username"]) if user else username
        password = self._password(pool_id, user) if user else None
        try:
            pending = srp.challenge(pool_id, client_id, user_id, password, srp_a)
        except (srp.SrpError, ValueError) as exc:
            raise CognitoError("InvalidParameterException", "SRP_A is not a valid public value") from exc
        parameters = {
            "SALT": f"{pending.salt:x}", "SRP_B": f"{pending.big_b:x}",
            "SECRET_BLOCK": self._challenges.issue(pending), "USER_ID_FOR_SRP": user_id, "USERNAME": user_id,
        }  # fmt: skip
        return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": parameters}

    def verified(self, pool_id: str, client_id: str, answers: Event) -> tuple[str, str]:
        """(username, password) of the user whose proof `answers` carries; NotAuthorizedException
        for a wrong password, a forged, reused or expired SECRET_BLOCK, or a stale TIMESTAMP."""
        block = str(answers.get("PASSWORD_CLAIM_SECRET_BLOCK") or "")
        try:
            pending = self._challenges.take(block)
            if (pending.pool_id, pending.client_id) != (pool_id, client_id):
                raise srp.SrpError("the challenge was issued to another client")
            stamp, claimed = str(answers.get("TIMESTAMP")), str(answers.get("PASSWORD_CLAIM_SIGNATURE"))
            srp.verify(pending, block, stamp, claimed, datetime.now(UTC))
        except (srp.SrpError, ValueError) as exc:
            raise CognitoError("NotAuthorizedException", INCORRECT) from exc
        user = self._user(pool_id, pending.user_id, prevent=True)
        if user is None:  # deleted since the challenge
            raise CognitoError("NotAuthorizedException", INCORRECT)
        return pending.user_id, self._password(pool_id, user)

    def client(self, pool_id: str, client_id: str) -> Event:
        try:
            found: Event = self._moto.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
        except ClientError as exc:
            raise CognitoError(
                "ResourceNotFoundException", f"User pool client {client_id} does not exist."
            ) from exc
        return dict(found["UserPoolClient"])

    def _user(self, pool_id: str, username: str, *, prevent: bool) -> Event | None:
        try:
            user: Event = self._moto.admin_get_user(UserPoolId=pool_id, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise
            if prevent:  # Cognito simulates a challenge and refuses the answer
                return None
            raise CognitoError("UserNotFoundException", "User does not exist.") from exc
        if not user.get("Enabled", True):
            raise CognitoError("NotAuthorizedException", "User is disabled.")
        return user

    def _password(self, pool_id: str, user: Event) -> str:
        sub = next((a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub"), "")
        try:
            return self._passwords.password(pool_id, str(user["Username"]), str(sub))
        except NotInProcessError as exc:
            raise CognitoError("UnsupportedOperationException", str(exc)) from exc


def secret_hash(secret: str, username: str, client_id: str) -> str:
    """SECRET_HASH of a client with a secret: Base64(HMAC-SHA256(secret, username + client id))."""
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _check_secret_hash(client: Event, username: str, given: Any) -> None:
    secret = client.get("ClientSecret")
    if secret and not hmac.compare_digest(
        str(given or ""), secret_hash(secret, username, client["ClientId"])
    ):
        raise CognitoError(
            "NotAuthorizedException",
            f"Client {client['ClientId']} is configured with secret but SECRET_HASH was not received",
        )
