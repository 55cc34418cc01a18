"""Every `integreat` command's --help shows an example (the issue asks it of every command)."""

from __future__ import annotations

import typer.main

from integreat.cli import cli


def _commands(group: object, path: str = "integreat") -> list[tuple[str, object]]:
    found = []
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "commands", None):
            found += _commands(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


def test_every_command_has_an_example() -> None:
    commands = _commands(typer.main.get_command(cli))
    assert len(commands) >= 20, [name for name, _ in commands]  # the checker sees the whole tree
    missing = [name for name, command in commands if "Example" not in (getattr(command, "help", "") or "")]
    assert missing == []
