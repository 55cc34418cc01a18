"""The provisioner as a custom resource (`chalicelib/provisioning/deploy.py`), asynchronous.

The manifest travels as an S3 asset: the properties name its bucket and content-hashed key,
never its text (inline, it took the template past CloudFormation's 1 MB at about 480 apps; 1,000
apps shaped like the shipped manifest are 846 KB), so a manifest change is a resource update on
the next deploy and the provisioner adds what is new (it is idempotent).
CDK's Provider calls `provision` (onEvent) once, then `provision_complete` (isComplete) every
`QUERY_INTERVAL` until every app is applied, for at most `TOTAL_TIMEOUT`: CloudFormation waits
for a custom resource at most an hour (ServiceTimeout 1 to 3600 s).
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from chalicelib.provisioning.deploy import progress_parameter
from integreat.infra.api import Api
from integreat.infra.data import Secrets, app_buckets, reference, removal
from integreat.infra.identity import Identity
from integreat.infra.stages import Stage

#: CloudFormation's ceiling, and CDK's for the Provider's waiter.
TOTAL_TIMEOUT = cdk.Duration.hours(1)
#: The pause between two isComplete calls; each call then works for its budget (about 10 min).
QUERY_INTERVAL = cdk.Duration.seconds(10)


def provisioning(
    scope: Construct, stage: Stage, app: Api, users: Identity, bucket_name: str, storage_queue_arn: str,
    secrets: Secrets, manifest_file: Path,
) -> cdk.CustomResource:  # fmt: skip
    manifest = s3_assets.Asset(scope, "Manifest", path=str(manifest_file))
    _grant(app.roles["provision"], stage, users, manifest)
    _grant_app_buckets(app.roles["provision"], stage)
    operator_url = reference(secrets.operator_url)
    for logical in ("Provision", "ProvisionComplete"):
        app.chalice.add_environment_variable("INTEGREAT_DATABASE_URL", operator_url, logical)
        for cell in secrets.cells.values():  # each other cell's operator, where the manifest says
            app.chalice.add_environment_variable(cell.url_env, reference(cell.operator_url), logical)
    waiter_logs = logs.LogGroup(
        scope,
        "ProvisionerWaiterLogs",
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=removal(stage),
    )
    provider = cr.Provider(
        scope, "Provisioner", on_event_handler=app.chalice.get_function("Provision"),
        is_complete_handler=app.chalice.get_function("ProvisionComplete"),
        query_interval=QUERY_INTERVAL, total_timeout=TOTAL_TIMEOUT,
        disable_waiter_state_machine_logging=False,
        waiter_state_machine_log_options=cr.LogOptions(destination=waiter_logs, level=sfn.LogLevel.ALL),
    )  # fmt: skip
    return cdk.CustomResource(
        scope, "Apps", service_token=provider.service_token, resource_type="Custom::IntegreatApps",
        service_timeout=TOTAL_TIMEOUT,
        properties={
            "ManifestBucket": manifest.s3_bucket_name, "ManifestKey": manifest.s3_object_key,
            "Platform": stage.platform, "Stage": stage.name, "AccountId": cdk.Aws.ACCOUNT_ID,
            "UserPoolId": users.user_pool.user_pool_id, "Bucket": bucket_name,
            # Apps with a bucket of their own (chalicelib/provisioning/storage.py ensure_app_bucket).
            "StorageQueueArn": storage_queue_arn, "BucketVersioning": str(stage.bucket_versioning).lower(),
        },
    )  # fmt: skip


def _grant(role: iam.Role, stage: Stage, users: Identity, manifest: s3_assets.Asset) -> None:
    app_roles = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/{stage.platform}/*"
    parameters = f"arn:{cdk.Aws.PARTITION}:ssm:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:parameter"
    # SSM parameter ARNs drop the name's leading slash.
    progress = f"{parameters}{progress_parameter(stage.platform, stage.name)}"
    for sid, actions, resources in (
        ("AppGroupsAndClients", ["cognito-idp:CreateGroup", "cognito-idp:GetGroup", "cognito-idp:UpdateGroup",
                                 "cognito-idp:CreateUserPoolClient", "cognito-idp:UpdateUserPoolClient",
                                 "cognito-idp:ListUserPoolClients", "cognito-idp:DescribeUserPoolClient"],
         [users.user_pool.user_pool_arn]),
        ("AppRoles", ["iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                      "iam:PutRolePolicy", "iam:GetRolePolicy"], [app_roles]),
        ("TheManifest", ["s3:GetObject"], [manifest.bucket.arn_for_objects(manifest.s3_object_key)]),
        ("AppClientIds", ["ssm:GetParameters", "ssm:PutParameter"],
         [f"{parameters}/{stage.platform}/{stage.name}/apps/*"]),
        ("Progress", ["ssm:GetParameter", "ssm:PutParameter"], [progress]),
    ):  # fmt: skip
        role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
    # A group's role (its members' preferred role) is handed to Cognito: only the app roles, only there.
    role.add_to_policy(
        iam.PolicyStatement(
            sid="AppRolesToCognito",
            actions=["iam:PassRole"],
            resources=[app_roles],
            conditions={"StringEquals": {"iam:PassedToService": "cognito-idp.amazonaws.com"}},
        )
    )


#: What `ensure_app_bucket` calls, on the bucket only (HeadBucket is s3:ListBucket). Never an
#: object action, DeleteBucket or PutBucketAcl: app data leaves only through `integreat apps remove`.
APP_BUCKET_ACTIONS = [
    "s3:CreateBucket", "s3:ListBucket", "s3:GetBucketTagging", "s3:PutBucketTagging",
    "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:PutEncryptionConfiguration",
    "s3:PutBucketPolicy", "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:PutBucketNotification",
    "s3:PutBucketCORS",
]  # fmt: skip


def _grant_app_buckets(role: iam.Role, stage: Stage) -> None:
    """The stage's dedicated app buckets (`<platform>-<stage>-app-*`) and no other bucket."""
    role.add_to_policy(
        iam.PolicyStatement(sid="AppBuckets", actions=APP_BUCKET_ACTIONS, resources=[app_buckets(stage)])
    )
