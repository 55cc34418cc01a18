"""`integreat dev`, `integreat status`, `integreat users ...` and `integreat token` for the local platform."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table

from chalicelib.settings import get_settings
from integreat import context
from integreat.commands.common import console, err

AppOpt = Annotated[str, typer.Option("--app", help="The app whose client the user goes through.")]
EmailOpt = Annotated[str, typer.Option("--email", "--user", help="The user's e-mail (their username).")]
PasswordOpt = Annotated[str, typer.Option("--password", help="The user's password.")]


def dev() -> None:
    """Run the local platform (Postgres, moto, Cognito triggers, API, workers) in the foreground.

    Example: make dev        (or: .venv/bin/integreat dev)
    """
    from integreat.local.platform import LocalPlatform, PlatformError, Ports

    settings = get_settings()
    state = context.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    platform = LocalPlatform(
        state, Ports.from_env(), database_url=settings.database_url, aws_endpoint=settings.aws_endpoint_url
    )
    try:
        platform.run_forever()
    except PlatformError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def running() -> dict[str, Any]:
    """What `make dev` wrote about itself (`.integreat/platform.json`), or a clear error."""
    data = context.running_platform()
    if data is None:
        err.print("the local platform is not running: start it with `make dev`")
        raise typer.Exit(1)
    return data


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def status() -> None:
    """Each component of the local platform: up or down, and what to do.

    Example: integreat status
    """
    info = running()
    rows = [
        ("api", info["api"], _health(info["api"]), "restart `make dev`"),
        ("cognito", info["cognito_endpoint"], _reachable(info["cognito_endpoint"]), "restart `make dev`"),
        ("aws (moto)", info["aws_endpoint"], _reachable(info["aws_endpoint"]), "restart `make dev`"),
        (
            "postgres",
            info["database"],
            _reachable(info["database"]),
            "restart `make dev` (data is kept in .integreat/)",
        ),
    ]
    table = Table("component", "endpoint", "state", "if down")
    for name, where, up, fix in rows:
        table.add_row(name, where, "[green]up[/green]" if up else "[red]down[/red]", "" if up else fix)
    console.print(table)
    if not all(up for _, _, up, _ in rows):
        raise typer.Exit(1)


def _health(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:  # noqa: S310 (our own loopback URL)
            return bool(response.status == 200)
    except OSError:
        return False


def _cognito() -> tuple[Any, dict[str, Any]]:
    info = running()
    return context.local_client("cognito-idp", info, info["cognito_endpoint"]), info


def _client_id(info: dict[str, Any], app: str) -> str:
    clients = info["apps"].get(app)
    if not clients:
        err.print(f"no app {app!r} on the local platform; apps: {', '.join(info['apps'])}")
        raise typer.Exit(1)
    return str(clients[0])


users_local = typer.Typer()


def signup(app: AppOpt, email: EmailOpt, password: PasswordOpt) -> None:
    """Sign a user up through an app's client (the pre sign-up trigger runs).

    Example: integreat users signup --app church --email alice@example.org --password 'Passw0rd!Passw0rd'
    """
    cognito, info = _cognito()
    cognito.sign_up(ClientId=_client_id(info, app), Username=email, Password=password,
                    UserAttributes=[{"Name": "email", "Value": email}])  # fmt: skip
    console.print(
        f"signed up {email} through {app}; confirm with `integreat users confirm --app {app} --email {email}`"
    )


def confirm(
    app: AppOpt,
    email: EmailOpt,
    code: Annotated[str, typer.Option("--code", help="Any code works locally.")] = "000000",
) -> None:
    """Confirm a sign-up through the app's client (the post-confirmation trigger runs).

    Example: integreat users confirm --app church --email alice@example.org
    """
    cognito, info = _cognito()
    cognito.confirm_sign_up(ClientId=_client_id(info, app), Username=email, ConfirmationCode=code)
    console.print(f"confirmed {email}")


def _tokens(app: str, email: str, password: str) -> dict[str, str]:
    cognito, info = _cognito()
    result: dict[str, str] = cognito.initiate_auth(
        ClientId=_client_id(info, app), AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]  # fmt: skip
    return result


def login(app: AppOpt, email: EmailOpt, password: PasswordOpt) -> None:
    """Sign in through the app's client (pre token generation runs) and print the tokens as JSON.

    Example: integreat users login --app church --email alice@example.org --password 'Passw0rd!Passw0rd'
    """
    result = _tokens(app, email, password)
    console.print_json(
        json.dumps({k: result[k] for k in ("AccessToken", "IdToken", "RefreshToken") if k in result})
    )


def token(app: AppOpt, email: EmailOpt, password: PasswordOpt) -> None:
    """Print an access token scoped to `app`, for curl.

    Example: curl -H "Authorization: Bearer $(integreat token --app church --user alice@example.org --password ...)" http://127.0.0.1:8000/me
    """
    print(_tokens(app, email, password)["AccessToken"])


def list_users() -> None:
    """Users of the local pool, with their groups.

    Example: integreat users list
    """
    cognito, info = _cognito()
    table = Table("email", "user", "status", "groups")
    for user in cognito.list_users(UserPoolId=info["user_pool_id"])["Users"]:
        pool, name = info["user_pool_id"], user["Username"]
        found = cognito.admin_list_groups_for_user(UserPoolId=pool, Username=name)["Groups"]
        email = next((a["Value"] for a in user.get("Attributes", []) if a["Name"] == "email"), "")
        table.add_row(
            email, name, user.get("UserStatus", ""), ", ".join(sorted(g["GroupName"] for g in found))
        )
    console.print(table)


def state_file() -> Path:
    return context.state_dir() / "platform.json"


def demo() -> None:
    """Run the scripted scenario against the running local platform; exits 1 if any step fails.

    Example: integreat demo
    """
    from integreat.demo import Demo

    if not Demo(running(), say=console.print).run():
        raise typer.Exit(1)


OPENAPI_FILE = Path("docs/openapi.json")


def openapi(
    write: Annotated[
        bool, typer.Option("--write", help=f"Write {OPENAPI_FILE} instead of printing.")
    ] = False,
) -> None:
    """The API's OpenAPI 3 document, built from the declared routes.

    Example: integreat openapi --write
    """
    from chalicelib.gateway.openapi import document
    from integreat.local.api_server import PROJECT_ROOT, load_app

    load_app()  # registers every route

    text = json.dumps(document(), indent=2, sort_keys=True) + "\n"
    if write:
        (PROJECT_ROOT / OPENAPI_FILE).write_text(text)
        console.print(f"wrote {PROJECT_ROOT / OPENAPI_FILE}")
    else:
        print(text, end="")
