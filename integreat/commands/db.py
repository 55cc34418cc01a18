"""`integreat db ...`: the platform database."""

from __future__ import annotations

from typing import Annotated

import typer

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.db.migrate import APP_SET, load_migrations, migrate_many
from chalicelib.db.pool import connector
from chalicelib.db.provision import bootstrap
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import app_target
from chalicelib.tenancy.slugs import login_role, validate_slug
from integreat import context
from integreat.commands.common import WorkersOpt, console, err, operator_url, progress

db_cli = typer.Typer(help="The platform database.", no_args_is_help=True)


@db_cli.command("migrate")
def db_migrate(workers: WorkersOpt = 4) -> None:
    """Apply pending platform and per-app migrations to every registered app schema.

    Example: integreat db migrate --workers 8
    """
    try:
        url = operator_url()
        conn = connector(url)()
    except DatabaseUnavailableError as exc:
        err.print(_sentence(exc))
        raise typer.Exit(1) from None
    try:
        bootstrap(conn)  # includes the platform migrations
        with conn.cursor() as cur:
            cur.execute("SELECT slug FROM integreat.apps WHERE status <> 'removed' ORDER BY slug")
            slugs = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    with progress() as bars:
        task = bars.add_task("migrate", total=len(slugs))
        report = migrate_many(
            connector(url),
            [app_target(s) for s in slugs],
            load_migrations(APP_SET),
            workers=workers,
            on_done=lambda _t: bars.advance(task),
        )
    console.print(f"{len(slugs)} schemas, {report.applied_count} migrations applied")
    for schema, reason in report.failed.items():
        err.print(f"[red]{schema}[/red]: {reason}")
    if report.failed:
        raise typer.Exit(1)


@db_cli.command("url")
def db_url(
    app: Annotated[str | None, typer.Argument(help="App slug: its own LOGIN role.")] = None,
    runtime: Annotated[bool, typer.Option("--runtime", help="The runtime role's URL instead.")] = False,
) -> None:
    """Print a connection URL: an app's own LOGIN role (for its team's backend), or the runtime's.

    Example: psql "$(integreat db url church)"
    """
    if (app is None) == (not runtime):
        err.print("name an app, or pass --runtime")
        raise typer.Exit(2)
    role = RUNTIME_ROLE if runtime else login_role(validate_slug(app))
    try:
        url = context.login_url(operator_url(), role)
    except (context.NoCredentialsError, DatabaseUnavailableError) as exc:
        err.print(_sentence(exc))
        raise typer.Exit(1) from None
    console.print(url, soft_wrap=True, highlight=False)


@db_cli.command("stop")
def db_stop() -> None:
    """Stop the local embedded Postgres started by these commands (data is kept in .integreat/).

    Example: integreat db stop
    """
    server = context.local_postgres()
    if not server.running():
        console.print("local Postgres is not running")
        return
    server.stop()
    console.print(f"stopped local Postgres ({server.state_dir})")


def _sentence(exc: Exception) -> str:
    """One line for the operator: psycopg2's own text spans lines and names its C library's hints."""
    if isinstance(exc, context.DatabaseDownError | context.NoCredentialsError):
        return str(exc)
    return "the database is not answering (is it running? `make dev` starts the local one); retry in a few seconds"
