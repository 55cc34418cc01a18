"""`integreat outputs`: an app's `amplify_outputs.json` for one stage (dev/prod: the stack's
outputs file, and the app's client id from SSM Parameter Store, with the caller's AWS credentials)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from integreat import context
from integreat.commands.common import ManifestOpt, console, err

OUTPUTS_FILE = Path("cdk-outputs.json")  # what `integreat deploy` writes (integreat/commands/infra.py)


def build(
    app: str, stage: str, manifest: Path | None = None, outputs_file: Path = OUTPUTS_FILE,
    parameters: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """The document; OutputsError (a sentence) when the stage's values or the app are missing.
    dev/prod read the app's client id from SSM: `parameters` is a boto3 SSM client (default: one
    for the stack's region, at INTEGREAT_AWS_ENDPOINT_URL when that is set)."""
    from chalicelib.tenancy.manifest import load_manifest
    from integreat.outputs import STAGES, OutputsError, amplify_outputs, app_of, local_values, stack_values

    if stage not in STAGES:
        raise OutputsError(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    declared = load_manifest(manifest)
    if stage == "local":
        values = local_values(context.running_platform())
    else:
        values = stack_values(outputs_file, stage, declared, app, parameters or ssm_client)
    return amplify_outputs(app_of(declared, app, values), values)


def build_console(
    stage: str, manifest: Path | None = None, outputs_file: Path = OUTPUTS_FILE, parameters: Any = None
) -> dict[str, Any]:
    """The admin console's `console_outputs.json` for `stage`: every manifest app's client id
    (dev/prod: from SSM, one GetParametersByPath walk), the pool and the API."""
    from chalicelib.tenancy.manifest import load_manifest
    from integreat.local.frontends import console_outputs
    from integreat.outputs import STAGES, OutputsError, local_values, stack_values

    if stage not in STAGES:
        raise OutputsError(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    declared = load_manifest(manifest)
    if stage == "local":
        return console_outputs(declared, local_values(context.running_platform()))
    ssm = parameters or ssm_client
    values = stack_values(outputs_file, stage, declared, "", ssm)
    client = ssm(values.region) if callable(ssm) else ssm
    clients = _client_ids(client, f"/{declared.platform.name}/{stage}/apps/")
    return console_outputs(
        declared, values._replace(clients={s: c for s, c in clients.items() if s in declared.slugs})
    )


def _client_ids(ssm: Any, prefix: str) -> dict[str, str]:
    """slug -> client id of every `<prefix><slug>/client-id` parameter."""
    from botocore.exceptions import BotoCoreError, ClientError

    from integreat.outputs import OutputsError

    found: dict[str, str] = {}
    try:
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
            for parameter in page["Parameters"]:
                slug, _, leaf = parameter["Name"].removeprefix(prefix).partition("/")
                if leaf == "client-id":
                    found[slug] = str(parameter["Value"])
    except (ClientError, BotoCoreError) as exc:
        raise OutputsError(f"cannot read the SSM parameters under {prefix}: {exc}") from None
    return found


def ssm_client(region: str) -> Any:
    from chalicelib import aws
    from chalicelib.settings import settings_from_env

    return aws.client("ssm", settings_from_env(region=region))


def outputs(
    stage: Annotated[str, typer.Option("--stage", help="local (the running `make dev`), dev or prod.")],
    app: Annotated[
        str | None, typer.Option("--app", help="The app whose frontend reads these outputs.")
    ] = None,
    console_: Annotated[
        bool, typer.Option("--console", help="The admin console's console_outputs.json instead (every app).")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    outputs_file: Annotated[
        Path, typer.Option("--outputs-file", help="dev/prod: what `cdk deploy --outputs-file` wrote.")
    ] = OUTPUTS_FILE,
    manifest: ManifestOpt = None,
) -> None:
    """The app's amplify_outputs.json (schema 1.4): its client, folders and the API, for Amplify JS;
    with --console, the admin console's console_outputs.json (every app's client).

    Example: integreat outputs --app church --stage local --out examples/church-web/public/amplify_outputs.json
    """
    from integreat.outputs import OutputsError

    if (app is None) == (not console_):
        err.print("name an app with --app, or pass --console")
        raise typer.Exit(2)
    try:
        document = (
            build_console(stage, manifest, outputs_file)
            if app is None
            else build(app, stage, manifest, outputs_file)
        )
    except OutputsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    text = json.dumps(document, indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out}")
