"""What `make dev` sets up beside the apps and says about itself: the integrations with their
local secrets, `.integreat/platform.json` (read by every command and the demo) and the summary it
prints once it is ready."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from chalicelib.settings import Settings


def sync_local_integrations(
    operator_url: str, specs: tuple[Any, ...], secrets: Any, progress: Callable[[str], None]
) -> None:
    """Sync the manifest's integrations; give each a local placeholder secret if it has none
    (the stand-in upstreams accept any key; a real one is set with `integreat integrations secret`)."""
    from chalicelib.db.pool import connector
    from chalicelib.provisioning.integrations import sync_integrations

    sync_integrations(connector(operator_url), specs)
    for spec in specs:
        # Set by an operator, or by an earlier start: keep it.
        with contextlib.suppress(secrets.exceptions.ResourceExistsException):
            secrets.create_secret(Name=spec.secret, SecretString=f"local-{spec.name}-key")
    if specs:
        progress(f"integrations: {', '.join(s.name for s in specs)}")


def describe(settings: Settings, api_port: int, cognito_url: str, seconds: float) -> dict[str, Any]:
    from chalicelib.apps import Database
    from integreat.context import role_url

    assert settings.database_url
    registry = Database(settings.database_url)
    try:
        active = {slug: a for slug, a in registry.registry.all().items() if a.status == "active"}
        apps = {slug: list(a.clients) for slug, a in active.items()}
        roles = {slug: a.iam_role_id for slug, a in active.items() if a.iam_role_id}
    finally:
        registry.close()
    return {
        "api": f"http://127.0.0.1:{api_port}",
        "aws_endpoint": settings.aws_endpoint_url,
        "cognito_endpoint": cognito_url,
        "user_pool_id": settings.user_pool_id,
        "region": settings.region,
        "bucket": settings.bucket,
        "database": role_url(settings.database_url, "postgres", "***"),
        "apps": apps,
        "roles": roles,  # each app's IAM role id: what `integreat service credentials` signs as
        "ready_seconds": round(seconds, 2),
        "pid": os.getpid(),
    }


def print_summary(summary: dict[str, Any]) -> None:
    church = summary["apps"].get("church", ["<client id>"])[0] if summary.get("apps") else "<client id>"
    print(
        f"""
Integreat is running (ready in {summary["ready_seconds"]} s). Ctrl-C stops everything.

  API              {summary["api"]}           (GET /health is public; everything else needs a token)
  Cognito          {summary["cognito_endpoint"]}  (moto + Integreat's triggers; pool {summary["user_pool_id"]})
  AWS (moto)       {summary["aws_endpoint"]}  (S3 bucket {summary["bucket"]}, SQS, IAM)
  apps             {", ".join(f"{slug} (client {ids[0] if ids else '-'})" for slug, ids in summary["apps"].items())}

First call:
  .venv/bin/integreat users signup --app church --email alice@example.org --password 'Passw0rd!Passw0rd'
  TOKEN=$(.venv/bin/integreat token --app church --user alice@example.org --password 'Passw0rd!Passw0rd')
  curl -H "Authorization: Bearer $TOKEN" {summary["api"]}/me
  (church's client id: {church})
"""
    )
