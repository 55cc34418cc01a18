"""`integreat service ...`: act as an app's backend on the local platform (service principals).

In AWS a backend runs as its app's IAM role and signs with that role's credentials; locally
`credentials` hands out credentials of the same shape, which only this platform accepts.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated

import typer

from integreat import context
from integreat.commands.common import console, err
from integreat.commands.local import running

service_cli = typer.Typer(help="Call /service routes as an app's backend (SigV4).", no_args_is_help=True)

AppOpt = Annotated[str, typer.Option("--app", help="The app whose backend (IAM role) signs.")]
TtlOpt = Annotated[int, typer.Option("--ttl", min=60, max=43200, help="Seconds the credentials last.")]


def _role(app: str) -> tuple[str, dict[str, str]]:
    info = running()
    roles: dict[str, str] = info.get("roles") or {}
    if app not in roles:
        err.print(f"no app {app!r} with an IAM role on the local platform; apps: {', '.join(roles) or '-'}")
        raise typer.Exit(1)
    return roles[app], info


@service_cli.command("credentials")
def credentials(app: AppOpt, ttl: TtlOpt = 3600, as_json: bool = typer.Option(False, "--json")) -> None:
    """Temporary credentials of the app's role, as environment variables (or JSON).

    Example: eval "$(integreat service credentials --app church)"
    """
    from integreat.local.service_credentials import issue

    role_id, info = _role(app)
    issued = issue(context.state_dir(), role_id, ttl)
    values = {
        "AWS_ACCESS_KEY_ID": issued.access_key_id,
        "AWS_SECRET_ACCESS_KEY": issued.secret_access_key,
        "AWS_SESSION_TOKEN": issued.session_token,
        # Both: AWS CLI v1 reads only AWS_DEFAULT_REGION, the SDKs prefer AWS_REGION.
        "AWS_REGION": str(info["region"]),
        "AWS_DEFAULT_REGION": str(info["region"]),
        # The credentials are valid only here: every SDK and the CLI (botocore honours it for
        # every service) then talk to the local platform, never to AWS.
        "AWS_ENDPOINT_URL": str(info["aws_endpoint"]),
    }
    if as_json:
        print(json.dumps(values | {"Expiration": issued.expires_at}))
    else:
        print("\n".join(f"export {name}='{value}'" for name, value in values.items()))


@service_cli.command("call")
def call(
    app: AppOpt,
    method: Annotated[str, typer.Argument(help="GET, POST, ...")],
    path: Annotated[str, typer.Argument(help="A /service/... path of the API.")],
    data: Annotated[str | None, typer.Option("--data", help="JSON request body.")] = None,
) -> None:
    """Sign one request as the app's backend and print the API's answer.

    Example: integreat service call --app events GET /service/apps/church/datasets/services
    """
    from integreat.local.service_credentials import issue, signed_headers

    if not path.startswith("/service/"):
        err.print("service calls go to /service/... paths (the user routes take bearer tokens)")
        raise typer.Exit(2)
    role_id, info = _role(app)
    body = data.encode() if data is not None else b""
    url = f"{info['api']}{path}"
    headers = signed_headers(
        issue(context.state_dir(), role_id, 900), info["region"], method.upper(), url, body,
        {"Content-Type": "application/json"},
    )  # fmt: skip
    request = urllib.request.Request(url, data=body or None, method=method.upper(), headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the local API)
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    console.print(f"{status}", style="green" if status < 400 else "red")
    print(text)
    if status >= 400:
        raise typer.Exit(1)
