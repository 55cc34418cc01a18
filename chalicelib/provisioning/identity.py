"""Apply the manifest to Cognito and IAM (boto3; moto locally, AWS in production), idempotently.

Per app: the membership group `<slug>` and a group per other role (`<slug>-<role>`), each carrying
the app's IAM role; a public app client whose Read/WriteAttributes are explicit, so no user can
write anything that decides membership (membership is groups, which only admins and our triggers
change); the app's IAM role (a stub with a trust policy until the storage issue adds policies).
Every step reads before it writes and converges drift, so a re-run is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.apps.manifest import AppSpec
from chalicelib.identity.names import ADMIN_GROUP, BASE_ROLE, app_client_name, app_iam_role_name, role_group
from chalicelib.storage.iam import POLICY_NAME, app_storage_policy

#: What a user may read and write about themselves through an app client. Nothing custom and
#: nothing that decides membership: those are groups, never attributes.
READ_ATTRIBUTES = [
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "locale",
    "zoneinfo",
    "updated_at",
]
WRITE_ATTRIBUTES = ["email", "name", "preferred_username", "locale", "zoneinfo", "updated_at"]


class IdentityProvisioningError(Exception):
    """Cognito or IAM refused a provisioning step; the message names the app and the step."""


@dataclass(frozen=True)
class IdentityConfig:
    user_pool_id: str
    platform: str
    stage: str
    account_id: str
    identity_pool_id: str | None = None
    password_auth: bool = False  # ALLOW_USER_PASSWORD_AUTH: the local platform and CLI only
    bucket: str | None = None  # when set, the app's role gets its folder of this bucket


@dataclass(frozen=True)
class AppIdentity:
    slug: str
    client_id: str
    role_arn: str
    role_id: str  # IAM's unique id (AROA...): how S3 events and SQS name the role


def client_settings(config: IdentityConfig) -> dict[str, Any]:
    flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    if config.password_auth:
        flows.append("ALLOW_USER_PASSWORD_AUTH")
    return {
        "ExplicitAuthFlows": flows,
        "ReadAttributes": READ_ATTRIBUTES,
        "WriteAttributes": WRITE_ATTRIBUTES,
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
        "SupportedIdentityProviders": ["COGNITO"],
        "AccessTokenValidity": 60,
        "IdTokenValidity": 60,
        "RefreshTokenValidity": 30,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
    }


SERVICE_POLICY_NAME = "integreat-service-routes"


def service_routes_policy(account_id: str) -> dict[str, Any]:
    """The app's backend may call the API's `/service/...` routes (IAM-authorized) and nothing
    else there; which app's resources it reaches is decided by the route policies. A user's
    identity-pool session of the same role is refused as a service (identity/services.py)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServiceRoutes",
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": f"arn:aws:execute-api:*:{account_id}:*/*/*/service/*",
            }
        ],
    }


def trust_policy(config: IdentityConfig) -> dict[str, Any]:
    """Who may assume an app's role: the platform account (the app's backend, via its own
    principal's policy) and, once the identity pool exists, only *its* authenticated users."""
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{config.account_id}:root"},
            "Action": "sts:AssumeRole",
        }
    ]
    if config.identity_pool_id:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": config.identity_pool_id},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


class IdentityProvisioner:
    """`cognito` and `iam` are boto3 clients (moto's endpoint locally)."""

    def __init__(self, cognito: Any, iam: Any, config: IdentityConfig) -> None:
        self._cognito = cognito
        self._iam = iam
        self.config = config

    def ensure_platform(self) -> None:
        self._ensure_group(ADMIN_GROUP, "Integreat platform administrators", None, precedence=0)

    def provision(self, app: AppSpec) -> AppIdentity:
        role_arn, role_id = self._step(app, "IAM role", self._ensure_role, app)
        for role in app.roles:
            group = role_group(app.slug, role)
            description = f"{app.name}: members" if role == BASE_ROLE else f"{app.name}: {role}"
            self._step(app, f"group {group}", self._ensure_group, group, description, role_arn)
        client_id = self._step(app, "app client", self._ensure_client, app)
        return AppIdentity(app.slug, client_id, role_arn, role_id)

    def _step(self, app: AppSpec, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise IdentityProvisioningError(f"app {app.slug!r}: {what}: {exc}") from exc

    def _ensure_role(self, app: AppSpec) -> tuple[str, str]:
        name = app_iam_role_name(self.config.platform, self.config.stage, app.slug)
        policy = json.dumps(trust_policy(self.config))
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except self._iam.exceptions.NoSuchEntityException:
            role = self._iam.create_role(
                RoleName=name,
                Path=f"/{self.config.platform}/",
                AssumeRolePolicyDocument=policy,
                Description=f"Integreat app {app.slug} ({self.config.stage})",
                Tags=[
                    {"Key": "integreat:app", "Value": app.slug},
                    {"Key": "integreat:stage", "Value": self.config.stage},
                ],
            )["Role"]
        else:
            self._iam.update_assume_role_policy(RoleName=name, PolicyDocument=policy)
        if self.config.bucket:
            self._iam.put_role_policy(
                RoleName=name,
                PolicyName=POLICY_NAME,
                PolicyDocument=json.dumps(app_storage_policy(self.config.bucket, app.slug)),
            )
        self._iam.put_role_policy(
            RoleName=name,
            PolicyName=SERVICE_POLICY_NAME,
            PolicyDocument=json.dumps(service_routes_policy(self.config.account_id)),
        )
        return str(role["Arn"]), str(role["RoleId"])

    def _ensure_group(self, name: str, description: str, role_arn: str | None, precedence: int = 10) -> None:
        params: dict[str, Any] = {"GroupName": name, "UserPoolId": self.config.user_pool_id}
        params |= {"Description": description, "Precedence": precedence}
        if role_arn:
            params["RoleArn"] = role_arn
        try:
            self._cognito.get_group(GroupName=name, UserPoolId=self.config.user_pool_id)
        except self._cognito.exceptions.ResourceNotFoundException:
            self._cognito.create_group(**params)
        else:
            self._cognito.update_group(**params)

    def _ensure_client(self, app: AppSpec) -> str:
        name = app_client_name(app.slug)
        settings = client_settings(self.config)
        existing = self._find_client(name)
        if existing is None:
            created = self._cognito.create_user_pool_client(
                UserPoolId=self.config.user_pool_id, ClientName=name, GenerateSecret=False, **settings
            )
            return str(created["UserPoolClient"]["ClientId"])
        self._cognito.update_user_pool_client(
            UserPoolId=self.config.user_pool_id, ClientId=existing, ClientName=name, **settings
        )
        return existing

    def _find_client(self, name: str) -> str | None:
        found = next((c["ClientId"] for c in self._clients() if c["ClientName"] == name), None)
        return None if found is None else str(found)

    def stale_clients(self, recorded: Iterable[str]) -> set[str]:
        """Of the client ids a registry `recorded`, those the pool no longer has: a pool that
        came back without them (the local platform after a crash, issue 14) leaves dead ids that
        tools would pick first; the caller drops them, the live ones being recorded by `provision`.
        An empty pool proves nothing (a wrong pool id), so then nothing is called stale."""
        live = {str(c["ClientId"]) for c in self._clients()}
        return set(recorded) - live if live else set()

    def _clients(self) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = self._cognito.list_user_pool_clients(
                UserPoolId=self.config.user_pool_id, MaxResults=60, **extra
            )
            yield from page.get("UserPoolClients", [])
            token = page.get("NextToken")
            if not token:
                return


def register_app_clients(cognito_identity: Any, identity_pool_id: str, user_pool_provider: str,
                         client_ids: list[str]) -> None:  # fmt: skip
    """Make the identity pool accept tokens of every app client (and only those): the token
    role mapping (the stack's role attachment) then picks each user's `cognito:preferred_role`.
    Idempotent: the provider list is written whole, in a stable order."""
    pool = cognito_identity.describe_identity_pool(IdentityPoolId=identity_pool_id)
    wanted = [
        {"ProviderName": user_pool_provider, "ClientId": client, "ServerSideTokenCheck": True}
        for client in sorted(set(client_ids))
    ]
    if pool.get("CognitoIdentityProviders") == wanted:
        return
    cognito_identity.update_identity_pool(
        IdentityPoolId=identity_pool_id,
        IdentityPoolName=pool["IdentityPoolName"],
        AllowUnauthenticatedIdentities=False,
        AllowClassicFlow=False,
        CognitoIdentityProviders=wanted,
    )
