"""Database error tree. psycopg2 connectivity errors are wrapped here, where the client is."""

from __future__ import annotations


class DatabaseError(Exception):
    """Base of the database errors Integreat raises itself."""


class DatabaseUnavailableError(DatabaseError):
    """The server could not be reached, or the connection died and one replacement failed too."""


class TenantSwitchError(DatabaseError):
    """The runtime could not switch to the app's role (grants out of sync: re-run `integreat apps sync`)."""


class ProvisioningError(DatabaseError):
    """Provisioning could not complete; nothing of the failed app's transaction was applied."""


class MigrationError(DatabaseError):
    """A migration failed or an applied migration was edited afterwards."""
