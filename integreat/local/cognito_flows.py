"""The operations the local Cognito layer answers differently from moto, so that real clients
(Amplify JS v6, amazon-cognito-identity-js, pycognito, boto3) meet Cognito's behaviour:

- USER_SRP_AUTH and its PASSWORD_VERIFIER answer are checked here (`cognito_srp.py`); moto is then
  asked for the tokens by password, and they go through pre token generation as any others;
- GetTokensFromRefreshToken (Amplify's refresh), which moto lacks, is moto's REFRESH_TOKEN_AUTH;
- RevokeToken (Amplify's signOut), which moto lacks, revokes in moto's backend (`moto_users.py`);
- an unknown user is "Incorrect username or password." where the client prevents user existence
  errors; ForgotPassword names the e-mail it went to; moto's error messages that echo a token or
  a username get Cognito's wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integreat.local.cognito_srp import secret_hash
from integreat.local.cognito_wire import (
    INCORRECT,
    CognitoError,
    Event,
    Exchange,
    Reply,
    call,
    error,
    error_of,
    masked_email,
    ok,
    params_of,
)  # fmt: skip
from integreat.local.moto_users import NotInProcessError

if TYPE_CHECKING:
    from integreat.local.cognito import LocalCognito


# The client setting each flow needs (ExplicitAuthFlows, without its ALLOW_ prefix).
FLOW_SETTINGS = {
    "USER_SRP_AUTH": "USER_SRP_AUTH", "USER_PASSWORD_AUTH": "USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN": "REFRESH_TOKEN_AUTH", "CUSTOM_AUTH": "CUSTOM_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH": "ADMIN_USER_PASSWORD_AUTH",
}  # fmt: skip


def initiate_auth(layer: LocalCognito, exchange: Exchange, params: Event) -> Reply:
    _check_flow(layer, params)  # moto lets every client use every flow
    if params.get("AuthFlow") == "USER_SRP_AUTH":
        pool, client_id = _pool_and_client(layer, params)
        return ok(layer.srp.challenge(pool, client_id, params.get("AuthParameters") or {}))
    reply = layer.tokens(exchange, params)
    if (error_of(reply) or ("",))[0] == "UserNotFoundException" and _prevents(layer, params):
        return error(400, "NotAuthorizedException", INCORRECT)
    return reply


def respond_to_auth_challenge(layer: LocalCognito, exchange: Exchange, params: Event) -> Reply:
    """PASSWORD_VERIFIER never reaches moto, which would accept any answer."""
    if params.get("ChallengeName") != "PASSWORD_VERIFIER":
        return layer.tokens(exchange, params)
    pool, client_id = _pool_and_client(layer, params)
    username, password = layer.srp.verified(pool, client_id, params.get("ChallengeResponses") or {})
    auth = {"USERNAME": username, "PASSWORD": password}
    secret = layer.srp.client(pool, client_id).get("ClientSecret")
    if secret:
        auth["SECRET_HASH"] = secret_hash(secret, username, client_id)
    body: Event = {"UserPoolId": pool, "ClientId": client_id, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                   "AuthParameters": auth}  # fmt: skip
    if params.get("ClientMetadata"):
        body["ClientMetadata"] = params["ClientMetadata"]
    return layer.reminted(layer.forward(call("AdminInitiateAuth", body)), params)


def get_tokens_from_refresh_token(layer: LocalCognito, exchange: Exchange, params: Event) -> Reply:
    auth = {"REFRESH_TOKEN": str(params.get("RefreshToken") or "")}
    body = {"ClientId": params.get("ClientId"), "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": auth}
    return layer.reminted(layer.forward(call("InitiateAuth", body)), params)


def revoke_token(layer: LocalCognito, exchange: Exchange, params: Event) -> Reply:
    """The refresh token and the access tokens issued from it stop working; unknown ones are no
    error (RFC 7009 2.2, which RevokeToken follows)."""
    pool, client_id = _pool_and_client(layer, params)
    if layer.srp.client(pool, client_id).get("EnableTokenRevocation") is False:
        raise CognitoError(
            "UnsupportedOperationException", "Token revocation is not enabled for this client."
        )
    try:
        revoked = layer.in_process.revoke(pool, str(params.get("Token") or ""), client_id)
    except NotInProcessError as exc:
        raise CognitoError("UnsupportedOperationException", str(exc)) from exc
    if not revoked:
        raise CognitoError("UnauthorizedException", "The token was not issued to this client.")
    return ok({})


def forgot_password(layer: LocalCognito, exchange: Exchange, params: Event) -> Reply:
    """moto's answer, with the code said to go by e-mail to the masked address, as the pool's
    e-mail-only recovery sends it (moto says SMS)."""
    reply = layer.forward(exchange)
    pool = layer.pool_for_client(str(params.get("ClientId", "")))
    if reply.status != 200 or pool is None:
        return reply
    username = str(params.get("Username", ""))
    email = _email(layer.moto, pool, username) or (username if "@" in username else None)
    if email is None:
        return reply
    details = {"Destination": masked_email(email), "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    return reply._replace(body=ok({**params_of(reply.body), "CodeDeliveryDetails": details}).body)


def verify_email(moto: Any, pool: str, username: str) -> None:
    """Mark the e-mail verified when the pool sends sign-up codes there (its confirmation proves it)."""
    if "email" not in moto.describe_user_pool(UserPoolId=pool)["UserPool"].get("AutoVerifiedAttributes", []):
        return
    if _email(moto, pool, username):
        attributes = [{"Name": "email_verified", "Value": "true"}]
        moto.admin_update_user_attributes(UserPoolId=pool, Username=username, UserAttributes=attributes)


def worded(reply: Reply, operation: str, params: Event, issued: bool) -> Reply:
    """Cognito's wording where moto's message echoes the request: moto says NotAuthorized with
    the token itself for a signed-out token, and with the username for a wrong old password."""
    code, message = error_of(reply) or ("", "")
    if code != "NotAuthorizedException":
        return reply
    if message == "Invalid token" or (message.count(".") == 2 and " " not in message):  # or moto's token
        return error(400, code, "Access Token has been revoked" if issued else "Invalid Access Token")
    if operation == "ChangePassword":
        return error(400, code, INCORRECT)
    return reply


def _pool_and_client(layer: LocalCognito, params: Event) -> tuple[str, str]:
    client_id = str(params.get("ClientId") or "")
    pool = params.get("UserPoolId") or layer.pool_for_client(client_id)
    if not isinstance(pool, str):
        raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
    return pool, client_id


def _check_flow(layer: LocalCognito, params: Event) -> None:
    """Refuse a flow the client's ExplicitAuthFlows leave out. A client with none is not checked,
    as moto does (Cognito would allow SRP, refresh and custom auth only), so that bare test
    clients keep working."""
    flow = str(params.get("AuthFlow"))
    if flow not in FLOW_SETTINGS:
        return  # moto answers an unknown flow with Cognito's error
    pool, client_id = _pool_and_client(layer, params)
    listed = layer.srp.client(pool, client_id).get("ExplicitAuthFlows") or []
    allowed = {FLOW_SETTINGS.get(f.removeprefix("ALLOW_"), f.removeprefix("ALLOW_")) for f in listed}
    if allowed and FLOW_SETTINGS[flow] not in allowed:
        raise CognitoError("InvalidParameterException", f"{flow} flow not enabled for this client")


def _prevents(layer: LocalCognito, params: Event) -> bool:
    pool, client_id = _pool_and_client(layer, params)
    return layer.srp.client(pool, client_id).get("PreventUserExistenceErrors") == "ENABLED"


def _email(moto: Any, pool: str, username: str) -> str | None:
    try:
        user = moto.admin_get_user(UserPoolId=pool, Username=username)
    except moto.exceptions.UserNotFoundException:
        return None
    return next((str(a["Value"]) for a in user["UserAttributes"] if a["Name"] == "email"), None)
