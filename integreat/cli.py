"""The `integreat` command (Typer + Rich). Thin: parse, call a plain function, print the result.

Each group of commands lives in its own module under integreat/commands/.
"""

from __future__ import annotations

import typer

from chalicelib.db.errors import DatabaseError
from chalicelib.identity.errors import DirectoryError
from chalicelib.provisioning.identity import IdentityProvisioningError
from chalicelib.settings import SettingsError
from chalicelib.tenancy.errors import TenancyError
from integreat import offboarding
from integreat.commands.apps import apps_cli
from integreat.commands.common import console, err
from integreat.commands.db import db_cli
from integreat.commands.events import events_cli
from integreat.commands.users import users_cli
from integreat.local.postgres import EmbeddedPostgresError

cli = typer.Typer(help="Operate Integreat: apps, database, users, local platform.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(events_cli, name="events")

#: Errors that end a command with one clear line (exit 1) instead of a traceback.
OPERATOR_ERRORS = (
    TenancyError,
    DatabaseError,
    SettingsError,
    EmbeddedPostgresError,
    offboarding.OffboardingError,
    DirectoryError,
    IdentityProvisioningError,
)


@cli.command("dev")
def dev() -> None:
    """Run the local platform (moto, Postgres, API, workers) in the foreground.

    Example: make dev
    """
    console.print(
        "not yet: the local platform arrives with the local-platform issue. For now:\n"
        "  integreat apps sync   # provisions the manifest apps in a local embedded Postgres\n"
        "  make test             # runs every test against an embedded Postgres"
    )


def main() -> None:
    """Entry point: domain errors become one clear line and exit code 1, never a traceback."""
    try:
        cli()
    except OPERATOR_ERRORS as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
