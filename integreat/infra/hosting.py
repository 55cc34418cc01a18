"""Amplify Hosting for every app that declares a frontend (`[apps.<slug>.frontend]`): an
`AWS::Amplify::App` and a `Branch` per app (and a `Domain` when it names one).

The apps live in nested stacks, each app in the shard its slug hashes to: a stack holds at most
500 resources and 200 parameters, and an app never moves between shards when others are added or
removed (moving would replace its Amplify app, and with it its default domain).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html

Each app's client id is an SSM parameter the provisioner writes (`client_id_parameter`), read
by its shard as an `AWS::SSM::Parameter::Value<String>` parameter: resolved when the shard
deploys, which is after the provisioner (each shard depends on it). Not a `{{resolve:ssm:...}}`
reference: a template takes at most 60 of those, and a shard's repository tokens already are.

By default a branch takes manual (zip) deployments; a frontend that names a repository is built
by Amplify from it, with the access token read from Secrets Manager at deploy (never in the
template) and the app's `amplify_outputs.json` in the build's environment (AMPLIFY_OUTPUTS).
"""

from __future__ import annotations

import zlib

import aws_cdk as cdk
from aws_cdk import aws_amplify as amplify
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from chalicelib.frontends.model import FrontendSpec
from chalicelib.provisioning.deploy import client_id_parameter
from chalicelib.tenancy.manifest import AppSpec, Manifest
from integreat.infra.identity import Identity
from integreat.infra.stages import Stage
from integreat.outputs import StageValues, amplify_outputs

#: Never change: an app's shard is crc32(slug) % SHARDS. At 1,000 apps a shard holds about 50
#: (3 resources and 1 parameter each); test_hosting.py checks the worst shard stays in bounds.
SHARDS = 20
#: Single-page apps: every path without a file extension is the app's index.html.
SPA_RULE = amplify.CfnApp.CustomRuleProperty(
    source="</^[^.]+$|\\.(?!(css|gif|ico|jpg|jpeg|js|json|map|png|svg|txt|webp|woff|woff2|ttf)$)([^.]+$)/>",
    target="/index.html",
    status="200",
)
BUILD_SPEC = """version: 1
frontend:
  phases:
    preBuild:
      commands:
        - npm ci
        - printf '%s' "$AMPLIFY_OUTPUTS" > amplify_outputs.json
    build:
      commands:
        - npm run build
  artifacts:
    baseDirectory: dist
    files:
      - '**/*'
  cache:
    paths:
      - node_modules/**/*
"""


def shard(slug: str) -> int:
    """The nested stack an app's frontend lives in: stable, whatever else the manifest holds."""
    return zlib.crc32(slug.encode()) % SHARDS


class Hosting(Construct):
    """Every hosted app's Amplify resources, in nested stacks `Shard<n>`, each deployed after
    `provisioned` (the custom resource that writes the client ids the shard reads). `values`
    are the stage's shared ones; each app's client comes from its parameter."""

    def __init__(
        self, scope: Construct, id: str, stage: Stage, apps: tuple[AppSpec, ...], values: StageValues,
        provisioned: Construct,
    ) -> None:  # fmt: skip
        super().__init__(scope, id)
        shards: dict[int, cdk.NestedStack] = {}
        for app in (a for a in apps if is_hosted(a)):
            index = shard(app.slug)
            if index not in shards:
                shards[index] = cdk.NestedStack(
                    self, f"Shard{index}", description=f"Integreat {stage.name}: app frontends, shard {index}"
                )
                shards[index].node.add_dependency(provisioned)
            parameter = client_id_parameter(stage.platform, stage.name, app.slug)
            client = ssm.StringParameter.value_for_string_parameter(shards[index], parameter)
            hosted_app(shards[index], stage, app, app.frontend, values._replace(clients={app.slug: client}))


class Frontends(Construct):
    """What the platform stack adds for app frontends: Amplify Hosting for the apps that declare
    one. Nothing per app in the root stack (CloudFormation takes 200 outputs a stack)."""

    def __init__(
        self, scope: Construct, id: str, stage: Stage, manifest: Manifest, users: Identity, bucket_name: str,
        api_url: str, provisioned: cdk.CustomResource,
    ) -> None:  # fmt: skip
        super().__init__(scope, id)
        region = cdk.Stack.of(self).region
        values = StageValues(stage.name, region, users.user_pool.user_pool_id, bucket_name, api_url, {})
        Hosting(self, "Hosting", stage, manifest.apps, values, provisioned)
        if manifest.console.origins:
            hosted_console(self, stage)


def hosted_console(scope: Construct, stage: Stage) -> None:
    """The admin console's Amplify app and branch, in a nested stack of its own: one per stage,
    whatever the number of apps. Manual deployments: its `console_outputs.json` names every app's
    client (`integreat outputs --console`), which no template could carry at 1,000 apps."""
    nested = cdk.NestedStack(scope, "Console", description=f"Integreat {stage.name}: the admin console")
    hosted = amplify.CfnApp(
        nested, "ConsoleApp", name=f"{stage.prefix}-console", platform="WEB",
        description=f"Integreat admin console ({stage.name})", custom_rules=[SPA_RULE],
        tags=[cdk.CfnTag(key="integreat:app", value="-"), cdk.CfnTag(key="integreat:stage", value=stage.name)],
    )  # fmt: skip
    amplify.CfnBranch(
        nested, "ConsoleBranch", app_id=hosted.attr_app_id, branch_name="main",
        stage="PRODUCTION" if stage.name == "prod" else "DEVELOPMENT", enable_auto_build=False,
    )  # fmt: skip


def is_hosted(app: AppSpec) -> bool:
    """Whether the app declares a frontend (`[apps.<slug>.frontend]` with any key)."""
    return app.frontend != FrontendSpec()


def hosted_app(
    scope: Construct, stage: Stage, app: AppSpec, frontend: FrontendSpec, values: StageValues
) -> None:
    outputs = cdk.Stack.of(scope).to_json_string(amplify_outputs(app, values))
    token = _access_token(frontend)
    hosted = amplify.CfnApp(
        scope, f"{app.slug}App", name=f"{stage.prefix}-{app.slug}", platform="WEB",
        description=f"{app.name} ({stage.name})", custom_rules=[SPA_RULE], build_spec=BUILD_SPEC,
        environment_variables=[
            amplify.CfnApp.EnvironmentVariableProperty(name="AMPLIFY_OUTPUTS", value=outputs),
            amplify.CfnApp.EnvironmentVariableProperty(name="INTEGREAT_APP", value=app.slug),
            amplify.CfnApp.EnvironmentVariableProperty(name="INTEGREAT_STAGE", value=stage.name),
        ],
        tags=[cdk.CfnTag(key="integreat:app", value=app.slug), cdk.CfnTag(key="integreat:stage", value=stage.name)],
        repository=frontend.repository, access_token=token,
    )  # fmt: skip
    branch = amplify.CfnBranch(
        scope, f"{app.slug}Branch", app_id=hosted.attr_app_id, branch_name=frontend.branch,
        stage="PRODUCTION" if stage.name == "prod" else "DEVELOPMENT",
        enable_auto_build=frontend.repository is not None,
    )  # fmt: skip
    if frontend.domain:
        domain = amplify.CfnDomain(
            scope, f"{app.slug}Domain", app_id=hosted.attr_app_id, domain_name=frontend.domain,
            sub_domain_settings=[amplify.CfnDomain.SubDomainSettingProperty(branch_name=frontend.branch, prefix="")],
        )  # fmt: skip
        domain.add_dependency(branch)


def _access_token(frontend: FrontendSpec) -> str | None:
    """None for manual deployments (`aws amplify create-deployment`, then the zip upload)."""
    if frontend.repository is None:
        return None
    if frontend.token_secret is None:
        raise ValueError(
            f"frontend {frontend.repository}: a repository needs token_secret (its access token)"
        )
    # A `{{resolve:secretsmanager:...}}` reference: CloudFormation reads the token at deploy.
    return cdk.SecretValue.secrets_manager(frontend.token_secret).unsafe_unwrap()
