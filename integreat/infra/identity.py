"""The one user pool.

The pool's settings are `integreat/identity_pool.py`'s, which the local platform reads too.

Per-app pieces (groups, app clients, app roles) are the provisioner's (DESIGN decision 7): adding
an app needs no stack change. There is no identity pool: it took one role mapping per app client
(at most 10) and 50 app clients (issue 16); direct storage access is credentials the API vends
instead (`POST /apps/{app}/storage/credentials`: AssumeRole of the app's role).
"""

from __future__ import annotations

from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from integreat.identity_pool import POOL, PasswordPolicy
from integreat.infra.data import removal
from integreat.infra.stages import Stage


class Identity(NamedTuple):
    user_pool: cognito.UserPool


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
    return Identity(pool)
