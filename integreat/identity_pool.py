"""The one definition of Integreat's user pool, read by the CDK stack (`integreat/infra/identity.py`)
and by the local platform (`integreat/local/platform.py`), so both stages run the same pool.

No aws_cdk here: the local platform and the tests import it without the CDK installed.

    cognito.create_user_pool(**create_user_pool_kwargs("integreat-local"))
"""

from __future__ import annotations

from typing import Any, NamedTuple


class PasswordPolicy(NamedTuple):
    min_length: int = 12
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_digits: bool = True
    require_symbols: bool = True
    temporary_password_days: int = 3


class PoolDefinition(NamedTuple):
    # E-mail is the username: Cognito then gives each user a generated internal username.
    username_attributes: tuple[str, ...] = ("email",)
    auto_verified_attributes: tuple[str, ...] = ("email",)  # the sign-up code goes by e-mail
    recovery: str = "EMAIL_ONLY"  # a member of CDK's AccountRecovery
    password: PasswordPolicy = PasswordPolicy()
    mfa: str = "OPTIONAL"  # a member of CDK's Mfa
    mfa_otp: bool = True
    mfa_sms: bool = False
    self_sign_up: bool = True  # per app: the pre sign-up trigger refuses invite-only apps
    # Essentials: the plan whose pre token generation takes the V2_0 event (access token claims).
    feature_plan: str = "ESSENTIALS"


POOL = PoolDefinition()

# CDK's AccountRecovery members as the API's RecoveryMechanisms.
RECOVERY = {
    "EMAIL_ONLY": [{"Priority": 1, "Name": "verified_email"}],
    "PHONE_ONLY_WITHOUT_MFA": [{"Priority": 1, "Name": "verified_phone_number"}],
    "EMAIL_AND_PHONE_WITHOUT_MFA": [
        {"Priority": 1, "Name": "verified_email"},
        {"Priority": 2, "Name": "verified_phone_number"},
    ],
    "PHONE_AND_EMAIL": [
        {"Priority": 1, "Name": "verified_phone_number"},
        {"Priority": 2, "Name": "verified_email"},
    ],
    "PHONE_WITHOUT_MFA_AND_EMAIL": [
        {"Priority": 1, "Name": "verified_phone_number"},
        {"Priority": 2, "Name": "verified_email"},
    ],
}


def create_user_pool_kwargs(name: str, pool: PoolDefinition = POOL) -> dict[str, Any]:
    """boto3 `create_user_pool` arguments for this definition (triggers are the stack's: locally
    the Cognito layer fires them; the one-time-password factor is set by SetUserPoolMfaConfig)."""
    policy = pool.password
    return {
        "PoolName": name,
        "UsernameAttributes": list(pool.username_attributes),
        "AutoVerifiedAttributes": list(pool.auto_verified_attributes),
        "AccountRecoverySetting": {"RecoveryMechanisms": RECOVERY[pool.recovery]},
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": policy.min_length,
                "RequireLowercase": policy.require_lowercase,
                "RequireUppercase": policy.require_uppercase,
                "RequireNumbers": policy.require_digits,
                "RequireSymbols": policy.require_symbols,
                "TemporaryPasswordValidityDays": policy.temporary_password_days,
            }
        },
        "MfaConfiguration": pool.mfa,
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": not pool.self_sign_up},
        "UserPoolTier": pool.feature_plan,
    }
