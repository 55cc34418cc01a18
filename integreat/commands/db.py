"""`integreat db ...`: the platform database."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import typer

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.db.migrate import APP_SET, MigrationReport, Target, load_migrations, migrate_many
from chalicelib.db.pool import connector
from chalicelib.db.provision import bootstrap
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import app_target
from chalicelib.tenancy.manifest import load_manifest
from chalicelib.tenancy.slugs import login_role, validate_slug
from integreat import cells, context
from integreat.commands.common import ManifestOpt, WorkersOpt, console, err, operator_url, progress

db_cli = typer.Typer(help="The platform database.", no_args_is_help=True)


@db_cli.command("migrate")
def db_migrate(workers: WorkersOpt = 4, manifest: ManifestOpt = None) -> None:
    """Apply pending platform and per-app migrations to every registered app schema, in every
    cell (database) in parallel.

    Example: integreat db migrate --workers 8
    """
    try:
        url = operator_url()
        urls = cells.cell_urls(load_manifest(manifest).cells, url)
        conn = connector(url)()
    except DatabaseUnavailableError as exc:
        err.print(_sentence(exc))
        raise typer.Exit(1) from None
    try:
        bootstrap(conn)  # includes the platform migrations
        with conn.cursor() as cur:
            cur.execute("SELECT slug, cell FROM integreat.apps WHERE status <> 'removed' ORDER BY slug")
            placed = [(str(r[0]), r[1]) for r in cur.fetchall()]
    finally:
        conn.close()
    by_cell: dict[str | None, list[str]] = {}
    for slug, cell in placed:
        by_cell.setdefault(cell, []).append(slug)
    unknown = sorted(str(cell) for cell in by_cell if cell not in urls)
    if unknown:
        err.print(f"the registry places apps in cells the manifest does not declare: {', '.join(unknown)}")
        raise typer.Exit(1)
    with progress() as bars:
        task = bars.add_task("migrate", total=len(placed))
        reports = migrate_cells(
            {cell: urls[cell] for cell in by_cell}, by_cell, workers, lambda _t: bars.advance(task)
        )
    failed = {schema: reason for report in reports.values() for schema, reason in report.failed.items()}
    applied = sum(report.applied_count for report in reports.values())
    console.print(f"{len(placed)} schemas in {len(by_cell) or 1} cells, {applied} migrations applied")
    for schema, reason in failed.items():
        err.print(f"[red]{schema}[/red]: {reason}")
    if failed:
        raise typer.Exit(1)


def migrate_cells(
    urls: dict[str | None, str],
    slugs: dict[str | None, list[str]],
    workers: int,
    on_done: Callable[[Target], None],
) -> dict[str | None, MigrationReport]:
    """Every cell at once (each bootstrapped first), `workers` connections per cell."""

    def one(cell: str | None) -> MigrationReport:
        if cell is not None:
            conn = connector(urls[cell])()
            try:
                bootstrap(conn)
            finally:
                conn.close()
        targets = [app_target(s) for s in slugs[cell]]
        return migrate_many(
            connector(urls[cell]), targets, load_migrations(APP_SET), workers=workers, on_done=on_done
        )

    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {cell: pool.submit(one, cell) for cell in urls}
        return {cell: future.result() for cell, future in futures.items()}


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
        url = operator_url()
        if app is not None:  # an app of another cell logs in to that cell, with the password kept there
            url = cells.app_url(load_manifest().cells, url, app)[1]
        url = context.login_url(url, role)
    except (context.NoCredentialsError, DatabaseUnavailableError, cells.CellError) as exc:
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
    if isinstance(exc, context.DatabaseDownError | context.NoCredentialsError | cells.CellError):
        return str(exc)
    return "the database is not answering (is it running? `make dev` starts the local one); retry in a few seconds"
