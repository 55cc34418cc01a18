"""An app's `amplify_outputs.json` (Amplify Gen 2 outputs, schema version 1.4), from the
manifest and one stage's values: the running local platform, or a deployed stack's outputs and
the app's client id, which the provisioner writes to SSM Parameter Store.

    platform = local_platform(context.running_platform())
    outputs = amplify_outputs(manifest.app("church"), platform)

What Amplify JS reads as on an Amplify backend: `auth` (the shared pool, the app's own client, the
pool's one definition, the app's roles as its Cognito groups) and `storage` (the bucket, the app's
folders as paths with Amplify's access keys). What Amplify has no field for (the API, the local
Cognito endpoint) goes under `custom.integreat`, plus `custom.API` in the shape Amplify's docs give
for an existing REST API (`Amplify.configure({...config, API: {REST: outputs.custom.API}})`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from chalicelib.identity.names import role_group
from chalicelib.storage.model import USER, FolderRule, principals
from chalicelib.tenancy.manifest import AppSpec, Manifest
from integreat.identity_pool import POOL, PoolDefinition

SCHEMA_VERSION = "1.4"
SCHEMA_URL = "https://amplify.aws/2024-02/outputs-schema.json"
STAGES = ("local", "dev", "prod")
#: Amplify's placeholder for the signed-in identity in a storage path (ours: `{user}`).
ENTITY_ID = "{entity_id}"
OWNER_KEY = "entityidentity"  # Amplify: `entity${entityId}`, entityId "identity" (access_builder.ts)
READ = ["get", "list"]  # Amplify expands "read" to these in its outputs (storage_access_orchestrator.ts)
WRITE = ["write"]  # no delete: the API signs uploads and downloads only
API_NAME = "integreat"
#: What a member's frontend calls; `{app}` is the slug.
ROUTES = {
    "me": "/me",
    "uploads": "/apps/{app}/files/uploads",
    "files": "/apps/{app}/files",
    "download": "/apps/{app}/files/download",
    "inbox": "/apps/{app}/inbox",
    "events": "/apps/{app}/events",
    # POST: short-lived S3 credentials narrowed to the caller's folders (an Amplify JS
    # credentials provider; answer: credentials, bucket, region, prefixes)
    "storage_credentials": "/apps/{app}/storage/credentials",
}


class OutputsError(Exception):
    """The outputs cannot be built; the message says what is missing and what to do."""


class StageValues(NamedTuple):
    """One stage's shared resources, wherever they were read from."""

    stage: str
    region: str
    user_pool_id: str
    bucket: str
    api_url: str
    clients: Mapping[str, str]  # slug -> the app's own client id
    cognito_endpoint: str | None = None  # local only: Amplify's `userPoolEndpoint`


def local_values(info: Mapping[str, Any] | None) -> StageValues:
    """The running local platform (`integreat.context.running_platform()`)."""
    if info is None:
        raise OutputsError("the local platform is not running: start it with `make dev`")
    clients = {slug: str(ids[0]) for slug, ids in info["apps"].items() if ids}
    return StageValues(
        "local", info["region"], info["user_pool_id"], info["bucket"], info["api"], clients,
        cognito_endpoint=info["cognito_endpoint"],
    )  # fmt: skip


def stack_values(
    outputs_file: Path, stage: str, manifest: Manifest, slug: str, parameters: Any
) -> StageValues:
    """A deployed stage: its shared resources from what `cdk deploy --outputs-file` wrote (as
    `integreat stage-config`), and `slug`'s client id from its SSM parameter (the stack has no
    output per app). `parameters`: a boto3 SSM client, or a callable of the region making one."""
    from chalicelib.provisioning.deploy import client_id_parameter
    from integreat.infra.stage_config import StageConfigError, stack_outputs

    try:
        outputs = stack_outputs(outputs_file, f"{manifest.platform.name}-{stage}")
    except StageConfigError as exc:
        raise OutputsError(str(exc)) from None
    region = outputs.get("Region", manifest.platform.region)
    clients: dict[str, str] = {}
    if slug in manifest.slugs:
        ssm = parameters(region) if callable(parameters) else parameters
        found = read_parameter(ssm, client_id_parameter(manifest.platform.name, stage, slug))
        clients = {slug: found} if found is not None else {}
    return StageValues(
        stage, region, outputs["UserPoolId"], outputs["BucketName"], outputs.get("ApiUrl", ""), clients
    )


def read_parameter(ssm: Any, name: str) -> str | None:
    """The parameter's value, None when there is none; any other AWS error is an OutputsError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None
    except (ClientError, BotoCoreError) as exc:
        raise OutputsError(f"cannot read SSM parameter {name}: {exc}") from None


def app_of(manifest: Manifest, slug: str, values: StageValues) -> AppSpec:
    """The manifest's app, once the stage has provisioned its client; else a named error."""
    from chalicelib.provisioning.deploy import client_id_parameter

    if slug not in manifest.slugs:
        raise OutputsError(f"no app {slug!r} in {manifest.source}; apps: {', '.join(manifest.slugs)}")
    if slug not in values.clients:
        where = "run `integreat apps sync` or restart `make dev`" if values.stage == "local" else (
            f"redeploy the stage (`integreat deploy --stage {values.stage}`): SSM parameter"
            f" {client_id_parameter(manifest.platform.name, values.stage, slug)} does not exist"
        )  # fmt: skip
        raise OutputsError(f"app {slug!r} has no app client in stage {values.stage}: {where}")
    return manifest.app(slug)


def amplify_outputs(app: AppSpec, values: StageValues, pool: PoolDefinition = POOL) -> dict[str, Any]:
    """The app's `amplify_outputs.json` document."""
    return {
        "$schema": SCHEMA_URL,
        "version": SCHEMA_VERSION,
        "auth": auth_section(app, values, pool),
        "storage": storage_section(app, values),
        "custom": custom_section(app, values),
    }


def auth_section(app: AppSpec, values: StageValues, pool: PoolDefinition = POOL) -> dict[str, Any]:
    """No `identity_pool_id`: the platform has no identity pool (direct storage access is
    credentials the API vends), so Amplify's own Storage category is not for these apps."""
    policy = pool.password
    return {
        "aws_region": values.region,
        "user_pool_id": values.user_pool_id,
        "user_pool_client_id": values.clients[app.slug],
        "password_policy": {
            "min_length": policy.min_length, "require_numbers": policy.require_digits,
            "require_lowercase": policy.require_lowercase, "require_uppercase": policy.require_uppercase,
            "require_symbols": policy.require_symbols,
        },
        "username_attributes": list(pool.username_attributes),
        "standard_required_attributes": list(pool.username_attributes),
        "user_verification_types": list(pool.auto_verified_attributes),
        "unauthenticated_identities_enabled": False,  # the platform has no guest access
        "mfa_configuration": pool.mfa,
        "mfa_methods": [*(["SMS"] if pool.mfa_sms else []), *(["TOTP"] if pool.mfa_otp else [])],
        "groups": [{role_group(app.slug, role): {}} for role in app.roles],
    }  # fmt: skip


def storage_section(app: AppSpec, values: StageValues) -> dict[str, Any]:
    """The app's bucket: the stage's shared one, or its own (`bucket = "dedicated"`); keys
    `<slug>/...` in either, so the paths are the same."""
    from chalicelib.storage.placement import app_bucket

    name = app_bucket(values.bucket, app.slug, app.storage)
    bucket = {
        "name": app.slug,
        "bucket_name": name,
        "aws_region": values.region,
        "paths": {storage_path(app.slug, f): access_rule(app.slug, f) for f in app.storage.folders},
    }
    return {"aws_region": values.region, "bucket_name": name, "buckets": [bucket]}


def storage_path(slug: str, folder: FolderRule) -> str:
    """`uploads/` -> `church/uploads/*`; `private/{user}/` -> `church/private/{entity_id}/*`."""
    return f"{slug}/{folder.path.replace(USER, ENTITY_ID)}*"


def access_rule(slug: str, folder: FolderRule) -> dict[str, list[str]]:
    """Who may do what in the folder, in Amplify's access keys; never `guest`."""
    rule: dict[str, list[str]] = {}
    for actions, access in ((WRITE, folder.write), (READ, folder.read)):
        for principal in principals(access):
            key = _access_key(slug, principal)
            rule[key] = [a for a in (*READ, *WRITE) if a in {*rule.get(key, []), *actions}]
    if folder.per_user:  # the owner of a `{user}` folder may always read it (chalicelib/storage/rules.py)
        rule[OWNER_KEY] = [a for a in (*READ, *WRITE) if a in {*rule.get(OWNER_KEY, []), *READ}]
    return rule


def _access_key(slug: str, principal: str) -> str:
    from chalicelib.storage.spec import MEMBERS, OWNER

    if principal == MEMBERS:
        return "authenticated"
    if principal == OWNER:
        return OWNER_KEY
    return f"groups{role_group(slug, principal)}"  # Amplify: `groups${groupName}` (access_builder.ts)


def custom_section(app: AppSpec, values: StageValues) -> dict[str, Any]:
    api_url = values.api_url.rstrip("/")
    integreat: dict[str, Any] = {
        "app": app.slug,
        "stage": values.stage,
        "api_url": api_url,
        # Every call but /health needs `Authorization: Bearer <access token>` of this app's client.
        "authorization": "Bearer access_token",
        "routes": {name: path.format(app=app.slug) for name, path in ROUTES.items()},
        "folders": [folder.path for folder in app.storage.folders],
    }
    if values.cognito_endpoint:
        integreat["user_pool_endpoint"] = values.cognito_endpoint
    return {
        "integreat": integreat,
        "API": {API_NAME: {"endpoint": api_url, "region": values.region, "apiName": API_NAME}},
    }
