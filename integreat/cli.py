"""The `integreat` command (Typer + Rich). Thin: parse, call a plain function, print the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chalicelib.db.errors import DatabaseError
from chalicelib.db.migrate import APP_SET, load_migrations, migrate_many
from chalicelib.db.pool import connector
from chalicelib.db.provision import bootstrap
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import SyncReport, app_target, sync_apps
from chalicelib.settings import SettingsError
from chalicelib.tenancy.errors import TenancyError
from chalicelib.tenancy.manifest import load_manifest
from chalicelib.tenancy.slugs import login_role, validate_slug
from integreat import context, offboarding
from integreat.local.postgres import EmbeddedPostgresError

console = Console()
err = Console(stderr=True)

cli = typer.Typer(help="Operate Integreat: apps, database, local platform.", no_args_is_help=True)
apps_cli = typer.Typer(help="The apps (tenants) of the platform.", no_args_is_help=True)
db_cli = typer.Typer(help="The platform database.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
cli.add_typer(db_cli, name="db")

ManifestOpt = Annotated[
    Path | None, typer.Option("--manifest", help="Manifest file (default: integreat.toml).")
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=32, help="Parallel database connections.")]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _url() -> str:
    url, origin = context.operator_url()
    err.print(f"[dim]database: {origin}[/dim]")
    return url


@apps_cli.command("list")
def apps_list(manifest: ManifestOpt = None) -> None:
    """List apps: the manifest's and the registry's, with status.

    Example: integreat apps list
    """
    declared = {a.slug: a for a in load_manifest(manifest).apps}
    conn = connector(_url())()
    try:
        bootstrap(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT slug, name, status, created_at, updated_at FROM integreat.apps ORDER BY slug")
            rows = {str(r[0]): r for r in cur.fetchall()}
    finally:
        conn.close()
    table = Table("app", "name", "status", "in manifest", "created", "updated")
    for slug in sorted(set(declared) | set(rows)):
        row = rows.get(slug)
        status = str(row[2]) if row else "not provisioned (run `integreat apps sync`)"
        name = str(row[1]) if row else declared[slug].name
        created, updated = (f"{row[3]:%Y-%m-%d %H:%M}", f"{row[4]:%Y-%m-%d %H:%M}") if row else ("", "")
        table.add_row(slug, name, status, "yes" if slug in declared else "no", created, updated)
    console.print(table)


@apps_cli.command("sync")
def apps_sync(manifest: ManifestOpt = None, workers: WorkersOpt = 4) -> None:
    """Provision every manifest app in Postgres (schema, roles, migrations). Safe to re-run.

    Example: integreat apps sync --workers 8
    """
    apps = load_manifest(manifest).apps
    url = _url()
    with _progress() as progress:
        tasks = {
            "provision": progress.add_task("provision", total=len(apps)),
            "migrate": progress.add_task("migrate", total=len(apps)),
        }
        report = sync_apps(
            connector(url),
            apps,
            workers=workers,
            progress=lambda phase, _slug: progress.advance(tasks[phase]),
        )
    _print_sync(report)


def _print_sync(report: SyncReport) -> None:
    console.print(
        f"active: {', '.join(report.active) or '-'}; migrations applied: {report.migrations_applied}"
    )
    for slug in report.unmanaged:
        console.print(
            f"[yellow]{slug}[/yellow] is registered but not in the manifest: left alone "
            f"(offboard it with `integreat apps remove {slug} --export DIR`)"
        )
    for slug, reason in report.failed.items():
        err.print(f"[red]{slug}[/red]: {reason}")
    if not report.ok:
        raise typer.Exit(1)


@apps_cli.command("remove")
def apps_remove(
    slug: str,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write a restorable dump here first.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Remove without an export: the data is lost.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Offboard an app: drop its schema and roles. Refuses without --export DIR or --force.

    Example: integreat apps remove events --export backups/events
    """
    validate_slug(slug)
    if export is None and not force:
        err.print(
            f"refusing to remove {slug!r} without a backup: add --export DIR (or --force to lose its data)"
        )
        raise typer.Exit(2)
    url = _url()
    if export is not None:
        done = offboarding.export_app(url, slug, export)
        console.print(
            f"exported {sum(done.tables.values())} rows from {len(done.tables)} tables to {done.dump}"
        )
    if not yes and not typer.confirm(f"Drop schema app_{slug} and its roles now?"):
        raise typer.Exit(1)
    offboarding.remove(url, slug)
    console.print(
        f"removed {slug}"
        + (f"; restore with `integreat apps restore {slug} --from {export}`" if export else "")
    )


@apps_cli.command("restore")
def apps_restore(
    slug: str,
    source: Annotated[Path, typer.Option("--from", help="Directory written by `apps remove --export`.")],
    manifest: ManifestOpt = None,
) -> None:
    """Bring back a removed app from its export (roles, schema, data, privileges).

    Example: integreat apps restore events --from backups/events
    """
    app = load_manifest(manifest).app(slug)
    offboarding.restore_app(_url(), app, source)
    console.print(f"restored {slug}")


@db_cli.command("migrate")
def db_migrate(workers: WorkersOpt = 4) -> None:
    """Apply pending platform and per-app migrations to every registered app schema.

    Example: integreat db migrate --workers 8
    """
    url = _url()
    conn = connector(url)()
    try:
        bootstrap(conn)  # includes the platform migrations
        with conn.cursor() as cur:
            cur.execute("SELECT slug FROM integreat.apps WHERE status <> 'removed' ORDER BY slug")
            slugs = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    with _progress() as progress:
        task = progress.add_task("migrate", total=len(slugs))
        report = migrate_many(
            connector(url),
            [app_target(s) for s in slugs],
            load_migrations(APP_SET),
            workers=workers,
            on_done=lambda _t: progress.advance(task),
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
        url = context.login_url(_url(), role)
    except context.NoCredentialsError as exc:
        err.print(str(exc))
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
    except (
        TenancyError,
        DatabaseError,
        SettingsError,
        EmbeddedPostgresError,
        offboarding.OffboardingError,
    ) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
