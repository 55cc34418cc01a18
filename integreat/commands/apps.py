"""`integreat apps ...`: the apps (tenants) of the platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chalicelib.db.pool import connector
from chalicelib.db.provision import bootstrap
from chalicelib.provisioning.database import SyncReport, sync_apps
from chalicelib.provisioning.integrations import sync_integrations
from chalicelib.storage.model import StorageSpec
from chalicelib.tenancy.manifest import load_manifest
from chalicelib.tenancy.slugs import validate_slug
from integreat import cells, context, offboarding, offboarding_storage
from integreat.commands.common import ManifestOpt, WorkersOpt, console, err, operator_url, progress

apps_cli = typer.Typer(help="The apps (tenants) of the platform.", no_args_is_help=True)


@apps_cli.command("list")
def apps_list(manifest: ManifestOpt = None) -> None:
    """List apps: the manifest's and the registry's, with status.

    Example: integreat apps list
    """
    declared = {a.slug: a for a in load_manifest(manifest).apps}
    conn = connector(operator_url())()
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


FullOpt = Annotated[
    bool,
    typer.Option(
        "--full", help="Re-check every app's resources, not only those whose manifest entry changed."
    ),
]


@apps_cli.command("sync")
def apps_sync(manifest: ManifestOpt = None, workers: WorkersOpt = 4, full: FullOpt = False) -> None:
    """Provision every manifest app in Postgres (schema, roles, migrations), Cognito and IAM.

    Only the apps whose entry changed since the last sync are touched. Safe to re-run.
    With --full every app is checked again and what was changed by hand is repaired.

    Example: integreat apps sync --workers 8
    """
    declared = load_manifest(manifest)
    apps = declared.apps
    url = operator_url()
    urls = cells.cell_urls(declared.cells, url)
    identity = context.identity_provisioner()
    if identity is None:
        err.print(
            "[yellow]no user pool configured (INTEGREAT_USER_POOL_ID): Cognito and IAM not provisioned[/yellow]"
        )
    elif identity.config.bucket is None:
        err.print("[yellow]no bucket configured (INTEGREAT_BUCKET): app roles get no storage policy[/yellow]")
    with progress() as bars:
        phases = ["provision", "migrate"] + (["identity"] if identity else [])
        tasks = {phase: bars.add_task(phase, total=len(apps)) for phase in phases}
        report = sync_apps(
            connector(url),
            apps,
            workers=workers,
            identity=identity,
            full=full,
            progress=lambda phase, _slug: bars.advance(tasks[phase]),
            cells=declared.cells,
            cell_connects=cells.cell_connects(urls),
        )
    _print_sync(report)
    synced = sync_integrations(connector(url), declared.integrations)
    console.print(f"integrations: {', '.join(synced.applied) or '-'}")
    for name in synced.removed:
        console.print(
            f"[yellow]{name}[/yellow]: no longer in the manifest; removed (calls to it are refused)"
        )


def _print_sync(report: SyncReport) -> None:
    console.print(
        f"active: {', '.join(report.active) or '-'}; migrations applied: {report.migrations_applied}"
    )
    changed = [f"{step} {len(slugs)}" for step, slugs in report.applied.items()]
    console.print(f"apps changed: {', '.join(changed)}; the rest unchanged since the last sync")
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
    url = operator_url()
    cell, cell_url = _where(slug, url)
    files = _files_of(slug)
    if export is not None:
        done = offboarding.export_app(cell_url, slug, export)
        console.print(
            f"exported {sum(done.tables.values())} rows from {len(done.tables)} tables to {done.dump}"
        )
        if files is not None:
            count = offboarding_storage.export_objects(*files, export)
            console.print(f"exported {count} files to {export / 'objects'}")
    if not yes and not typer.confirm(f"Drop schema app_{slug}, its roles and its files now?"):
        raise typer.Exit(1)
    offboarding.remove(url, slug, None if cell is None else cell_url)
    told = offboarding.announce_removed(url, slug, lambda app: _where(app, url)[1])
    if told:
        console.print(f"told {', '.join(told)} (integreat.app.removed)")
    if files is None:
        err.print(
            f"[yellow]no bucket configured (INTEGREAT_BUCKET): the files under {slug}/ were left[/yellow]"
        )
    else:
        removed = offboarding_storage.remove_objects(*files)
        console.print(f"removed {removed.objects} objects from {removed.bucket}"
                      + (" and the bucket" if removed.bucket_deleted else ""))  # fmt: skip
    console.print(
        f"removed {slug}"
        + (f"; restore with `integreat apps restore {slug} --from {export}`" if export else "")
    )


def _where(slug: str, home_url: str, manifest: Path | None = None) -> tuple[str | None, str]:
    """(the app's cell as the registry records it, that cell's operator URL)."""
    try:
        return cells.app_url(load_manifest(manifest).cells, home_url, slug)
    except cells.CellError as exc:
        err.print(f"{slug}: {exc}")
        raise typer.Exit(2) from None


def _files_of(slug: str) -> tuple[Any, str, str, StorageSpec] | None:
    """(s3, shared bucket, slug, storage spec) for the app's files, or None without a bucket. The
    manifest says where they live (an app no longer declared: the shared bucket's prefix)."""
    from chalicelib.settings import get_settings

    bucket = get_settings().bucket or (context.running_platform() or {}).get("bucket")
    if not bucket:
        return None
    declared = {app.slug: app for app in load_manifest().apps}
    spec = declared[slug].storage if slug in declared else StorageSpec()
    return context.aws_client("s3"), str(bucket), slug, spec


@apps_cli.command("restore")
def apps_restore(
    slug: str,
    source: Annotated[Path, typer.Option("--from", help="Directory written by `apps remove --export`.")],
    manifest: ManifestOpt = None,
) -> None:
    """Bring back a removed app from its export (roles, schema, data, privileges).

    Example: integreat apps restore events --from backups/events
    """
    declared = load_manifest(manifest)
    app = declared.app(slug)
    url = operator_url()
    recorded, _url = _where(slug, url, manifest)
    # The manifest's pin wins; else where the registry last had it (a removed row keeps its cell).
    cell = declared.cells.key(app.cell) if app.cell else recorded
    try:
        cell_url = cells.url_of(declared.cells, url, cell)
    except cells.CellError as exc:
        err.print(f"{slug}: {exc}")
        raise typer.Exit(2) from None
    offboarding.restore_app(url, app, source, cell, cell_url)
    console.print(f"restored {slug}" + ("" if cell is None else f" in cell {cell}"))


@apps_cli.command("move")
def apps_move(
    slug: str,
    to: Annotated[
        str, typer.Option("--to", help="The cell to move it to (a [cells.<name>] of the manifest).")
    ],
    manifest: ManifestOpt = None,
) -> None:
    """Move an app to another cell (database): copy, verify row counts, switch, drop the source.
    Its writes are refused (503, Retry-After) during the copy; a failure leaves it where it was.

    Example: integreat apps move events --to eu2
    """
    validate_slug(slug)
    spec = load_manifest(manifest).cells
    if spec.named(to) is None:
        err.print(f"unknown cell {to!r}; declared: {', '.join(c.name for c in spec.cells) or 'none'}")
        raise typer.Exit(2)
    done = cells.move_app(cells.cell_urls(spec, operator_url()), slug, spec.key(to))
    rows = sum(done.tables.values())
    console.print(f"moved {slug} to {to}: {rows} rows in {len(done.tables)} tables, {done.seconds:.1f} s")
    if done.leftovers:
        err.print(f"[yellow]{done.leftovers}[/yellow]")
