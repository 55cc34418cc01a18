"""`integreat users ...`: users of the one user pool."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chalicelib.apps import Database
from chalicelib.identity import reconcile as reconciling
from integreat import context
from integreat.commands.common import console, operator_url

users_cli = typer.Typer(help="Users of the platform's user pool.", no_args_is_help=True)


@users_cli.command("reconcile")
def reconcile(
    apply: Annotated[
        bool, typer.Option("--apply", help="Make the changes (default: only show them).")
    ] = False,
) -> None:
    """Find confirmed users who belong to no app and enrol them from the platform's own record of
    the client they signed up through (never from anything the user can write). Dry run by default.

    Example: integreat users reconcile --apply
    """
    url = operator_url()
    database = Database(url)
    directory = context.directory()
    try:
        findings = reconciling.plan(
            directory, lambda username: _signup_client(database, username), database.registry
        )
    finally:
        pass
    table = Table("user", "app", "action", "why")
    for finding in findings:
        table.add_row(finding.username, finding.app or "-", finding.action, finding.reason)
    console.print(table if findings else "every confirmed user belongs to an app")
    if apply:
        done = reconciling.apply(findings, directory)
        console.print(f"enrolled {done} user(s)")
    elif any(f.action == "enrol" for f in findings):
        console.print("dry run: nothing changed; add --apply to enrol")
    database.close()


def _signup_client(database: Database, username: str) -> str | None:
    rows = database.platform(
        "SELECT client_id FROM integreat.signups WHERE username = %s"
        " ORDER BY (trigger_source LIKE 'PreSignUp_%%') DESC, recorded_at LIMIT 1",
        (username,),
    )
    return str(rows[0][0]) if rows else None
