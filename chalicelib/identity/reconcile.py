"""Repair users the post-confirmation trigger missed (it failed, or a federated sign-in).

The app comes only from the platform's own record of the client a user signed up through
(integreat.signups, written by the triggers from Cognito's callerContext), never from anything
the user can write (attributes, clientMetadata). Users without such a record are reported for
an app admin to enrol by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from chalicelib.identity.directory import Member
from chalicelib.identity.names import ADMIN_GROUP, membership_group
from chalicelib.tenancy.registry import AppRecord

REPAIRABLE_STATUSES = frozenset({"CONFIRMED", "EXTERNAL_PROVIDER"})


class Directory(Protocol):
    def users(self) -> Iterable[Member]: ...
    def groups_of(self, username: str) -> list[str]: ...
    def add_to_group(self, username: str, group: str) -> None: ...


class AppLookup(Protocol):
    def app_for_client(self, client_id: str) -> AppRecord | None: ...


@dataclass(frozen=True)
class Finding:
    username: str
    app: str | None
    action: str  # "enrol" or "skip"
    reason: str


def plan(
    directory: Directory, signup_client: Callable[[str], str | None], registry: AppLookup
) -> list[Finding]:
    """What reconcile would do, user by user (only confirmed users in no app at all)."""
    findings = []
    for user in directory.users():
        if user.status not in REPAIRABLE_STATUSES:
            continue
        if [g for g in directory.groups_of(user.username) if g != ADMIN_GROUP]:
            continue  # belongs to some app already
        findings.append(_decide(user.username, signup_client(user.username), registry))
    return findings


def _decide(username: str, client_id: str | None, registry: AppLookup) -> Finding:
    if client_id is None:
        return Finding(
            username, None, "skip", "no sign-up record: enrol by hand (PUT /apps/<app>/members/<user>)"
        )
    app = registry.app_for_client(client_id)
    if app is None:
        return Finding(
            username, None, "skip", f"signed up through client {client_id}, which no active app owns"
        )
    if app.enrollment != "open":
        return Finding(username, app.slug, "skip", f"{app.slug} is invite-only: its admins enrol members")
    return Finding(username, app.slug, "enrol", f"signed up through {app.slug}'s client {client_id}")


def apply(findings: Iterable[Finding], directory: Directory) -> int:
    done = 0
    for finding in findings:
        if finding.action == "enrol" and finding.app is not None:
            directory.add_to_group(finding.username, membership_group(finding.app))
            done += 1
    return done
