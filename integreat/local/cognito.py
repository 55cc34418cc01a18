"""The local Cognito endpoint: moto's Cognito, with Integreat's triggers fired where Cognito fires them.

moto never invokes Cognito triggers (DESIGN.md decision 8). This HTTP layer forwards every request
to moto unchanged, except the operations in `OPERATIONS`, around which it runs the real handlers
with Cognito's event shapes (tests/events/), then re-mints the tokens with the pre-token claims,
signed with a local key whose JWKS it serves instead of moto's: the API accepts only tokens that
went through the triggers. Any AWS JSON 1.1 client works, signed or not (boto3, Amplify JS,
amazon-cognito-identity-js, pycognito). What moto gets wrong for those clients is answered here or
in `cognito_flows.py`: USER_SRP_AUTH (moto checks no proof), GetTokensFromRefreshToken and
RevokeToken (moto lacks them), and every answer is JSON in Cognito's error shape.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from chalicelib.observability import logger, start_invocation
from integreat.local import cognito_flows as flows
from integreat.local.cognito_srp import Passwords, SrpSignIn
from integreat.local.cognito_wire import (
    CognitoError,
    Event,
    Exchange,
    Reply,
    as_json,
    error,
    handler_class,
    ok,
    params_of,
)  # fmt: skip
from integreat.local.jwt import (
    ACCESS_TOKEN,
    ID_TOKEN,
    SigningKey,
    SignIns,
    claims_of,
    cognito_claims,
    reminted,
)
from integreat.local.moto_users import InProcessMoto
from integreat.local.serving import ServerThread

RunTrigger = Callable[[str, Event], Event]

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
NO_CLIENT = "CLIENT_ID_NOT_APPLICABLE"  # callerContext.clientId of admin operations
SDK_VERSION = "aws-sdk-unknown-unknown"
CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
CONFIRM_RESET = "PostConfirmation_ConfirmForgotPassword"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
JWKS_PATH = re.compile(r"/[\w-]+/\.well-known/jwks\.json")
# Hop-by-hop headers (RFC 9110 7.6.1), and those this layer sets itself.
NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length", "server", "date"}
)  # fmt: skip
# Among the claims Cognito never lets pre token generation change (AWS developer guide).
MAX_REMEMBERED_TOKENS = 10_000


class LocalCognitoError(Exception):
    """The layer cannot start; the message says why and what to do."""


class TriggerError(Exception):
    """A trigger raised: the client gets UserLambdaValidationException with this message."""


class LocalCognito:
    """moto's Cognito behind an HTTP layer that fires Integreat's triggers (see module docstring).

    layer = LocalCognito(moto_url, key_file=state / "key.pem",
                         run_trigger=lambda name, event: getattr(triggers, name)(event, None))
    url = layer.start()  # the Cognito endpoint for clients; layer.stop() at the end
    """

    def __init__(
        self,
        moto_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        key_file: Path,
        run_trigger: RunTrigger,
        region: str = "eu-west-1",
        passwords: Passwords | None = None,
    ) -> None:
        if host not in LOOPBACK:
            raise LocalCognitoError(f"the local Cognito layer listens on loopback only, not {host}")
        self._moto_url = urlsplit(moto_url)
        self._address = (host, port)
        self._key = SigningKey(key_file)
        self._run_trigger = run_trigger
        self.region = region
        # moto accepts any credentials: never send the developer's real ones, even to loopback.
        self.moto = boto3.client(
            "cognito-idp", endpoint_url=moto_url, region_name=region,
            aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106
        )  # fmt: skip
        self.in_process = InProcessMoto()
        self.srp = SrpSignIn(self.moto, passwords or self.in_process)
        self._sign_ins = SignIns()
        self._pools: dict[str, str] = {}  # app client id -> user pool id
        self._issued: dict[str, str] = {}  # re-minted access token -> moto's (see _with_moto_token)
        self._lock = threading.Lock()
        self._serving = ServerThread(self._address, handler_class(self.handle), "local-cognito")

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL, e.g. http://127.0.0.1:4567."""
        return self._serving.start()

    def stop(self) -> None:
        self._serving.stop()

    def jwks(self) -> dict[str, Any]:
        return self._key.jwks()

    def handle(self, exchange: Exchange) -> Reply:
        """One request: the local JWKS, an operation with triggers, or moto's own answer."""
        if exchange.method == "GET" and JWKS_PATH.fullmatch(exchange.path.split("?")[0]):
            return Reply(200, [("Content-Type", "application/json")], json.dumps(self.jwks()).encode())
        target = exchange.headers.get("X-Amz-Target", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        params = params_of(exchange.body) if operation else {}
        moto_exchange = self._with_moto_token(exchange, params)
        try:
            reply = OPERATIONS.get(operation, LocalCognito.forward)(self, moto_exchange, params)
        except TriggerError as exc:
            return error(400, "UserLambdaValidationException", str(exc))
        except CognitoError as exc:
            return error(exc.status, exc.code, exc.message)
        except Exception:
            logger.exception("local cognito failed", extra={"operation": operation})
            return error(500, "InternalErrorException", "the local Cognito layer failed: see its log")
        if not operation:
            return reply
        return flows.worded(
            as_json(reply, operation), operation, params, self.was_issued(params.get("AccessToken"))
        )

    def forward(self, exchange: Exchange, params: Event | None = None) -> Reply:
        dropped = NOT_FORWARDED | {"accept-encoding"}  # identity encoding: token responses are read here
        headers = {k: v for k, v in exchange.headers.items() if k.lower() not in dropped}
        if "X-Amz-Target" in exchange.headers and "Authorization" not in exchange.headers:
            # Unsigned calls (Amplify's): moto then reads the region from the host name.
            headers = {k: v for k, v in headers.items() if k.lower() != "host"}
            headers["Host"] = f"cognito-idp.{self.region}.amazonaws.com"
        conn = http.client.HTTPConnection(self._moto_url.hostname or "", self._moto_url.port, timeout=30)
        try:
            conn.request(exchange.method, exchange.path, body=exchange.body, headers=headers)
            response = conn.getresponse()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED]
            return Reply(response.status, kept, response.read())
        finally:
            conn.close()

    def _sign_up(self, exchange: Exchange, params: Event) -> Reply:
        # Forwarded first, and the user deleted again on a refusal: where email is the username,
        # Cognito's userName is an id moto generates, and every trigger must see the same one.
        reply = self.forward(exchange)
        client_id = str(params.get("ClientId", ""))
        pool = self.pool_for_client(client_id)
        if reply.status != 200 or pool is None:
            return reply
        user = self.moto.admin_get_user(UserPoolId=pool, Username=params["Username"])
        attributes = {k: v for k, v in _flatten(user["UserAttributes"]).items() if k != "sub"}
        validation = _flatten(params.get("ValidationData")) or None
        metadata = params.get("ClientMetadata") or {}
        request = {"userAttributes": attributes, "validationData": validation, "clientMetadata": metadata}
        response = {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
        event = self._event("PreSignUp_SignUp", pool, user, client_id, request, response)
        try:
            self._fire("pre_sign_up", event)
        except TriggerError:
            self.moto.admin_delete_user(UserPoolId=pool, Username=user["Username"])
            raise
        return reply

    def _confirmed(self, exchange: Exchange, params: Event, source: str, by_code: bool = False) -> Reply:
        """Forward, then post confirmation; a trigger error leaves the user confirmed, as in Cognito.
        A code the user typed (`by_code`) verifies the attribute it went to, as Cognito's does."""
        reply = self.forward(exchange)
        client_id = str(params.get("ClientId") or NO_CLIENT)
        pool = params.get("UserPoolId") or self.pool_for_client(client_id)
        if reply.status != 200 or not isinstance(pool, str):
            return reply
        if by_code:
            flows.verify_email(self.moto, pool, params["Username"])
        user = self.moto.admin_get_user(UserPoolId=pool, Username=params["Username"])
        request = {"userAttributes": _attributes(user), "clientMetadata": params.get("ClientMetadata") or {}}
        self._fire("post_confirmation", self._event(source, pool, user, client_id, request, {}))
        return reply

    def tokens(self, exchange: Exchange, params: Event) -> Reply:
        """Forward; when moto issues tokens, run pre token generation and re-mint them."""
        return self.reminted(self.forward(exchange), params)

    def reminted(self, reply: Reply, params: Event) -> Reply:
        """moto's `reply` with its tokens re-minted through pre token generation (`params`: the
        client's request, which decides the trigger source); any other reply unchanged."""
        body = params_of(reply.body) if reply.status == 200 else {}
        result = body.get("AuthenticationResult")
        if not isinstance(result, dict) or not (result.get("IdToken") and result.get("AccessToken")):
            return reply
        access = claims_of(result["AccessToken"])
        event = self._token_event(params, access)
        user = event["request"]["userAttributes"]  # as sent: what the trigger returns is its answer only
        answer = self._fire("pre_token_generation", event)
        details = (answer.get("response") or {}).get("claimsAndScopeOverrideDetails") or {}
        sign_in = self._sign_ins.of(access, refreshed=_token_source(params) == REFRESH_SOURCE)

        def mint(claims: dict[str, Any], kind: str) -> str:
            return self._key.sign(cognito_claims(reminted(claims, details, kind), kind, sign_in, user))

        minted = mint(access, ACCESS_TOKEN)
        with self._lock:
            self._issued[minted] = result["AccessToken"]
            if len(self._issued) > MAX_REMEMBERED_TOKENS:
                del self._issued[next(iter(self._issued))]  # the oldest
        result.update(AccessToken=minted, IdToken=mint(claims_of(result["IdToken"]), ID_TOKEN))
        return ok(body)

    def _event(self, source: str, pool: str, user: Event, client: str, req: Event, resp: Event) -> Event:
        """A trigger event as Cognito builds it (the shapes of tests/events/)."""
        return {
            "version": "1", "triggerSource": source, "region": self.region, "userPoolId": pool,
            "userName": user["Username"], "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": client},
            "request": req, "response": resp,
        }  # fmt: skip

    def _token_event(self, params: Event, access: dict[str, Any]) -> Event:
        """A V2_0 pre token generation event for the user and client of moto's access token."""
        pool = str(access["iss"]).rsplit("/", 1)[-1]
        user = self.moto.admin_get_user(UserPoolId=pool, Username=access["username"])
        paginator = self.moto.get_paginator("admin_list_groups_for_user")
        pages = paginator.paginate(UserPoolId=pool, Username=user["Username"])
        groups, scopes = [g["GroupName"] for page in pages for g in page["Groups"]], access["scope"].split()
        config = {"groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": None}
        request = {"userAttributes": _attributes(user), "groupConfiguration": config, "scopes": scopes}
        response = {"claimsAndScopeOverrideDetails": None}
        event = self._event(_token_source(params), pool, user, access["client_id"], request, response)
        return {**event, "version": "2"}

    def _fire(self, name: str, event: Event) -> Event:
        start_invocation(event["userName"])  # as the handler will: this line carries the user
        client = event["callerContext"]["clientId"]
        logger.info("local cognito trigger", extra={"trigger": event["triggerSource"], "client_id": client})
        try:
            return self._run_trigger(name, event)
        except Exception as exc:  # any failure of the function, in Cognito's wording
            label = name.title().replace("_", "")  # pre_sign_up -> PreSignUp
            raise TriggerError(f"{label} failed with error {exc}.") from exc

    def pool_for_client(self, client_id: str) -> str | None:
        if client_id not in self._pools:  # looked up again on a miss: apps are added while it runs
            pools = self.moto.get_paginator("list_user_pools").paginate(MaxResults=60)
            clients = self.moto.get_paginator("list_user_pool_clients")
            self._pools = {
                client["ClientId"]: pool["Id"]
                for page in pools
                for pool in page["UserPools"]
                for found in clients.paginate(UserPoolId=pool["Id"], MaxResults=60)
                for client in found["UserPoolClients"]
            }
        return self._pools.get(client_id)

    def was_issued(self, token: Any) -> bool:
        """Whether the layer minted `token` (so an error about it means revoked, not invalid)."""
        with self._lock:
            return str(token) in self._issued

    def _with_moto_token(self, exchange: Exchange, params: Event) -> Exchange:
        """The request with moto's own access token in place of the one re-minted from it: moto
        honours only the tokens it issued (GetUser, GlobalSignOut...)."""
        with self._lock:
            original = self._issued.get(str(params.get("AccessToken")))
        if original is None:
            return exchange
        return exchange._replace(body=json.dumps({**params, "AccessToken": original}).encode())


Operation = Callable[[LocalCognito, Exchange, Event], Reply]
OPERATIONS: dict[str, Operation] = {
    "SignUp": LocalCognito._sign_up,
    "ConfirmSignUp": partial(LocalCognito._confirmed, source=CONFIRM_SIGN_UP, by_code=True),
    "AdminConfirmSignUp": partial(LocalCognito._confirmed, source=CONFIRM_SIGN_UP),
    "ConfirmForgotPassword": partial(LocalCognito._confirmed, source=CONFIRM_RESET),
    "InitiateAuth": flows.initiate_auth,
    "AdminInitiateAuth": flows.initiate_auth,
    "RespondToAuthChallenge": flows.respond_to_auth_challenge,
    "AdminRespondToAuthChallenge": flows.respond_to_auth_challenge,
    "GetTokensFromRefreshToken": flows.get_tokens_from_refresh_token,
    "RevokeToken": flows.revoke_token,
    "ForgotPassword": flows.forgot_password,
}
REFRESH_SOURCE = "TokenGeneration_RefreshTokens"


def _token_source(params: Event) -> str:
    if params.get("AuthFlow") in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN") or "RefreshToken" in params:
        return REFRESH_SOURCE
    if params.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        return "TokenGeneration_NewPasswordChallenge"
    return "TokenGeneration_Authentication"


def _attributes(user: Event) -> dict[str, str]:
    return {**_flatten(user["UserAttributes"]), "cognito:user_status": str(user["UserStatus"])}


def _flatten(pairs: Any) -> dict[str, str]:
    return {str(p["Name"]): str(p["Value"]) for p in pairs or []}
