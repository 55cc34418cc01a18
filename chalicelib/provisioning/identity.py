"""Apply the manifest to Cognito and IAM (boto3; moto locally, AWS in production), idempotently.

Per app: the membership group `<slug>` and a group per other role (`<slug>-<role>`), each carrying
the app's IAM role; a public app client whose Read/WriteAttributes are explicit, so no user can
write anything that decides membership (membership is groups, which only admins and our triggers
change); the app's IAM role (trust policy, its storage folder, the service routes); an app with
dedicated storage, its bucket (provisioning/storage.py), in the same document and fingerprint.

At scale (issue 16, 1,000 apps): all of that is one document, `desired(app)`, whose digest the sync
records once applied and compares next time (chalicelib/provisioning/database.py), so an unchanged
app costs no call at all. A changed app is read resource by resource (its client by the id the
registry holds, not by scanning the pool) and written only where it differs; writes pass a token
bucket below the published rates, and the clients retry adaptively.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.apps.manifest import AppSpec
from chalicelib.identity.names import (
    ADMIN_GROUP,
    BASE_ROLE,
    api_iam_role_name,
    app_client_name,
    app_iam_role_name,
    role_group,
)
from chalicelib.provisioning.storage import AppBuckets, ensure_own_bucket
from chalicelib.settings import Settings
from chalicelib.storage.iam import POLICY_NAME, app_storage_policy
from chalicelib.storage.placement import PlacementError, app_bucket
from chalicelib.tenancy.register import fingerprint

#: What a user may read and write about themselves through an app client. Nothing custom and
#: nothing that decides membership: those are groups, never attributes.
READ_ATTRIBUTES = ["email", "email_verified", "name", "preferred_username", "locale", "zoneinfo",
                   "updated_at"]  # fmt: skip
WRITE_ATTRIBUTES = ["email", "name", "preferred_username", "locale", "zoneinfo", "updated_at"]

#: botocore's adaptive mode: exponential backoff on throttling plus a client-side rate limiter that
#: slows the client down once the service starts throttling (boto3 guide "Retries").
RETRIES = {"mode": "adaptive", "max_attempts": 10}


class IdentityProvisioningError(Exception):
    """Cognito or IAM refused a provisioning step; the message names the app and the step."""


@dataclass(frozen=True)
class IdentityConfig:
    user_pool_id: str
    platform: str
    stage: str
    account_id: str
    password_auth: bool = False  # ALLOW_USER_PASSWORD_AUTH: the local platform and CLI only
    bucket: str | None = None  # when set, the app's role gets its folder of this bucket


@dataclass(frozen=True)
class AppIdentity:
    slug: str
    client_id: str
    role_arn: str
    role_id: str  # IAM's unique id (AROA...): how S3 events and SQS name the role


@dataclass(frozen=True)
class WriteRates:
    """Writes a second the provisioner allows itself per service, in bursts of at most `burst`:
    in any one second at most rate + burst writes go out, which stays under the quotas below.

    Cognito (Developer Guide, "Quotas in Amazon Cognito", API operation categories): CreateGroup
    and UpdateGroup are UserPoolResourceUpdate, Create/UpdateUserPoolClient UserPoolClientUpdate,
    15 RPS each by default, per account and region and shared with whatever else the account
    runs: 10 + 4 = 14 for both together. IAM publishes no figure (AWS Security Blog, "How to
    monitor and query IAM resources at scale - Part 2": a token bucket per API, sizes unpublished),
    so a cautious 5 + 4. The adaptive retries (`RETRIES`) slow down further if either throttles.
    """

    cognito: float = 10.0
    iam: float = 5.0
    burst: float = 4.0


DEFAULT_RATES = WriteRates()


class TokenBucket:
    """At most `rate` takes a second on average, `burst` at once; thread-safe."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self._rate, self._burst = rate, burst
        self._tokens, self._at = burst, time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            self._tokens -= 1  # reserved now, so concurrent takers queue behind this one
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait:
            time.sleep(wait)


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
ADMIN_GROUP_ATTRIBUTES = {"Description": "Integreat platform administrators", "Precedence": 0}


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
    """Who may assume an app's role: principals of the platform account whose own policy allows
    it (the app's backend; the API, vending a user's storage credentials). There is no identity
    pool: browsers get credentials from the API (chalicelib/storage/credentials.py)."""
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{config.account_id}:root"},
            "Action": "sts:AssumeRole",
        },
        {
            # A session named `<sub>@<slug>` is one the API vended to that user, and the storage
            # consumer attributes its uploads to the user: nobody else may take such a name.
            "Sid": "OnlyTheApiNamesUserSessions",
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{config.account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {"sts:RoleSessionName": "*@*"},
                "ArnNotEquals": {
                    "aws:PrincipalArn": f"arn:aws:iam::{config.account_id}:role/"
                    + api_iam_role_name(config.platform, config.stage)
                },
            },
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def provisioning_clients(settings: Settings) -> tuple[Any, Any]:
    """(cognito-idp, iam) clients of the provisioner's own, with adaptive retries (`RETRIES`);
    the runtime's cached clients (chalicelib/aws.py) keep botocore's defaults."""
    import boto3  # lazy: operator tooling and the provisioner only
    from botocore.config import Config

    config = Config(retries=RETRIES)
    region, endpoint = settings.region, settings.aws_endpoint_url
    cognito, iam = (
        boto3.client(service, region_name=region, endpoint_url=endpoint, config=config)
        for service in ("cognito-idp", "iam")
    )
    return cognito, iam


def _differs(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether any wanted field differs; lists compare as sets (AWS may return them reordered)."""

    def norm(value: Any) -> Any:
        return sorted(value) if isinstance(value, list) else value

    return any(norm(current.get(key)) != norm(value) for key, value in wanted.items())


class IdentityProvisioner:
    """`cognito` and `iam` are boto3 clients (moto's endpoint locally). `rates=None`: no pacing
    (moto). One provisioner serves one sync: its index of the pool's clients is built once."""

    def __init__(
        self, cognito: Any, iam: Any, config: IdentityConfig, *, rates: WriteRates | None = DEFAULT_RATES,
        buckets: AppBuckets | None = None,
    ) -> None:  # fmt: skip
        self._cognito, self._iam, self.config, self.rates = cognito, iam, config, rates
        self._buckets = buckets
        self._paced = {
            "cognito": TokenBucket(rates.cognito, rates.burst) if rates else None,
            "iam": TokenBucket(rates.iam, rates.burst) if rates else None,
        }
        self._client_ids: dict[str, str] | None = None  # ClientName -> ClientId, on first need

    def desired(self, app: AppSpec) -> dict[str, Any]:
        """Everything the app should have in Cognito and IAM, as one JSON-able document."""
        policies = {SERVICE_POLICY_NAME: service_routes_policy(self.config.account_id)}
        if self.config.bucket:
            policies[POLICY_NAME] = app_storage_policy(self._bucket_of(app), app.slug)
        groups = {
            role_group(app.slug, role): {
                "Description": f"{app.name}: members" if role == BASE_ROLE else f"{app.name}: {role}",
                "Precedence": 10,
            }
            for role in app.roles
        }
        role = {
            "name": app_iam_role_name(self.config.platform, self.config.stage, app.slug),
            "trust": trust_policy(self.config),
            "policies": policies,
        }
        client = {"ClientName": app_client_name(app.slug), **client_settings(self.config)}
        wanted: dict[str, Any] = {"config": dataclasses.asdict(self.config), "role": role, "groups": groups, "client": client}  # fmt: skip
        if app.storage.dedicated:  # only then: a shared app's document (and digest) is unchanged
            made = self._buckets and self.config.bucket  # else `provision` refuses the app
            wanted["bucket"] = self._buckets.state(self._bucket_of(app), app) if made else None  # type: ignore[union-attr]
        return wanted

    def _bucket_of(self, app: AppSpec) -> str:
        assert self.config.bucket is not None
        return str(self._step(app, "storage", app_bucket, self.config.bucket, app.slug, app.storage))

    def fingerprint(self, app: AppSpec) -> str:
        return fingerprint(self.desired(app))

    def platform_fingerprint(self) -> str:
        return fingerprint({"pool": self.config.user_pool_id, "admin": ADMIN_GROUP_ATTRIBUTES})

    def ensure_platform(self) -> None:
        self._ensure_group(ADMIN_GROUP, ADMIN_GROUP_ATTRIBUTES)

    def provision(self, app: AppSpec, client_id: str | None = None) -> AppIdentity:
        """Make the app's resources match `desired(app)`; `client_id` is the registry's record of
        its client, looked up directly (the pool is scanned, once, only without one)."""
        want = self.desired(app)
        if "bucket" in want:
            self._step(app, "its own bucket", ensure_own_bucket, self._buckets, want["bucket"])
        role_arn, role_id = self._step(app, "IAM role", self._ensure_role, app, want["role"])
        for group, attributes in want["groups"].items():
            self._step(app, f"group {group}", self._ensure_group, group, attributes | {"RoleArn": role_arn})
        client = self._step(app, "app client", self._ensure_client, want["client"], client_id)
        return AppIdentity(app.slug, client, role_arn, role_id)

    def role_is(self, slug: str, role_id: str) -> bool:
        """Whether the app's IAM role still exists with this id (one GetRole): the sync's check
        that IAM was not reset under a registry that remembers it (the local platform's moto
        keeps its user pools across restarts, not IAM). Any error: not confirmed."""
        from botocore.exceptions import BotoCoreError, ClientError

        name = app_iam_role_name(self.config.platform, self.config.stage, slug)
        try:
            return bool(self._iam.get_role(RoleName=name)["Role"]["RoleId"] == role_id)
        except (ClientError, BotoCoreError):
            return False

    def _step(self, app: AppSpec, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (ClientError, BotoCoreError, PlacementError) as exc:
            raise IdentityProvisioningError(f"app {app.slug!r}: {what}: {exc}") from exc

    def _write(self, service: str, call: Callable[..., Any], **params: Any) -> Any:
        bucket = self._paced[service]
        if bucket is not None:
            bucket.take()
        return call(**params)

    def _ensure_role(self, app: AppSpec, want: dict[str, Any]) -> tuple[str, str]:
        name = want["name"]
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except self._iam.exceptions.NoSuchEntityException:
            role = self._write(
                "iam", self._iam.create_role, RoleName=name, Path=f"/{self.config.platform}/",
                AssumeRolePolicyDocument=json.dumps(want["trust"]),
                Description=f"Integreat app {app.slug} ({self.config.stage})",
                Tags=[{"Key": "integreat:app", "Value": app.slug},
                      {"Key": "integreat:stage", "Value": self.config.stage}],
            )["Role"]  # fmt: skip
            current: dict[str, Any] = {}
        else:
            if role.get("AssumeRolePolicyDocument") != want["trust"]:
                self._write(
                    "iam", self._iam.update_assume_role_policy, RoleName=name,
                    PolicyDocument=json.dumps(want["trust"]),
                )  # fmt: skip
            current = {policy: self._role_policy(name, policy) for policy in want["policies"]}
        for policy, document in want["policies"].items():
            if current.get(policy) != document:
                self._write(
                    "iam", self._iam.put_role_policy, RoleName=name, PolicyName=policy,
                    PolicyDocument=json.dumps(document),
                )  # fmt: skip
        return str(role["Arn"]), str(role["RoleId"])

    def _role_policy(self, role: str, policy: str) -> Any:
        try:
            return self._iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        except self._iam.exceptions.NoSuchEntityException:
            return None

    def _ensure_group(self, name: str, attributes: dict[str, Any]) -> None:
        pool = self.config.user_pool_id
        try:
            current = self._cognito.get_group(GroupName=name, UserPoolId=pool)["Group"]
        except self._cognito.exceptions.ResourceNotFoundException:
            self._write("cognito", self._cognito.create_group, GroupName=name, UserPoolId=pool, **attributes)
            return
        if _differs(current, attributes):
            self._write("cognito", self._cognito.update_group, GroupName=name, UserPoolId=pool, **attributes)

    def _ensure_client(self, want: dict[str, Any], client_id: str | None) -> str:
        current = self._describe_client(client_id) if client_id else None
        if current is None or current.get("ClientName") != want["ClientName"]:
            found = self._client_index().get(want["ClientName"])
            if found is None:
                return self._create_client(want)
            current = {"ClientId": found}  # its settings unknown: written below
        if _differs(current, want):
            self._write(
                "cognito", self._cognito.update_user_pool_client, UserPoolId=self.config.user_pool_id,
                ClientId=current["ClientId"], **want,
            )  # fmt: skip
        return str(current["ClientId"])

    def _create_client(self, want: dict[str, Any]) -> str:
        created = self._write(
            "cognito", self._cognito.create_user_pool_client, UserPoolId=self.config.user_pool_id,
            GenerateSecret=False, **want,
        )  # fmt: skip
        client_id = str(created["UserPoolClient"]["ClientId"])
        self._client_index()[want["ClientName"]] = client_id
        return client_id

    def _describe_client(self, client_id: str) -> dict[str, Any] | None:
        try:
            found = self._cognito.describe_user_pool_client(
                UserPoolId=self.config.user_pool_id, ClientId=client_id
            )["UserPoolClient"]
        except self._cognito.exceptions.ResourceNotFoundException:
            return None
        return dict(found)

    def _client_index(self) -> dict[str, str]:
        """The pool's clients by name, scanned once (60 a page) and kept up to date as clients
        are created: a sync with nothing stored pages the pool once, not once per app."""
        if self._client_ids is None:
            self._client_ids = {}
            for c in self._clients():
                self._client_ids.setdefault(str(c["ClientName"]), str(c["ClientId"]))
        return self._client_ids

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
