"""The identity error tree, in a module of its own so the API edge can name these errors
without importing the Cognito wrapper or the membership logic at cold start."""

from __future__ import annotations


class IdentityError(Exception):
    """Base of identity errors."""


class DirectoryError(IdentityError):
    """Cognito refused or failed an operation."""


class UnknownUserError(DirectoryError, LookupError):
    """No such user in the pool."""


class UnknownGroupError(DirectoryError, LookupError):
    """No such group in the pool (the app's identity is not provisioned yet)."""


class MembershipError(IdentityError):
    """Base of membership errors."""


class UnknownRoleError(MembershipError, ValueError):
    """A role the app does not have, or one that is not assignable."""


class NotAMemberError(MembershipError, LookupError):
    """The user is not a member of the app."""
