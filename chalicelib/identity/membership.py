"""App membership and roles, as app admins manage them (the member routes call these).

Membership is the `<slug>` group; each other role is a `<slug>-<role>` group. Removing a member
also records an exclusion, so an open app does not silently re-enrol them at their next sign-in.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from chalicelib.identity.directory import Member
from chalicelib.identity.errors import NotAMemberError, UnknownRoleError
from chalicelib.identity.names import BASE_ROLE, app_groups, membership_group, role_group
from chalicelib.tenancy.registry import AppRecord


def unknown_role(app: AppRecord, role: str) -> UnknownRoleError:
    assignable = [r for r in app.roles if r != BASE_ROLE]
    return UnknownRoleError(
        f"{role!r} is not an assignable role of {app.slug}; assignable: {', '.join(assignable) or 'none'}"
        f" (membership itself is managed with PUT/DELETE /apps/{app.slug}/members/<user>)"
    )


def not_a_member(app: AppRecord, username: str) -> NotAMemberError:
    return NotAMemberError(f"{username!r} is not a member of {app.slug}")


class Directory(Protocol):
    def add_to_group(self, username: str, group: str) -> None: ...
    def remove_from_group(self, username: str, group: str) -> None: ...
    def groups_of(self, username: str) -> list[str]: ...
    def members_of(self, group: str) -> list[Member]: ...


class Exclusions(Protocol):
    def exclude(self, slug: str, username: str, by: str) -> None: ...
    def readmit(self, slug: str, username: str) -> None: ...


class MemberView(NamedTuple):
    username: str
    user_id: str
    email: str | None
    roles: tuple[str, ...]


def list_members(app: AppRecord, directory: Directory) -> list[MemberView]:
    members = directory.members_of(membership_group(app.slug))
    holders = {
        role: {m.username for m in directory.members_of(role_group(app.slug, role))}
        for role in app.roles
        if role != BASE_ROLE
    }
    return [
        MemberView(
            m.username,
            m.user_id,
            m.email,
            (BASE_ROLE, *(r for r, users in holders.items() if m.username in users)),
        )
        for m in sorted(members, key=lambda m: m.username)
    ]


def set_role(app: AppRecord, username: str, role: str, granted: bool, directory: Directory) -> None:
    """Grant or revoke one of the app's roles; only that app's roles, only for its members."""
    if role == BASE_ROLE or role not in app.roles:
        raise unknown_role(app, role)
    if membership_group(app.slug) not in directory.groups_of(username):
        raise not_a_member(app, username)
    if granted:
        directory.add_to_group(username, role_group(app.slug, role))
    else:
        directory.remove_from_group(username, role_group(app.slug, role))


def admit(app: AppRecord, username: str, directory: Directory, exclusions: Exclusions) -> None:
    """Make `username` a member (how invite-only apps gain members); lifts an exclusion."""
    exclusions.readmit(app.slug, username)
    directory.add_to_group(username, membership_group(app.slug))


def remove(app: AppRecord, username: str, by: str, directory: Directory, exclusions: Exclusions) -> None:
    """Take every role and the membership away, and keep an open app from re-enrolling them."""
    mine = app_groups(app.slug, directory.groups_of(username))
    if membership_group(app.slug) not in mine:
        raise not_a_member(app, username)
    exclusions.exclude(app.slug, username, by)
    for group in mine:
        directory.remove_from_group(username, group)
