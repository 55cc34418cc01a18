"""One stack per stage: the data plane, the user pool, the Chalice app with a role per function,
the grants between them, and the outputs a plain `chalice deploy` needs."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from chalicelib.tenancy.manifest import Manifest
from integreat.infra import data
from integreat.infra.api import Api, api
from integreat.infra.hosting import Frontends
from integreat.infra.identity import Identity, identity
from integreat.infra.monitoring import function_names, monitoring
from integreat.infra.nag import suppress
from integreat.infra.provisioning import provisioning
from integreat.infra.stages import Stage


class PlatformStack(cdk.Stack):
    """`manifest_file`: the file `manifest` was read from, which the stack ships as an S3 asset."""

    def __init__(self, scope: Construct, stage: Stage, manifest: Manifest, manifest_file: Path) -> None:
        env = cdk.Environment(account=stage.account, region=stage.region)
        # The construct id is the stage: the Chalice construct takes its stage name from it.
        super().__init__(scope, stage.name, stack_name=stage.prefix, env=env,
                         description=f"Integreat platform, stage {stage.name}")  # fmt: skip
        queues = data.queues(self, stage)
        bucket = data.bucket(self, stage, queues.storage, [a.frontend for a in manifest.apps])
        secrets = data.secrets(self, stage, manifest.integrations, manifest.cells)
        users = identity(self, stage)
        app = api(self, stage, users.user_pool, bucket.bucket_name, queues, secrets)
        console = ",".join(manifest.console.allowed_origins(local=False))  # https only, as apps' origins
        app.chalice.add_environment_variable("INTEGREAT_CONSOLE_ORIGINS", console, "APIHandler")
        _grant(app, stage, users, bucket, queues, secrets)
        data.admit_app_buckets(queues.storage, stage)
        apps = provisioning(self, stage, app, users, bucket.bucket_name, queues.storage.queue_arn, secrets,
                            manifest_file)  # fmt: skip
        Frontends(self, "Frontends", stage, manifest, users, bucket.bucket_name, app.url, apps)
        _outputs(self, app, users, bucket.bucket_name, queues, secrets)
        monitoring(self, stage, function_names(app), queues)  # issue 19: nothing per app
        suppress(self)


def _grant(
    app: Api, stage: Stage, users: Identity, bucket: s3.Bucket, queues: data.Queues, secrets: data.Secrets
) -> None:
    roles = app.roles
    pool_arn = users.user_pool.user_pool_arn
    roles["api_handler"].add_to_policy(
        iam.PolicyStatement(
            sid="MembersAndFigures",
            actions=[
                "cognito-idp:AdminAddUserToGroup",
                "cognito-idp:AdminRemoveUserFromGroup",
                "cognito-idp:AdminListGroupsForUser",
                "cognito-idp:ListUsersInGroup",
                "cognito-idp:AdminGetUser",
                "cognito-idp:ListUsers",
                "cognito-idp:GetGroup",
            ],
            resources=[pool_arn],
        )
    )
    # The shared bucket's keys, and those of the stage's dedicated buckets (issue 16: an app's
    # own, `<platform>-<stage>-app-*`, made by the provisioner; chalicelib/storage/placement.py).
    objects = [bucket.arn_for_objects("*"), data.app_buckets(stage, "/*")]
    # Presigned uploads and downloads are signed with the API's role: it needs what it signs.
    roles["api_handler"].add_to_policy(
        iam.PolicyStatement(sid="SignFileUrls", actions=["s3:PutObject", "s3:GetObject"], resources=objects)
    )
    # Direct storage access: the API vends an app's credentials (POST /apps/{app}/storage/credentials,
    # AssumeRole of the app's role with a session policy and tags); this stage's app roles only.
    roles["api_handler"].add_to_policy(
        iam.PolicyStatement(
            sid="VendAppCredentials",
            actions=["sts:AssumeRole", "sts:TagSession"],
            resources=[app_roles(stage)],
        )
    )
    queues.events.grant_send_messages(roles["api_handler"])
    for queue in queues:  # /admin/apps reads queue depths
        queue.grant(roles["api_handler"], "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
    for secret in secrets.integrations.values():
        secret.grant_read(roles["api_handler"])
    # Triggers may not name the pool they belong to (a cycle): the account's pools, one action.
    any_pool = cdk.Fn.sub("arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*")
    for name in ("post_confirmation", "pre_token_generation"):
        roles[name].add_to_policy(
            iam.PolicyStatement(
                sid="EnrolMembers", actions=["cognito-idp:AdminAddUserToGroup"], resources=[any_pool]
            )
        )
    consumer = roles["on_storage_event"]
    # HeadObject (GetObject) when a rule needs the type or uploader; quarantine is copy, then delete.
    consumer.add_to_policy(
        iam.PolicyStatement(
            sid="CheckAndMove", actions=["s3:GetObject", "s3:DeleteObject"], resources=objects
        )
    )
    quarantine = [bucket.arn_for_objects("_quarantine/*"), data.app_buckets(stage, "/_quarantine/*")]
    consumer.add_to_policy(
        iam.PolicyStatement(sid="Quarantine", actions=["s3:PutObject"], resources=quarantine)
    )
    queues.storage.grant_consume_messages(roles["on_storage_event"])
    queues.events.grant_consume_messages(roles["on_cross_app_event"])


def app_roles(stage: Stage) -> str:
    """This stage's app roles: path `/<platform>/`, named `<platform>-<stage>-app-<slug>`
    (chalicelib/identity/names.py `app_iam_role_name`)."""
    return f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/{stage.platform}/{stage.prefix}-app-*"


def _outputs(
    stack: cdk.Stack, app: Api, users: Identity, bucket_name: str, queues: data.Queues, secrets: data.Secrets
) -> None:
    """Everything `.chalice/config.json` needs (`integreat stage-config` writes them there). Nothing
    per app: the app clients are SSM parameters (CloudFormation takes 200 outputs a stack)."""
    values = {
        "UserPoolId": users.user_pool.user_pool_id,
        "BucketName": bucket_name,
        "EventsQueueName": queues.events.queue_name,
        "StorageQueueName": queues.storage.queue_name,
        "RuntimeDatabaseSecretArn": secrets.runtime_url.secret_arn,
        "OperatorDatabaseSecretArn": secrets.operator_url.secret_arn,
        "ApiRoleId": app.roles["api_handler"].role_id,
        "ApiUrl": app.url,
        "Region": stack.region,
    }
    for name, value in values.items():
        cdk.CfnOutput(stack, name, value=value)
