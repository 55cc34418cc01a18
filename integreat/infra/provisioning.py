"""The provisioner as a custom resource (`chalicelib/provisioning/deploy.py`), and the identity
pool's token-based role mapping that names the app clients it answers.

Its properties carry the manifest, so a manifest change is a resource update on the next deploy:
the provisioner runs, adds what is new, and changes nothing else (it is idempotent).
"""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from integreat.infra.api import Api
from integreat.infra.data import Secrets, reference
from integreat.infra.identity import Identity
from integreat.infra.stages import Stage, StageError

#: SetIdentityPoolRoles / the role attachment take at most 10 role mappings, one per app client.
MAX_ROLE_MAPPINGS = 10


def check_role_mappings(slugs: tuple[str, ...]) -> None:
    """Refuse, at synthesis, a manifest the identity pool cannot map (CloudFormation would fail
    mid-deploy instead)."""
    if len(slugs) > MAX_ROLE_MAPPINGS:
        raise StageError(
            f"{len(slugs)} apps, but an identity pool maps at most {MAX_ROLE_MAPPINGS} app clients to their"
            " roles (Cognito's limit on role mappings): the identity pool serves only direct S3 access,"
            " which presigned URLs from the API already give every app; see docs/architecture.md"
        )


def provisioning(
    scope: Construct, stage: Stage, app: Api, users: Identity, bucket_name: str, secrets: Secrets,
    manifest_text: str, slugs: tuple[str, ...],
) -> cdk.CustomResource:  # fmt: skip
    check_role_mappings(slugs)
    role = app.roles["provision"]
    _grant(role, stage, users)
    operator_url = reference(secrets.operator_url)
    app.chalice.add_environment_variable("INTEGREAT_DATABASE_URL", operator_url, "Provision")
    provider = cr.Provider(scope, "Provisioner", on_event_handler=app.chalice.get_function("Provision"))
    apps = cdk.CustomResource(
        scope, "Apps", service_token=provider.service_token, resource_type="Custom::IntegreatApps",
        properties={
            "Manifest": manifest_text,
            "ManifestSha256": hashlib.sha256(manifest_text.encode()).hexdigest(),
            "Platform": stage.platform, "Stage": stage.name, "AccountId": cdk.Aws.ACCOUNT_ID,
            "UserPoolId": users.user_pool.user_pool_id, "UserPoolProvider": users.user_pool.user_pool_provider_name,
            "IdentityPoolId": users.identity_pool.ref, "Bucket": bucket_name,
        },
    )  # fmt: skip
    cognito.CfnIdentityPoolRoleAttachment(
        scope, "IdentityRoles", identity_pool_id=users.identity_pool.ref,
        roles={"authenticated": users.fallback_role.role_arn},
        # One mapping per app client: the role is the token's cognito:preferred_role (the app's
        # role, set by pre token generation); a token that names none or several gets nothing.
        role_mappings={
            slug: cognito.CfnIdentityPoolRoleAttachment.RoleMappingProperty(
                type="Token", ambiguous_role_resolution="Deny",
                identity_provider=cdk.Fn.join(
                    ":", [users.user_pool.user_pool_provider_name, apps.get_att_string(f"Client.{slug}")]
                ),
            )
            for slug in slugs
        },
    )  # fmt: skip
    return apps


def _grant(role: iam.Role, stage: Stage, users: Identity) -> None:
    app_roles = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/{stage.platform}/*"
    identity_pool = (
        f"arn:{cdk.Aws.PARTITION}:cognito-identity:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        f":identitypool/{users.identity_pool.ref}"
    )
    for sid, actions, resources in (
        ("AppGroupsAndClients", ["cognito-idp:CreateGroup", "cognito-idp:GetGroup", "cognito-idp:UpdateGroup",
                                 "cognito-idp:CreateUserPoolClient", "cognito-idp:UpdateUserPoolClient",
                                 "cognito-idp:ListUserPoolClients"], [users.user_pool.user_pool_arn]),
        ("AppRoles", ["iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                      "iam:PutRolePolicy"], [app_roles]),
        ("AppClientsInTheIdentityPool", ["cognito-identity:DescribeIdentityPool",
                                         "cognito-identity:UpdateIdentityPool"], [identity_pool]),
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
