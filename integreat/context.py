"""Where the operator tooling finds the platform: settings first, else the local embedded Postgres."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.identity.directory import CognitoDirectory
    from chalicelib.provisioning.identity import IdentityProvisioner
from integreat.local.postgres import EmbeddedPostgres

STATE_DIR_ENV = "INTEGREAT_STATE_DIR"
PG_PORT_ENV = "INTEGREAT_PG_PORT"
DEFAULT_PG_PORT = 54329
LOCAL_DATABASE = "integreat"


def state_dir() -> Path:
    """Local state (embedded Postgres data, later moto state): `.integreat/` unless overridden."""
    return Path(os.environ.get(STATE_DIR_ENV) or ".integreat").resolve()


#: moto accepts any key; the local platform's own clients sign with this one, so no command ever
#: needs (or sends) the developer's real AWS credentials.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def running_platform() -> dict[str, Any] | None:
    """What `make dev` wrote about itself (`.integreat/platform.json`), or None when it is not running."""
    path = state_dir() / "platform.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info


def local_client(service: str, info: dict[str, Any], endpoint: str | None = None) -> Any:
    """A boto3 client of the running local platform (moto, or `endpoint`), with local credentials."""
    import boto3

    url = endpoint or info["aws_endpoint"]
    return boto3.client(service, endpoint_url=url, region_name=info["region"], **LOCAL_CREDENTIALS)


def aws_client(service: str) -> Any:
    """The AWS client a command uses: the configured AWS (an endpoint or a non-local stage), else the
    running local platform, else the default AWS chain. Commands never ask a new user for AWS setup."""
    from chalicelib import aws

    settings = get_settings()
    info = running_platform() if settings.aws_endpoint_url is None and settings.stage == "local" else None
    return local_client(service, info) if info else aws.client(service, settings)


def local_postgres() -> EmbeddedPostgres:
    return EmbeddedPostgres(
        state_dir() / "postgres", port=int(os.environ.get(PG_PORT_ENV) or DEFAULT_PG_PORT)
    )


class DatabaseDownError(DatabaseUnavailableError):
    """The platform database does not answer; the message is a sentence saying what to do."""


def operator_url(*, start_local: bool = True) -> tuple[str, str]:
    """(URL, where it came from). Without INTEGREAT_DATABASE_URL/DATABASE_URL: the local cluster."""
    configured = get_settings().database_url
    if configured:
        return configured, "INTEGREAT_DATABASE_URL"
    server = local_postgres()
    if not server.running():
        if platform_alive():  # its supervisor restarts Postgres; a second start would race it
            raise DatabaseDownError(
                "the local platform's Postgres is down and being restarted: retry in a few seconds"
            )
        if start_local:
            server.start()
    return ensure_database(server, LOCAL_DATABASE), f"local Postgres in {server.state_dir}"


def platform_alive() -> bool:
    """Whether the `make dev` that wrote `platform.json` still runs (a crash leaves the file)."""
    info = running_platform()
    if not info or not isinstance(info.get("pid"), int):
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_database(server: EmbeddedPostgres, name: str) -> str:
    """The URL of database `name` on `server`, created if missing; DatabaseDownError (a sentence,
    not a traceback) when the server does not answer."""
    import psycopg2

    try:
        conn = psycopg2.connect(server.url(), connect_timeout=5)
    except psycopg2.OperationalError:
        raise DatabaseDownError(
            f"the database (local Postgres in {server.state_dir}) is not answering: if `make dev` "
            "runs it is restarting it, retry in a few seconds; otherwise start it with `make dev`"
        ) from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return server.url(name)


def role_url(url: str, role: str, password: str, database: str | None = None) -> str:
    """`url` with another role's credentials (same host and port; same database unless given)."""
    parts = urlsplit(url)
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


class NoCredentialsError(LookupError):
    """A generated LOGIN role has no stored password: the platform was not provisioned."""


def login_url(operator_url: str, role: str) -> str:
    """The URL of a LOGIN role Integreat generated (runtime or an app's), from its stored password."""
    from chalicelib.db.pool import connector
    from chalicelib.db.provision import role_password

    conn = connector(operator_url)()
    try:
        password = role_password(conn, role)
    finally:
        conn.close()
    if password is None:
        raise NoCredentialsError(f"no credentials for {role}: run `integreat apps sync` first")
    return role_url(operator_url, role, password)


def identity_provisioner() -> IdentityProvisioner | None:
    """The Cognito/IAM provisioner when a user pool is configured (INTEGREAT_USER_POOL_ID), else None.
    With INTEGREAT_BUCKET the app roles get their storage folder, as the stack's and the local
    platform's provisioners give it; its clients retry adaptively (`provisioning_clients`)."""
    from chalicelib import aws
    from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner, provisioning_clients

    settings = get_settings()
    if not settings.user_pool_id:
        return None
    account = str(aws.client("sts", settings).get_caller_identity()["Account"])
    config = IdentityConfig(
        user_pool_id=settings.user_pool_id,
        platform=settings.platform_name,
        stage=settings.stage,
        account_id=account,
        password_auth=settings.stage in ("local", "test"),
        bucket=settings.bucket,
    )
    cognito, iam = provisioning_clients(settings)
    return IdentityProvisioner(cognito, iam, config)


def directory() -> CognitoDirectory:
    from chalicelib import aws
    from chalicelib.identity.directory import CognitoDirectory

    settings = get_settings()
    return CognitoDirectory(aws.client("cognito-idp", settings), settings.require_user_pool_id())
