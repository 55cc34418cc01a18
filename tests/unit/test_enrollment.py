"""Unit tests for chalicelib.identity.enrollment: what the Cognito triggers decide, with fakes.

The requesting client's app decides everything; the warm pre-token path makes no call out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.identity.enrollment import (
    CONFIRM_SIGN_UP,
    SELF_SIGN_UP,
    SIGN_IN_SOURCES,
    Groups,
    TriggerContext,
    TriggerRefusal,
    post_confirmation,
    pre_sign_up,
    scope_token,
    v1_response,
    v2_response,
)
from chalicelib.tenancy.registry import ACTIVE, AppRecord

CHURCH_ARN = "arn:aws:iam::123456789012:role/integreat-test-app-church"
EVENTS_ARN = "arn:aws:iam::123456789012:role/integreat-test-app-events"
OPEN, INVITE, NO_ROLE = "church-client", "events-client", "notes-client"
SIGN_IN = "TokenGeneration_Authentication"
REFRESH = "TokenGeneration_RefreshTokens"
ADMIN_CREATE = "PreSignUp_AdminCreateUser"
NOT_APPLICABLE = "CLIENT_ID_NOT_APPLICABLE"

CHURCH = AppRecord(
    "church",
    ACTIVE,
    "Church",
    enrollment="open",
    roles=("member", "admin"),
    iam_role_arn=CHURCH_ARN,
    clients=(OPEN,),
)
EVENTS = AppRecord(
    "events",
    ACTIVE,
    "Events",
    enrollment="invite",
    roles=("member", "admin"),
    iam_role_arn=EVENTS_ARN,
    clients=(INVITE,),
)
NOTES = AppRecord("notes", ACTIVE, "Notes", enrollment="open", roles=("member",), clients=(NO_ROLE,))


class FakeRegistry:
    def __init__(self, *apps: AppRecord) -> None:
        self._by_client = {client: app for app in apps for client in app.clients}

    def app_for_client(self, client_id: str) -> AppRecord | None:
        return self._by_client.get(client_id)


class FakeGroups:
    """Records add_to_group calls (the Cognito AdminAddUserToGroup the real one makes)."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    def add_to_group(self, username: str, group: str) -> None:
        self.added.append((username, group))


@dataclass
class World:
    """A TriggerContext's collaborators, as fakes that record what they were asked."""

    groups: FakeGroups = field(default_factory=FakeGroups)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    signups: dict[str, str] = field(default_factory=dict)  # username -> client recorded at pre sign-up
    recorded: list[tuple[str, str, str]] = field(default_factory=list)
    groups_factory_calls: int = 0

    def context(self) -> TriggerContext:
        def groups() -> Groups:
            self.groups_factory_calls += 1
            return self.groups

        return TriggerContext(
            registry=FakeRegistry(CHURCH, EVENTS, NOTES),
            groups=groups,
            record_signup=lambda username, client, source: self.recorded.append((username, client, source)),
            is_excluded=lambda slug, username: (slug, username) in self.excluded,
            signup_client=self.signups.get,
        )


def _forbidden(name: str) -> Callable[..., Any]:
    def call(*args: object) -> Any:
        raise AssertionError(f"{name} must not be called here")

    return call


def no_calls_context() -> TriggerContext:
    """A context whose every collaborator but the registry fails the test when called."""
    return TriggerContext(
        registry=FakeRegistry(CHURCH, EVENTS, NOTES),
        groups=_forbidden("groups()"),
        record_signup=_forbidden("record_signup"),
        is_excluded=_forbidden("is_excluded"),
        signup_client=_forbidden("signup_client"),
    )


@pytest.fixture
def world() -> World:
    return World()


# --- post confirmation --------------------------------------------------------------------------


def test_confirming_through_an_open_app_enrols_the_user(world: World) -> None:
    post_confirmation(CONFIRM_SIGN_UP, "ann", OPEN, world.context())

    assert world.groups.added == [("ann", "church")]
    assert world.recorded == [("ann", OPEN, CONFIRM_SIGN_UP)]


@pytest.mark.parametrize(
    "source",
    ["PostConfirmation_ConfirmForgotPassword", "PostConfirmation_AdminConfirmSignUp", "", "confirmsignup"],
)
def test_post_confirmation_acts_only_on_confirm_sign_up(source: str) -> None:
    post_confirmation(source, "ann", OPEN, no_calls_context())  # no call of any collaborator


def test_confirming_through_an_unknown_client_enrols_nobody(world: World) -> None:
    post_confirmation(CONFIRM_SIGN_UP, "ann", "stranger-client", world.context())

    assert world.groups.added == []
    assert world.recorded == []


def test_confirming_through_an_invite_only_app_enrols_nobody(world: World) -> None:
    post_confirmation(CONFIRM_SIGN_UP, "ann", INVITE, world.context())

    assert world.groups.added == []
    assert world.recorded == []


def test_the_recorded_sign_up_client_wins_over_the_confirming_client(world: World) -> None:
    # Given ann signed up through the invite-only app's client (say, as an admin-created user)
    world.signups["ann"] = INVITE

    # When she confirms through the open app's client (she holds the code)
    post_confirmation(CONFIRM_SIGN_UP, "ann", OPEN, world.context())

    # Then the confirmation buys no membership of the open app
    assert world.groups.added == []
    assert world.recorded == []


def test_confirming_through_another_client_enrols_in_the_sign_up_app(world: World) -> None:
    # Given bob signed up through the open church app
    world.signups["bob"] = OPEN

    # When he confirms through the invite-only events client
    post_confirmation(CONFIRM_SIGN_UP, "bob", INVITE, world.context())

    # Then he joins church (where he signed up), not events
    assert world.groups.added == [("bob", "church")]
    assert world.recorded == [("bob", OPEN, CONFIRM_SIGN_UP)]


def test_a_recorded_client_of_an_unknown_app_enrols_nobody(world: World) -> None:
    world.signups["ann"] = "deleted-client"

    post_confirmation(CONFIRM_SIGN_UP, "ann", OPEN, world.context())

    assert world.groups.added == []


# --- scope_token: members -----------------------------------------------------------------------


def test_a_members_token_is_scoped_to_the_requesting_app(world: World) -> None:
    groups = ["church", "church-admin", "events", "events-admin", "notes"]

    scope = scope_token(SIGN_IN, "ann", OPEN, groups, world.context())

    assert scope == {
        "claims": {"integreat:app": "church", "integreat:roles": "member admin"},
        "scopes": ["church/member", "church/admin"],
        "groups": {
            "groupsToOverride": ["church", "church-admin"],
            "iamRolesToOverride": [CHURCH_ARN],
            "preferredRole": CHURCH_ARN,
        },
    }


def test_a_member_who_is_platform_admin_keeps_integreat_admin(world: World) -> None:
    groups = ["integreat-admin", "events", "church", "events-admin"]

    scope = scope_token(SIGN_IN, "ann", INVITE, groups, world.context())

    assert scope["groups"]["groupsToOverride"] == ["events", "events-admin", "integreat-admin"]
    assert scope["claims"] == {"integreat:app": "events", "integreat:roles": "member admin"}
    assert scope["scopes"] == ["events/member", "events/admin"]


def test_groups_of_apps_sharing_a_prefix_are_not_carried(world: World) -> None:
    church_evil = AppRecord("churchevil", ACTIVE, "Evil", roles=("member", "admin"), clients=("evil-client",))
    ctx = world.context()._replace(registry=FakeRegistry(CHURCH, church_evil))

    scope = scope_token(SIGN_IN, "ann", OPEN, ["church", "churchevil", "churchevil-admin"], ctx)

    assert scope["groups"]["groupsToOverride"] == ["church"]
    assert scope["claims"]["integreat:roles"] == "member"


def test_a_member_of_an_app_without_an_iam_role_gets_no_iam_role(world: World) -> None:
    scope = scope_token(SIGN_IN, "ann", NO_ROLE, ["notes", "church"], world.context())

    assert scope["groups"] == {"groupsToOverride": ["notes"], "iamRolesToOverride": []}


def test_the_warm_path_for_a_member_makes_no_call_out() -> None:
    # Given a context whose groups factory, exclusion check and sign-up lookup all fail when called
    ctx = no_calls_context()

    # When a member signs in and refreshes
    signed_in = scope_token(SIGN_IN, "ann", OPEN, ["church"], ctx)
    refreshed = scope_token(REFRESH, "ann", OPEN, ["church"], ctx)

    # Then both tokens are scoped, with no collaborator called
    assert signed_in == refreshed
    assert signed_in["claims"] == {"integreat:app": "church", "integreat:roles": "member"}


# --- scope_token: non-members -------------------------------------------------------------------


@pytest.mark.parametrize("client", [OPEN, INVITE])
def test_a_non_member_refresh_carries_no_app(client: str) -> None:
    # Refresh never enrols, so removal from an app sticks until the next sign-in; no call out either
    scope = scope_token(REFRESH, "ann", client, ["notes", "church-admin", "events-admin"], no_calls_context())

    assert scope == {"claims": {}, "scopes": [], "groups": {"groupsToOverride": [], "iamRolesToOverride": []}}


@pytest.mark.parametrize("source", sorted(SIGN_IN_SOURCES))
def test_signing_in_to_an_open_app_enrols_the_user_once(world: World, source: str) -> None:
    scope = scope_token(source, "ann", OPEN, ["events"], world.context())

    assert world.groups.added == [("ann", "church")]
    assert world.groups_factory_calls == 1
    assert scope == {
        "claims": {"integreat:app": "church", "integreat:roles": "member"},
        "scopes": ["church/member"],
        "groups": {
            "groupsToOverride": ["church"],
            "iamRolesToOverride": [CHURCH_ARN],
            "preferredRole": CHURCH_ARN,
        },
    }


@pytest.mark.parametrize("source", ["TokenGeneration_AuthenticateDevice", SIGN_IN])
def test_an_excluded_user_signing_in_to_an_open_app_is_not_enrolled(world: World, source: str) -> None:
    # Given church's admins removed ann
    world.excluded.add(("church", "ann"))

    # When she signs in through church's client
    scope = scope_token(source, "ann", OPEN, [], world.context())

    # Then she is signed in, but not enrolled, and the token carries no app
    assert world.groups.added == []
    assert scope == {"claims": {}, "scopes": [], "groups": {"groupsToOverride": [], "iamRolesToOverride": []}}


def test_exclusion_from_another_app_does_not_stop_enrolment(world: World) -> None:
    world.excluded.add(("notes", "ann"))

    scope_token(SIGN_IN, "ann", OPEN, [], world.context())

    assert world.groups.added == [("ann", "church")]


def test_a_non_member_signing_in_to_an_invite_only_app_is_refused(world: World) -> None:
    with pytest.raises(TriggerRefusal, match="invite-only") as raised:
        scope_token(SIGN_IN, "ann", INVITE, ["church"], world.context())

    assert "Events" in str(raised.value)
    assert world.groups.added == []


def test_a_platform_admin_may_sign_in_to_an_invite_only_app_without_a_role(world: World) -> None:
    scope = scope_token(
        SIGN_IN, "root", INVITE, ["integreat-admin", "church", "church-admin"], world.context()
    )

    assert world.groups.added == []
    assert scope == {
        "claims": {},
        "scopes": [],
        "groups": {"groupsToOverride": ["integreat-admin"], "iamRolesToOverride": []},
    }


@pytest.mark.parametrize("source", [SIGN_IN, REFRESH])
def test_an_unknown_client_is_refused(world: World, source: str) -> None:
    with pytest.raises(TriggerRefusal, match="not registered"):
        scope_token(source, "ann", "stranger-client", ["church"], world.context())

    assert world.groups.added == []


# --- response shapes ----------------------------------------------------------------------------


def test_v2_response_shape() -> None:
    scope = scope_token(SIGN_IN, "ann", OPEN, ["church", "church-admin"], no_calls_context())
    claims = {"integreat:app": "church", "integreat:roles": "member admin"}

    assert v2_response(scope) == {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": claims},
            "accessTokenGeneration": {
                "claimsToAddOrOverride": claims,
                "scopesToAdd": ["church/member", "church/admin"],
            },
            "groupOverrideDetails": {
                "groupsToOverride": ["church", "church-admin"],
                "iamRolesToOverride": [CHURCH_ARN],
                "preferredRole": CHURCH_ARN,
            },
        }
    }


def test_v1_response_shape_has_no_scopes() -> None:
    scope = scope_token(SIGN_IN, "ann", OPEN, ["church", "church-admin"], no_calls_context())

    assert v1_response(scope) == {
        "claimsOverrideDetails": {
            "claimsToAddOrOverride": {"integreat:app": "church", "integreat:roles": "member admin"},
            "groupOverrideDetails": {
                "groupsToOverride": ["church", "church-admin"],
                "iamRolesToOverride": [CHURCH_ARN],
                "preferredRole": CHURCH_ARN,
            },
        }
    }


def test_a_non_member_response_omits_preferred_role() -> None:
    scope = scope_token(REFRESH, "ann", OPEN, [], no_calls_context())

    for details in (
        v2_response(scope)["claimsAndScopeOverrideDetails"]["groupOverrideDetails"],
        v1_response(scope)["claimsOverrideDetails"]["groupOverrideDetails"],
    ):
        assert details == {"groupsToOverride": [], "iamRolesToOverride": []}
    assert v2_response(scope)["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["scopesToAdd"] == []


# --- pre sign-up --------------------------------------------------------------------------------


def test_self_sign_up_through_an_invite_only_app_is_refused(world: World) -> None:
    with pytest.raises(TriggerRefusal, match="invite-only"):
        pre_sign_up(SELF_SIGN_UP, "ann", INVITE, world.context())

    assert world.recorded == []


def test_self_sign_up_through_an_unknown_client_is_refused(world: World) -> None:
    with pytest.raises(TriggerRefusal, match="not registered"):
        pre_sign_up(SELF_SIGN_UP, "ann", "stranger-client", world.context())

    assert world.recorded == []


def test_self_sign_up_through_an_open_app_is_recorded(world: World) -> None:
    pre_sign_up(SELF_SIGN_UP, "ann", OPEN, world.context())

    assert world.recorded == [("ann", OPEN, SELF_SIGN_UP)]
    assert world.groups.added == []  # membership waits for confirmation


def test_an_admin_created_user_is_allowed_without_a_record() -> None:
    pre_sign_up(ADMIN_CREATE, "ann", NOT_APPLICABLE, no_calls_context())  # no collaborator called
