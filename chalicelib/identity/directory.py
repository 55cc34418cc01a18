"""Cognito user and group operations the runtime needs, behind one small wrapper.

botocore's ClientError is translated here (where the client is wrapped) into this module's
errors, so callers never see AWS exception types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from chalicelib.identity.errors import DirectoryError, UnknownGroupError, UnknownUserError


class Member(NamedTuple):
    username: str
    user_id: str
    email: str | None
    status: str
    enabled: bool


class CognitoDirectory:
    """Groups and users of one user pool. `cognito` is a boto3 cognito-idp client."""

    def __init__(self, cognito: Any, user_pool_id: str) -> None:
        self._cognito = cognito
        self.user_pool_id = user_pool_id

    def add_to_group(self, username: str, group: str) -> None:
        """Idempotent: adding a user to a group they are in is a no-op for Cognito."""
        self._call("admin_add_user_to_group", Username=username, GroupName=group)

    def remove_from_group(self, username: str, group: str) -> None:
        self._call("admin_remove_user_from_group", Username=username, GroupName=group)

    def groups_of(self, username: str) -> list[str]:
        pages = self._pages("admin_list_groups_for_user", "Groups", Username=username)
        return [g["GroupName"] for g in pages]

    def members_of(self, group: str) -> list[Member]:
        return [_member(u) for u in self._pages("list_users_in_group", "Users", GroupName=group)]

    def users(self) -> Iterator[Member]:
        for user in self._pages("list_users", "Users"):
            yield _member(user)

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = self._call(operation, **params, **extra)
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # lazy: boto only when used

        try:
            result: dict[str, Any] = getattr(self._cognito, operation)(UserPoolId=self.user_pool_id, **params)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "UserNotFoundException":
                raise UnknownUserError(f"no user {params.get('Username')!r} in the pool") from exc
            if code == "ResourceNotFoundException" and "GroupName" in params:
                raise UnknownGroupError(f"no group {params['GroupName']!r} in the pool") from exc
            raise DirectoryError(f"cognito {operation} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise DirectoryError(f"cognito {operation} failed: {exc}") from exc


def _member(user: dict[str, Any]) -> Member:
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
    return Member(
        username=user["Username"],
        user_id=attributes.get("sub", user["Username"]),
        email=attributes.get("email"),
        status=user.get("UserStatus", "UNKNOWN"),
        enabled=bool(user.get("Enabled", True)),
    )
