"""Service principals: app backends calling `/service/...` routes signed with their app's IAM role.

Who signed is established differently per stage, and only here:
- AWS: the route carries Chalice's `IAMAuthorizer`, API Gateway verifies the SigV4 signature and
  names the caller in `requestContext.identity.caller` ("AROA...:session" for an assumed role).
- Local (`make dev`, tests): Chalice local admits IAM routes unchecked, so `LocalSigV4` verifies
  the signature itself against credentials the local platform issued (`service_keys.py`).
Either way the role's unique id maps to an app through the registry, as SQS senders do.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalice.app import Request

from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.sigv4 import SignatureError, SignedRequest, verify


class ServiceAuth(Protocol):
    def role_id(self, request: Request) -> str:
        """The unique id (AROA...) of the IAM role that signed `request`, or SignatureError."""


class ApiGatewayIam:
    """AWS: API Gateway has verified the signature before the function runs."""

    def role_id(self, request: Request) -> str:
        identity: dict[str, Any] = request.context.get("identity") or {}
        caller = identity.get("caller")
        if not isinstance(caller, str) or not caller:
            raise SignatureError("this route needs a request signed with the app's IAM role (SigV4)")
        if identity.get("cognitoIdentityId") or identity.get("cognitoAuthenticationType"):
            # The app role is also what the identity pool hands the app's users (for their own S3
            # folder): a user's session of it is a user, never the app's backend.
            raise SignatureError("identity-pool (end-user) credentials are not a service principal")
        return caller.split(":", 1)[0]


class LocalSigV4:
    """Local: verify the signature against the credentials this platform issued."""

    def __init__(self, keys: ServiceKeys, region: str) -> None:
        self._keys = keys
        self._region = region

    def role_id(self, request: Request) -> str:
        event = request.to_original_event()
        body = request.raw_body
        signed = SignedRequest(
            method=request.method,
            path=str(event["requestContext"].get("path") or "/"),
            query=event.get("multiValueQueryStringParameters") or {},
            headers=request.headers,
            body=body.encode() if isinstance(body, str) else body,
        )
        roles: list[str] = []

        def secret_for(access_key_id: str, token: str | None) -> str:
            role_id, secret = self._keys.open(access_key_id, token)
            roles.append(role_id)
            return secret

        verify(signed, region=self._region, secret_for=secret_for)
        return roles[0]


class NoServiceAuth:
    """A local runtime built without service keys: every service call is refused."""

    def role_id(self, request: Request) -> str:
        raise SignatureError("service principals are not enabled here (the local platform enables them)")
