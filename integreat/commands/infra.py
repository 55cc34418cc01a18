"""`integreat synth`, `integreat deploy` and `integreat stage-config`: the CDK app per stage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

import integreat.infra  # noqa: F401 (quiets jsii's Node.js banner before aws_cdk starts Node)
from integreat.commands.common import ManifestOpt, console, err

StageOpt = Annotated[str, typer.Option("--stage", help="dev or prod.")]
OUTPUTS = Path("cdk-outputs.json")


def synth(
    stage: StageOpt,
    out: Annotated[Path, typer.Option("--out", help="Cloud assembly directory.")] = Path("cdk.out"),
    manifest: ManifestOpt = None,
) -> None:
    """Synthesize the stage's stack (offline) with cdk-nag's checks; writes the template.

    Example: integreat synth --stage prod     (the manifest: --manifest, $INTEGREAT_MANIFEST or ./integreat.toml)
    """
    from aws_cdk.assertions import Annotations, Match

    from integreat.infra.app import InfraError, synthesize
    from integreat.infra.stages import StageError

    try:  # a ManifestError ends the command as in every other one (integreat/cli.py)
        result = synthesize(stage, out / stage, manifest)
    except (InfraError, StageError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    errors = Annotations.from_stack(result.stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    for error in errors:
        err.print(f"[red]cdk-nag[/red] {error.id}: {error.entry.data}")
    console.print(
        f"wrote {out / stage / result.stack.template_file} in {result.seconds:.1f} s"
        f" (manifest {result.manifest})",
        markup=False,
    )
    if errors:
        raise typer.Exit(1)


def deploy(stage: StageOpt, manifest: ManifestOpt = None) -> None:
    """Deploy the stage with the AWS CDK CLI (`npx aws-cdk deploy`), then write its outputs.

    Example: integreat deploy --stage prod     (needs AWS credentials; never run by the tests)
    """
    from chalicelib.tenancy.manifest import MANIFEST_ENV

    if shutil.which("npx") is None:
        err.print("`npx` (Node.js) is needed to run the AWS CDK CLI")
        raise typer.Exit(1)
    env = dict(os.environ)
    if manifest is not None:  # the CDK app finds it as every command does: through the variable
        env[MANIFEST_ENV] = str(manifest.resolve())
    app = f"{sys.executable} -m integreat.infra.main {stage}"
    command = ["npx", "--yes", "aws-cdk@2", "deploy", "--app", app, "--outputs-file", str(OUTPUTS),
               "--require-approval", "broadening"]  # fmt: skip
    console.print(" ".join(command))
    raise typer.Exit(subprocess.call(command, env=env))


def stage_config(
    stage: StageOpt,
    outputs: Annotated[
        Path, typer.Option("--outputs-file", help="What `cdk deploy --outputs-file` wrote.")
    ] = OUTPUTS,
    config: Annotated[Path, typer.Option("--config", help="The Chalice config to update.")] = Path(
        ".chalice/config.json"
    ),
) -> None:
    """Write the stack's outputs into the Chalice stage, for a plain `chalice deploy --stage`.

    Example: integreat stage-config --stage dev
    """
    from integreat.infra.stage_config import StageConfigError, stack_outputs, write_stage
    from integreat.infra.stages import STAGES

    if stage not in STAGES:
        err.print(f"--stage must be one of {', '.join(STAGES)}")
        raise typer.Exit(2)
    try:
        values = stack_outputs(outputs, f"integreat-{stage}")
        written = write_stage(config, stage, values)
    except StageConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for name, value in written.items():
        console.print(f"{name} = {value}")
    console.print(
        f"\nNot written (a secret): INTEGREAT_RUNTIME_DATABASE_URL. Set it in the stage from\n"
        f"  aws secretsmanager get-secret-value --secret-id {values.get('RuntimeDatabaseSecretArn', '<arn>')}\n"
        "After `chalice deploy`, turn on partial batch responses (Chalice cannot):\n"
        "  aws lambda list-event-source-mappings --function-name <on_storage_event / on_cross_app_event>\n"
        "  aws lambda update-event-source-mapping --uuid <uuid> --function-response-types ReportBatchItemFailures",
        emoji=False,  # a secret's ARN holds ":secret:", which Rich would print as an emoji
        markup=False,
    )
