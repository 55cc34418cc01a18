"""The one user pool and the identity pool.

Per-app pieces (groups, app clients, app roles) are the provisioner's (DESIGN decision 7): adding
an app needs no stack change. The identity pool's token-based role mapping names each app client,
so the provisioner writes it as it creates the clients (`set_identity_pool_roles`, Type Token,
AmbiguousRoleResolution Deny); the stack creates the pool and the role every mapping falls back
to, which may do nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from integreat.infra.data import removal
from integreat.infra.stages import Stage


class Identity(NamedTuple):
    user_pool: cognito.UserPool
    identity_pool: cognito.CfnIdentityPool
    fallback_role: iam.Role  # what an identity gets when no app role applies: no permissions


def identity(scope: Construct, stage: Stage) -> Identity:
    pool = cognito.UserPool(
        scope, "Users", user_pool_name=f"{stage.prefix}-users",
        # Essentials: the plan whose pre token generation takes the V2_0 event (access token claims).
        feature_plan=cognito.FeaturePlan.ESSENTIALS,
        self_sign_up_enabled=True,  # per app: the pre sign-up trigger refuses invite-only apps
        sign_in_aliases=cognito.SignInAliases(email=True),
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        password_policy=cognito.PasswordPolicy(
            min_length=12, require_lowercase=True, require_uppercase=True, require_digits=True,
            require_symbols=True, temp_password_validity=cdk.Duration.days(3),
        ),
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
        deletion_protection=stage.retain,
        removal_policy=removal(stage),
    )  # fmt: skip
    identities = cognito.CfnIdentityPool(
        scope, "Identities", identity_pool_name=f"{stage.prefix.replace('-', '_')}_identities",
        allow_unauthenticated_identities=False, allow_classic_flow=False,
    )  # fmt: skip
    fallback = iam.Role(
        scope, "NoAppRole",
        description="Identity pool fallback: an identity no app role applies to gets no permissions",
        assumed_by=iam.FederatedPrincipal(
            "cognito-identity.amazonaws.com",
            conditions={
                "StringEquals": {"cognito-identity.amazonaws.com:aud": identities.ref},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
            assume_role_action="sts:AssumeRoleWithWebIdentity",
        ),
    )  # fmt: skip
    return Identity(pool, identities, fallback)
