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
APP_ROLES = {
    "regex": "/^Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role\\/[a-z][a-z0-9-]*\\/\\*$/g"
}
PROVISION_VERSIONS = {"regex": "/^Resource::<Provision\\.Arn>:\\*$/g"}
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
        "Get/Put on the platform bucket's keys: the API signs upload and download URLs for any app"
        " folder after its own per-app folder check (chalicelib/storage/rules.py).",
        [OBJECTS],
    )
    _on(
        stack,
        f"{path}/OnStorageEventRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "The storage consumer inspects and quarantines uploads of every app folder; it may write"
        " only under _quarantine/.",
        [OBJECTS, QUARANTINE],
    )

    _on(
        stack,
        f"{path}/ProvisionRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "The app roles under the platform's IAM path (role/<platform>/*): the provisioner creates"
        " one per manifest app at deploy, so their names are not known to the template; PassRole"
        " of them is allowed to Cognito only.",
        [APP_ROLES],
    )
    _on(
        stack,
        f"{path}/Provisioner/framework-onEvent/ServiceRole/Resource",
        "AwsSolutions-IAM4",
        "CDK's Provider framework function (it relays CloudFormation's custom resource events to the"
        " provisioner): AWSLambdaBasicExecutionRole lets it write its own logs, nothing else.",
        ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    )
    _on(
        stack,
        f"{path}/Provisioner/framework-onEvent/ServiceRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5",
        "Invoke of the provisioner function's versions and aliases (<arn>:*), as the Provider"
        " framework grants it; no other function.",
        [PROVISION_VERSIONS],
    )


def _on(stack: cdk.Stack, path: str, rule: str, reason: str, applies_to: list[Any] | None = None) -> None:
    NagSuppressions.add_resource_suppressions_by_path(
        stack, path, [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)]
    )
