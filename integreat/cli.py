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
from integreat.commands import infra, local, outputs, usage
from integreat.commands.apps import apps_cli
from integreat.commands.blueprint import blueprint_cli
from integreat.commands.common import err
from integreat.commands.db import db_cli
from integreat.commands.events import events_cli
from integreat.commands.integrations import integrations_cli
from integreat.commands.service import service_cli
from integreat.commands.users import users_cli
from integreat.local.postgres import EmbeddedPostgresError

cli = typer.Typer(help="Operate Integreat: apps, database, users, local platform.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(events_cli, name="events")
cli.add_typer(service_cli, name="service")
cli.add_typer(integrations_cli, name="integrations")
cli.add_typer(blueprint_cli, name="blueprint")

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


cli.command("dev")(local.dev)
cli.command("status")(local.status)
cli.command("token")(local.token)
cli.command("demo")(local.demo)
cli.command("openapi")(local.openapi)
cli.command("synth")(infra.synth)
cli.command("deploy")(infra.deploy)
cli.command("stage-config")(infra.stage_config)
cli.command("outputs")(outputs.outputs)
cli.command("usage")(usage.usage)
users_cli.command("signup")(local.signup)
users_cli.command("confirm")(local.confirm)
users_cli.command("login")(local.login)
users_cli.command("list")(local.list_users)


def main() -> None:
    """Entry point: domain errors become one clear line and exit code 1, never a traceback."""
    try:
        cli()
    except OPERATOR_ERRORS as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
