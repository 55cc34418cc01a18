"""The one user pool and the identity pool.

The pool's settings are `integreat/identity_pool.py`'s, which the local platform reads too.

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

from integreat.identity_pool import POOL, PasswordPolicy
from integreat.infra.data import removal
from integreat.infra.stages import Stage


class Identity(NamedTuple):
    user_pool: cognito.UserPool
    identity_pool: cognito.CfnIdentityPool
    fallback_role: iam.Role  # what an identity gets when no app role applies: no permissions


def _password_policy(policy: PasswordPolicy) -> cognito.PasswordPolicy:
    return cognito.PasswordPolicy(
        min_length=policy.min_length, require_lowercase=policy.require_lowercase,
        require_uppercase=policy.require_uppercase, require_digits=policy.require_digits,
        require_symbols=policy.require_symbols,
        temp_password_validity=cdk.Duration.days(policy.temporary_password_days),
    )  # fmt: skip


def identity(scope: Construct, stage: Stage) -> Identity:
    pool = cognito.UserPool(
        scope, "Users", user_pool_name=f"{stage.prefix}-users",
        feature_plan=getattr(cognito.FeaturePlan, POOL.feature_plan),
        self_sign_up_enabled=POOL.self_sign_up,
        sign_in_aliases=cognito.SignInAliases(
            email="email" in POOL.username_attributes, phone="phone_number" in POOL.username_attributes
        ),
        auto_verify=cognito.AutoVerifiedAttrs(
            email="email" in POOL.auto_verified_attributes, phone="phone_number" in POOL.auto_verified_attributes
        ),
        account_recovery=getattr(cognito.AccountRecovery, POOL.recovery),
        password_policy=_password_policy(POOL.password),
        mfa=getattr(cognito.Mfa, POOL.mfa),
        mfa_second_factor=cognito.MfaSecondFactor(sms=POOL.mfa_sms, otp=POOL.mfa_otp),
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
