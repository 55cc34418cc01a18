"""The tenancy error tree. Domain code raises these; only the edges translate them."""

from __future__ import annotations


class TenancyError(Exception):
    """Base of every tenancy error."""


class InvalidSlugError(TenancyError, ValueError):
    """A string that is not a valid app slug. Raised before the string can reach SQL or AWS."""


class NoTenantError(TenancyError):
    """Tenant-scoped work was attempted with no app named."""


class UnknownAppError(TenancyError, LookupError):
    """The app is not in the registry (never provisioned, or a typo)."""

    def __init__(self, slug: str, reason: str = "is not a registered app") -> None:
        super().__init__(f"app {slug!r} {reason}")
        self.slug = slug


class AppRemovedError(UnknownAppError):
    """The app was offboarded; its data is gone or going."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug, "has been removed (offboarded)")


class AppMovingError(TenancyError):
    """The app is being moved to another cell: its writes are refused until the move ends (the
    API answers 503 with Retry-After; its reads are still served from the source cell)."""

    retry_after_seconds = 5

    def __init__(self, slug: str) -> None:
        super().__init__(f"app {slug!r} is moving to another database; writes resume in a few seconds")
        self.slug = slug
