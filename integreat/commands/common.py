"""What every command module shares: consoles, options, progress bars, where the database is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from integreat import context

console = Console()
err = Console(stderr=True)

ManifestOpt = Annotated[
    Path | None, typer.Option("--manifest", help="Manifest file (default: integreat.toml).")
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=32, help="Parallel database connections.")]


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def operator_url() -> str:
    url, origin = context.operator_url()
    err.print(f"[dim]database: {origin}[/dim]")
    return url
