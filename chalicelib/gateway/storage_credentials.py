"""Direct storage access (issue 16): short-lived S3 credentials for the caller's own folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.gateway.authz import current_caller
from chalicelib.gateway.errors import ApiError, error_response
from chalicelib.gateway.params import json_body
from chalicelib.gateway.policy import MEMBER, route
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

storage_credentials = Blueprint(__name__)

_BODY_KEYS = ("duration_seconds",)


@route(storage_credentials, "/apps/{app}/storage/credentials", methods=["POST"], allow=MEMBER)
def create_storage_credentials(app: str, tenant: AppRecord) -> Any:
    """Short-lived S3 credentials limited to the folders the caller may write and read.

    STS AssumeRole of the app's IAM role with a session policy compiled from the app's folder
    rules for this caller (their own `{user}` folder, never another user's). The answer is an
    Amplify JS v6 credentials provider's: {credentials: {accessKeyId, secretAccessKey,
    sessionToken, expiration}, bucket, region, prefixes: {"<key prefix>": ["read", "write"]}}.
    Optional body: {"duration_seconds": 900..3600} (default 900).
    """
    from chalicelib import aws
    from chalicelib.storage import credentials
    from chalicelib.storage.access import Actor

    seconds = _duration(json_body(storage_credentials.current_request))
    caller = current_caller()
    actor = Actor(app=caller.app, user_id=caller.user_id, roles=caller.roles, is_admin=caller.is_admin)
    settings = runtime().settings
    try:
        return credentials.vend(aws.client("sts", settings), tenant, actor,
                                bucket=settings.require_bucket(), region=settings.region, seconds=seconds)  # fmt: skip
    except credentials.SessionPolicyTooLargeError as exc:
        raise ApiError(409, "session_policy_too_large", str(exc)) from None
    except credentials.StsUnavailableError as exc:
        return _unavailable(str(exc))


def _duration(body: Any) -> int:
    from chalicelib.storage.credentials import DEFAULT_SECONDS, MAX_SECONDS

    if body is None:
        return DEFAULT_SECONDS
    if not isinstance(body, dict) or set(body) - set(_BODY_KEYS):
        raise ApiError(
            400, "invalid_request", f"the body must be empty or a JSON object with {list(_BODY_KEYS)}"
        )
    seconds = body.get("duration_seconds", DEFAULT_SECONDS)
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not DEFAULT_SECONDS <= seconds <= MAX_SECONDS
    ):
        raise ApiError(
            400,
            "invalid_duration",
            f"duration_seconds must be an integer from {DEFAULT_SECONDS} to {MAX_SECONDS}",
        )
    return seconds


def _unavailable(message: str) -> Response:
    return error_response(
        storage_credentials.current_request, 503, "sts_unavailable", message, **{"Retry-After": "2"}
    )
