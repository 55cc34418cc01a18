"""`integreat integrations ...`: what apps may call, and the secrets the proxy injects."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from chalicelib.tenancy.manifest import load_manifest
from integreat import context
from integreat.commands.common import ManifestOpt, console, err

integrations_cli = typer.Typer(help="Third-party integrations: list, set secrets.", no_args_is_help=True)


@integrations_cli.command("list")
def list_integrations(manifest: ManifestOpt = None) -> None:
    """The manifest's integrations: where they go, what is allowed, who may call.

    Example: integreat integrations list
    """
    table = Table("name", "base url", "methods", "paths", "apps", "per minute", "secret")
    for spec in load_manifest(manifest).integrations:
        table.add_row(
            spec.name, spec.base_url, " ".join(spec.methods), " ".join(p or "(all)" for p in spec.paths),
            " ".join(spec.apps), str(spec.per_minute), spec.secret,
        )  # fmt: skip
    console.print(table)


@integrations_cli.command("secret")
def set_secret(
    name: Annotated[str, typer.Argument(help="The integration whose secret to set.")],
    manifest: ManifestOpt = None,
) -> None:
    """Store the integration's secret in Secrets Manager, read from stdin (never an argument, so
    it stays out of shell history).

    Example: printf %s "$WEATHER_KEY" | integreat integrations secret weather
    """
    spec = next((s for s in load_manifest(manifest).integrations if s.name == name), None)
    if spec is None:
        err.print(f"no integration {name!r} in the manifest; see `integreat integrations list`")
        raise typer.Exit(1)
    value = typer.prompt("secret", hide_input=True) if sys.stdin.isatty() else sys.stdin.read().strip()
    if not value:
        err.print("the secret is empty: pipe it on stdin")
        raise typer.Exit(2)
    client = context.aws_client("secretsmanager")
    try:
        client.put_secret_value(SecretId=spec.secret, SecretString=value)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=spec.secret, SecretString=value)
    console.print(f"stored {spec.secret} ({len(value)} characters); the proxy picks it up within 5 minutes")
