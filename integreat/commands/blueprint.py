"""`integreat blueprint import amplify|serverless <file> --app <slug> [--write]`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from integreat.commands.common import console, err

if TYPE_CHECKING:
    from integreat.blueprints.proposal import Proposal

blueprint_cli = typer.Typer(
    help="Turn an app's dev-phase config into its manifest entry.", no_args_is_help=True
)
import_cli = typer.Typer(
    help="Import a blueprint: a diff of integreat.toml and a report.", no_args_is_help=True
)
blueprint_cli.add_typer(import_cli, name="import")

FileArg = Annotated[Path, typer.Argument(help="The blueprint file.")]
AppOpt = Annotated[str, typer.Option("--app", help="The app's slug in integreat.toml.")]
WriteOpt = Annotated[bool, typer.Option("--write", help="Apply the change to the manifest.")]
ManifestPathOpt = Annotated[Path, typer.Option("--manifest", help="The manifest to change.")]


@import_cli.command("amplify")
def import_amplify(
    file: FileArg, app: AppOpt, write: WriteOpt = False, manifest: ManifestPathOpt = Path("integreat.toml")
) -> None:
    """Amplify Gen 2 outputs: groups -> roles, storage paths -> folders; the rest reported.

    Example: integreat blueprint import amplify amplify_outputs.json --app events
    """
    from integreat.blueprints import amplify

    _run(lambda: amplify.propose(amplify.load(file), app), app, write, manifest)


StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="The stage variables resolve for (default: provider.stage, else dev)."),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region", help="The region variables resolve for (default: provider.region, else us-east-1)."
    ),
]


@import_cli.command("serverless")
def import_serverless(
    file: FileArg,
    app: AppOpt,
    write: WriteOpt = False,
    manifest: ManifestPathOpt = Path("integreat.toml"),
    stage: StageOpt = None,
    region: RegionOpt = None,
) -> None:
    """A Serverless v3 service: s3 events -> folders; routes, queues, IAM reported.

    Variables are resolved as `serverless print` would (${self:}, ${opt:}, ${sls:stage}, ${env:},
    ${file()}); CloudFormation tags are kept as references; what needs AWS is reported.

    Example: integreat blueprint import serverless serverless.yml --app students --stage prod
    """
    import os

    from integreat.blueprints import serverless

    def build() -> Proposal:
        # ${env:...} reads this process's environment, as the Framework does; the values are
        # reported, never written into the manifest.
        return serverless.propose(serverless.load(file, stage=stage, region=region, environ=os.environ), app)

    _run(build, app, write, manifest)


def _run(build: Callable[[], Proposal], app: str, write: bool, manifest: Path) -> None:
    from chalicelib.tenancy.slugs import slug_problem
    from integreat.blueprints.apply import diff
    from integreat.blueprints.apply import write as write_manifest

    problem = slug_problem(app)
    if problem:
        err.print(f"[red]error:[/red] --app {app!r}: {problem}")
        raise typer.Exit(2)
    before, after, proposal = _merge(build, manifest)
    change = diff(before, after, manifest.name)
    print(change or f"{manifest.name}: no change (already up to date)")
    _report(proposal)
    if write and change:
        write_manifest(manifest, after)
        console.print(f"\nwrote {manifest}")
    elif change:
        console.print("\n(dry run: --write applies it)")


def _merge(build: Callable[[], Proposal], manifest: Path) -> tuple[str, str, Proposal]:
    """(manifest now, manifest proposed, proposal); any failure ends the command, writing nothing."""
    from integreat.blueprints.apply import MergeError, merged
    from integreat.blueprints.proposal import BlueprintError

    try:
        before = manifest.read_text()
        proposal = build()
        return before, merged(before, proposal), proposal
    except BlueprintError as exc:
        _fail(f"cannot import {exc.source}", exc.problems)
    except MergeError as exc:
        _fail("the proposed manifest would not validate", exc.problems)
    except OSError as exc:
        _fail("cannot read the manifest", [str(exc)])
    raise AssertionError("unreachable")


def _fail(title: str, problems: list[str]) -> NoReturn:
    err.print(f"[red]{title}[/red] (nothing written):")
    for line in problems:
        err.print(f"  - {line}", markup=False, highlight=False)
    raise typer.Exit(1)


def _report(proposal: Proposal) -> None:
    from integreat.blueprints.proposal import KINDS

    for kind in KINDS:
        found = [f for f in proposal.findings if f.kind == kind]
        if found:
            console.print(f"\n[bold]{kind}[/bold] ({len(found)})")
            for finding in found:
                console.print(f"  {finding.where}: {finding.message}", markup=False, highlight=False)
