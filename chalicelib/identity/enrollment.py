"""What the Cognito triggers decide (design decision 5). Handlers in triggers.py are thin.

The requesting client's app decides everything: `callerContext.clientId` is set by Cognito from
the authenticated API call, unlike `clientMetadata` or user attributes, which the caller writes
and which are therefore never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypedDict, TypeVar

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.identity.names import (
    ADMIN_GROUP,
    APP_CLAIM,
    ROLES_CLAIM,
    app_groups,
    membership_group,
    roles_in,
)
from chalicelib.observability import DENIALS, count, logger
from chalicelib.tenancy.registry import AppRecord

CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
SELF_SIGN_UP = "PreSignUp_SignUp"
#: Pre-token sources where a user has just proved who they are; an open app may enrol them here.
#: Never on TokenGeneration_RefreshTokens: removal from an app must stick until the next sign-in.
SIGN_IN_SOURCES = frozenset(
    {
        "TokenGeneration_Authentication",
        "TokenGeneration_HostedAuth",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
    }
)
ENROLLMENTS = "Enrollments"
#: What the user reads when a trigger fails for a reason of ours (Cognito shows the message).
UNAVAILABLE = "The service is briefly unavailable. Please try again in a minute."
FAILED = "Something went wrong on our side. Please try again later."

T = TypeVar("T")


class TriggerRefusal(Exception):
    """Raised from a trigger to make Cognito refuse the operation; the message reaches the user."""


class TriggerFailure(Exception):
    """Raised in place of an unexpected error: its fixed text, never the cause's, reaches the user."""


def shielded(trigger: str, decide: Callable[[], T]) -> T:
    """Run a trigger's decision so that only a TriggerRefusal's own text can reach the user.

    Cognito shows a failed trigger's error message to the person signing up or in ("PreSignUp
    failed with error ..."); a driver's text names the database server. The cause is logged.
    """
    try:
        return decide()
    except TriggerRefusal:
        raise
    except DatabaseUnavailableError:
        logger.exception("trigger failed: database unavailable", extra={"trigger": trigger})
        raise TriggerFailure(UNAVAILABLE) from None
    except Exception:
        logger.exception("trigger failed", extra={"trigger": trigger})
        raise TriggerFailure(FAILED) from None


class Groups(Protocol):
    def add_to_group(self, username: str, group: str) -> None: ...


class AppLookup(Protocol):
    def app_for_client(self, client_id: str) -> AppRecord | None: ...


RecordSignup = Callable[[str, str, str], None]  # (username, client_id, trigger_source)


class TriggerContext(NamedTuple):
    """What a trigger needs, injected. `groups` and `is_excluded` are called only on the
    enrolment paths, so the warm pre-token path makes no network call."""

    registry: AppLookup
    groups: Callable[[], Groups]
    record_signup: RecordSignup
    is_excluded: Callable[[str, str], bool]  # (slug, username)
    signup_client: Callable[[str], str | None]  # username -> client recorded at pre sign-up


def pre_sign_up(source: str, username: str, client_id: str, ctx: TriggerContext) -> None:
    """Record the client a user signs up through (the trustworthy record reconcile relies on);
    refuse self sign-up through an invite-only app's client."""
    app = ctx.registry.app_for_client(client_id)
    if app is None:
        if source == SELF_SIGN_UP:
            _deny(None, "sign_up_unknown_client", client_id)
            raise TriggerRefusal("this app client is not registered with Integreat")
        return  # admin-created users carry CLIENT_ID_NOT_APPLICABLE: admins enrol them explicitly
    if source == SELF_SIGN_UP and app.enrollment != "open":
        _deny(app.slug, "sign_up_invite_only", client_id)
        raise TriggerRefusal(f"{app.name} is invite-only: ask its administrators for an invitation")
    ctx.record_signup(username, client_id, source)


def post_confirmation(source: str, username: str, client_id: str, ctx: TriggerContext) -> None:
    """Add a newly confirmed user to the membership group of the app they signed up through.

    The app comes from the client recorded at pre sign-up when there is such a record: the
    confirmation may be sent through another app's client (the user holds the code), and that
    must not buy membership of the other app. Without a record, the confirming client decides.
    """
    if source != CONFIRM_SIGN_UP:
        return  # e.g. ConfirmForgotPassword: proves nothing about which app the user belongs to
    recorded = ctx.signup_client(username)
    if recorded is not None and recorded != client_id:
        _deny(None, "post_confirmation_other_client", client_id)
    app = ctx.registry.app_for_client(recorded or client_id)
    if app is None:
        _deny(None, "post_confirmation_unknown_client", client_id)  # fail closed: no group
        return
    if app.enrollment != "open":
        _deny(app.slug, "post_confirmation_invite_only", client_id)
        return
    ctx.record_signup(username, recorded or client_id, source)
    ctx.groups().add_to_group(username, membership_group(app.slug))
    count(ENROLLMENTS, app.slug)
    logger.info("enrolled user in app", extra={"app": app.slug, "username": username, "via": source})


class GroupOverride(TypedDict, total=False):
    groupsToOverride: list[str]
    iamRolesToOverride: list[str]
    preferredRole: str


class TokenScope(TypedDict):
    """The decision for one token request: claims, scopes and group override."""

    claims: dict[str, str]
    scopes: list[str]
    groups: GroupOverride


def scope_token(
    source: str, username: str, client_id: str, groups: list[str], ctx: TriggerContext
) -> TokenScope:
    """Scope a token to the requesting client's app; enrol on sign-in into an open app."""
    app = ctx.registry.app_for_client(client_id)
    if app is None:
        _deny(None, "token_unknown_client", client_id)
        raise TriggerRefusal("this app client is not registered with Integreat")
    mine = app_groups(app.slug, groups)
    is_admin = ADMIN_GROUP in groups
    if app.slug not in mine and source in SIGN_IN_SOURCES:
        # A newcomer is a member and nothing more: role groups left over from an unfinished
        # removal must not come back with the new membership.
        mine = _enrol_or_refuse(app, username, is_admin, ctx)
    roles = roles_in(app.slug, mine, app.roles)
    override: GroupOverride = {
        "groupsToOverride": (mine if roles else []) + ([ADMIN_GROUP] if is_admin else [])
    }
    # The app's IAM role or none: never a role some other group of the user would bring along.
    override["iamRolesToOverride"] = [app.iam_role_arn] if roles and app.iam_role_arn else []
    if roles and app.iam_role_arn:
        override["preferredRole"] = app.iam_role_arn
    claims = {APP_CLAIM: app.slug, ROLES_CLAIM: " ".join(roles)} if roles else {}
    return {"claims": claims, "scopes": [f"{app.slug}/{role}" for role in roles], "groups": override}


def _enrol_or_refuse(app: AppRecord, username: str, is_admin: bool, ctx: TriggerContext) -> list[str]:
    if app.enrollment == "open" and ctx.is_excluded(app.slug, username):
        _deny(app.slug, "sign_in_excluded", "")
        return []  # signed in, but the token carries no app: its admins removed this user
    if app.enrollment == "open":
        ctx.groups().add_to_group(username, membership_group(app.slug))  # the one network call
        count(ENROLLMENTS, app.slug)
        return [membership_group(app.slug)]
    if is_admin:
        return []  # the platform admin may sign in anywhere; the token carries no app role
    _deny(app.slug, "sign_in_not_invited", "")
    raise TriggerRefusal(f"{app.name} is invite-only and this account has not been invited")


def _deny(app: str | None, reason: str, client_id: str) -> None:
    logger.warning("identity denial", extra={"app": app, "reason": reason, "client_id": client_id})
    count(DENIALS, app, reason=reason)


def v2_response(scope: TokenScope) -> dict[str, Any]:
    """The `response` of a V2_0 pre token generation event (ID and access tokens)."""
    return {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": scope["claims"]},
            "accessTokenGeneration": {
                "claimsToAddOrOverride": scope["claims"],
                "scopesToAdd": scope["scopes"],
            },
            "groupOverrideDetails": dict(scope["groups"]),
        }
    }


def v1_response(scope: TokenScope) -> dict[str, Any]:
    """The `response` of a V1_0 event: the ID token only (V1 cannot touch the access token)."""
    return {
        "claimsOverrideDetails": {
            "claimsToAddOrOverride": scope["claims"],
            "groupOverrideDetails": dict(scope["groups"]),
        }
    }
