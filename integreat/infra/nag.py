"""cdk-nag suppressions: each names the rule, the resource (and for IAM5 the exact finding), and
why this resource is right. Nothing is suppressed stack-wide.

The Chalice functions arrive as SAM resources, which cdk-nag does not inspect; their roles are
ours (`api.py`), so cdk-nag checks those, and tests/infra asserts their policies.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import NagPackSuppression, NagSuppressions

FUNCTION_ROLES = ("ApiHandlerRole", "PreSignUpRole", "PostConfirmationRole", "PreTokenGenerationRole",
                  "OnStorageEventRole", "OnCrossAppEventRole", "ProvisionRole")  # fmt: skip
LOGS = {
    "regex": "/^Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:\\/aws\\/lambda\\/\\*$/g"
}
OBJECTS = {"regex": "/^Resource::<Files[0-9A-F]+\\.Arn>\\/\\*$/g"}
QUARANTINE = {"regex": "/^Resource::<Files[0-9A-F]+\\.Arn>\\/_quarantine\\/\\*$/g"}
#: The stage's dedicated app buckets (issue 16), `<platform>-<stage>-app-*`, and their keys.
APP_BUCKETS = {"regex": "/^Resource::arn:<AWS::Partition>:s3:::[a-z][a-z0-9-]*-app-\\*$/g"}
APP_BUCKET_OBJECTS = {"regex": "/^Resource::arn:<AWS::Partition>:s3:::[a-z][a-z0-9-]*-app-\\*\\/\\*$/g"}
APP_BUCKET_QUARANTINE = {
    "regex": "/^Resource::arn:<AWS::Partition>:s3:::[a-z][a-z0-9-]*-app-\\*\\/_quarantine\\/\\*$/g"
}
APP_ROLES = {
    "regex": "/^Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role\\/[a-z][a-z0-9-]*\\/\\*$/g"
}
#: This stage's app roles, which the API assumes to vend an app's storage credentials.
STAGE_APP_ROLES = {
    "regex": "/^Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role\\/[a-z][a-z0-9-]*\\/[a-z][a-z0-9-]*-app-\\*$/g"
}
CLIENT_ID_PARAMETERS = {
    "regex": "/^Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter\\/[a-z][a-z0-9-]*\\/[a-z]+\\/apps\\/\\*$/g"
}
PROVISION_VERSIONS = {"regex": "/^Resource::<Provision(Complete)?\\.Arn>:\\*$/g"}
FRAMEWORK_VERSIONS = {
    "regex": "/^Resource::<Provisionerframework(isComplete|onTimeout)[0-9A-F]+\\.Arn>:\\*$/g"
}
BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ANY_POOL = "Resource::arn:<AWS::Partition>:cognito-idp:<AWS::Region>:<AWS::AccountId>:userpool/*"


def suppress(stack: cdk.Stack) -> None:
    path = f"/{stack.node.path}"
    _on(
        stack,
        f"{path}/Users/Resource",
        "AwsSolutions-COG8",
        "The Essentials feature plan by decision: it is the plan V2_0 pre token generation needs;"
        " Plus (threat protection) is priced per user and can be switched on per stage later.",
    )
    if stack.node.try_find_child("AccessLogs") is None:
        _on(
            stack,
            f"{path}/Files/Resource",
            "AwsSolutions-S1",
            "This stage keeps no access logs (stages.<name>.bucket_versioning = false: dev, whose"
            " files are test data); prod logs every request to its AccessLogs bucket.",
        )
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            _on(
                stack,
                f"{path}/{child.node.id}/Role/Resource",
                "AwsSolutions-IAM4",
                "CDK's own handler that writes the bucket's notification configuration at deploy;"
                " AWSLambdaBasicExecutionRole only lets it write its logs.",
                ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            )
    for role in FUNCTION_ROLES:
        _on(
            stack,
            f"{path}/{role}/DefaultPolicy/Resource",
            "AwsSolutions-IAM5",
            "CloudWatch Logs of Lambda functions in this account and region: Lambda names each"
            " function's log group at deploy, after this policy exists.",
            [LOGS],
        )
    for role in ("PostConfirmationRole", "PreTokenGenerationRole"):
        _on(
            stack,
            f"{path}/{role}/DefaultPolicy/Resource",
            "AwsSolutions-IAM5",
            "userpool/* of this account and region: the trigger belongs to the pool, and naming the"
            " pool's ARN would be a CloudFormation cycle; one action (AdminAddUserToGroup), and only"
            " the pool may invoke the function (its Lambda permission's source ARN).",
            [ANY_POOL],
        )
    _on(
        stack,
        f"{path}/ApiHandlerRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "Get/Put on the platform bucket's keys and on those of this stage's dedicated app buckets"
        " (<platform>-<stage>-app-*, made by the provisioner, names unknown to the template): the API"
        " signs upload and download URLs for any app folder after its own per-app folder check"
        " (chalicelib/storage/rules.py).",
        [OBJECTS, APP_BUCKET_OBJECTS],
    )
    _on(
        stack,
        f"{path}/OnStorageEventRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "The storage consumer inspects and quarantines uploads of every app folder, in the platform"
        " bucket and in this stage's dedicated app buckets (<platform>-<stage>-app-*); it may write"
        " only under _quarantine/.",
        [OBJECTS, QUARANTINE, APP_BUCKET_OBJECTS, APP_BUCKET_QUARANTINE],
    )

    _on(
        stack,
        f"{path}/ApiHandlerRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "AssumeRole and TagSession of this stage's app roles (role/<platform>/<platform>-<stage>-app-*):"
        " the API vends an app's storage credentials with a session policy, after its own per-app"
        " check; the provisioner creates one role per app at deploy, unknown to the template.",
        [STAGE_APP_ROLES],
    )
    _on(
        stack,
        f"{path}/ProvisionRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "The app roles under the platform's IAM path (role/<platform>/*), one per manifest app made at"
        " deploy, their client-id parameters (parameter/<platform>/<stage>/apps/*) and the buckets of"
        " apps with storage of their own (<platform>-<stage>-app-*, bucket settings only, no object"
        " or delete action): names not known to the template; PassRole of the roles is allowed to"
        " Cognito only.",
        [APP_ROLES, CLIENT_ID_PARAMETERS, APP_BUCKETS],
    )
    _provider(stack, f"{path}/Provisioner")


def _provider(stack: cdk.Stack, path: str) -> None:
    """CDK's Provider framework (custom_resources.Provider), as CDK writes it."""
    for name in ("onEvent", "isComplete", "onTimeout"):
        _on(
            stack,
            f"{path}/framework-{name}/ServiceRole/Resource",
            "AwsSolutions-IAM4",
            f"CDK's Provider framework function {name} (it relays CloudFormation's custom resource"
            " events to the provisioner): AWSLambdaBasicExecutionRole lets it write its own logs.",
            [BASIC_EXECUTION],
        )
        _on(
            stack,
            f"{path}/framework-{name}/ServiceRole/DefaultPolicy/Resource",
            "AwsSolutions-IAM5",
            f"Invoke of the provisioner's two functions' versions and aliases (<arn>:*) by framework-{name},"
            " as the Provider framework grants it; no other function.",
            [PROVISION_VERSIONS],
        )
    _on(
        stack,
        f"{path}/waiter-state-machine/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "The Provider's waiter invokes the framework's isComplete and onTimeout functions (<arn>:*);"
        " its log delivery actions (logs:CreateLogDelivery and the like) take no resource ARN.",
        [FRAMEWORK_VERSIONS, "Resource::*"],
    )
    _on(
        stack,
        f"{path}/waiter-state-machine/Resource",
        "AwsSolutions-SF2",
        "The waiter only calls isComplete until the provisioner is done; every execution event is"
        " logged (level ALL) and the provisioner's own work is in its functions' logs.",
    )


def _on(stack: cdk.Stack, path: str, rule: str, reason: str, applies_to: list[Any] | None = None) -> None:
    NagSuppressions.add_resource_suppressions_by_path(
        stack, path, [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)]
    )
