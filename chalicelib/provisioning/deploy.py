"""The provisioner as the stack's custom resource: one `cdk deploy` yields a working platform.

The stack passes the manifest and its own resources (user pool, identity pool, bucket, stage)
as the resource's properties; this runs the same idempotent provisioner as `integreat apps sync`
(design decision 7) and answers each app's client id, which the stack's identity-pool role
attachment names. CDK's Provider framework calls it with CloudFormation's custom resource event
and does the answering. Delete does nothing: an app's data leaves only through
`integreat apps remove` (with its export), never because a stack was deleted.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

provisioner = Blueprint(__name__)


@provisioner.lambda_function(name="provision")
def provision(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.observability import start_invocation

    start_invocation(event.get("RequestId"))
    props = event["ResourceProperties"]
    physical = f"{props['Platform']}-{props['Stage']}-apps"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical)}
    return {"PhysicalResourceId": physical, "Data": apply(props)}


def apply(props: dict[str, Any]) -> dict[str, str]:
    """Provision every manifest app and integration; `Client.<slug>` -> its app client id."""
    from chalicelib import aws
    from chalicelib.apps.manifest import parse_manifest
    from chalicelib.db.pool import connector
    from chalicelib.provisioning.database import sync_apps
    from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner, register_app_clients
    from chalicelib.provisioning.integrations import sync_integrations
    from chalicelib.settings import get_settings

    settings = get_settings()
    manifest = parse_manifest(props["Manifest"], "the stack's manifest")
    config = IdentityConfig(
        user_pool_id=props["UserPoolId"], platform=props["Platform"], stage=props["Stage"],
        account_id=props["AccountId"], identity_pool_id=props["IdentityPoolId"], bucket=props["Bucket"],
    )  # fmt: skip
    identity = IdentityProvisioner(aws.client("cognito-idp", settings), aws.client("iam", settings), config)
    connect = connector(settings.require_database_url())
    report = sync_apps(connect, manifest.apps, identity=identity)
    if not report.ok:  # CloudFormation shows this and rolls the deploy back
        raise RuntimeError(f"provisioning failed: {report.failed}")
    sync_integrations(connect, manifest.integrations)
    clients = _clients(connect, [app.slug for app in manifest.apps])
    register_app_clients(
        aws.client("cognito-identity", settings), props["IdentityPoolId"], props["UserPoolProvider"],
        list(clients.values()),
    )  # fmt: skip
    return {f"Client.{slug}": client for slug, client in clients.items()}


def _clients(connect: Any, slugs: list[str]) -> dict[str, str]:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT slug, client_id FROM integreat.app_clients WHERE slug = ANY(%s)", (slugs,))
            found = {str(slug): str(client) for slug, client in cur.fetchall()}
    finally:
        conn.close()
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise RuntimeError(f"no app client recorded for {', '.join(missing)}")
    return found
