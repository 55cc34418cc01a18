"""The runtime's shared services, built lazily from settings once per process (Lambda container).

Handlers reach the database, the token verifier and the Cognito directory through `runtime()`.
Each is built (and its modules imported) on first use, off the cold-start path of functions that
never need it.
Tests and the local platform build a Runtime of their own and install it with `use_runtime()`:
injection, not patching.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.apps import Database
from chalicelib.db.tenant import Params, Row, TenantCursor
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:  # imported where first used: each costs cold-start time some functions never need
    from chalicelib.batching import Retries
    from chalicelib.identity.directory import CognitoDirectory
    from chalicelib.identity.exclusions import Exclusions
    from chalicelib.identity.jwks import Fetch
    from chalicelib.identity.services import ServiceAuth
    from chalicelib.identity.tokens import TokenVerifier
    from chalicelib.integrations.catalog import Catalog
    from chalicelib.integrations.secrets import SecretCache
    from chalicelib.messaging.consumer import MessagingDeps
    from chalicelib.storage.consumer import StorageDeps
    from chalicelib.storage.objects import ObjectStore
    from chalicelib.usage.meter import Meter


class Runtime:
    """Settings, the database and what is built from them, each created on first use."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        jwks_url: str | None = None,
        jwks_fetch: Fetch | None = None,
        service_auth: ServiceAuth | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.jwks_url = jwks_url  # default: the pool's well-known URL at the configured endpoint
        self.jwks_fetch = jwks_fetch  # tests inject a key set of their own here
        self._service_auth = service_auth  # the local platform and tests inject LocalSigV4
        self._directories: dict[str, CognitoDirectory] = {}  # per pool id, for triggers (directory_for)

    @cached_property
    def service_auth(self) -> ServiceAuth:
        """Who signed a `/service` request: API Gateway's word in AWS; locally, what was injected."""
        from chalicelib.identity.services import ApiGatewayIam, NoServiceAuth

        if self._service_auth is not None:
            return self._service_auth
        # Outside AWS nothing has checked the signature: without injected keys, refuse everyone.
        return NoServiceAuth() if self.settings.emulated else ApiGatewayIam()

    @cached_property
    def verifier(self) -> TokenVerifier:
        from chalicelib.identity.jwks import Jwks, fetch_url
        from chalicelib.identity.tokens import TokenVerifier, issuer_for

        pool = self.settings.require_user_pool_id()
        base = self.settings.aws_endpoint_url or f"https://cognito-idp.{self.settings.region}.amazonaws.com"
        url = self.jwks_url or f"{base.rstrip('/')}/{pool}/.well-known/jwks.json"
        return TokenVerifier(
            issuer=issuer_for(self.settings.region, pool),
            jwks=Jwks(url, fetch=self.jwks_fetch or fetch_url),
            registry=self.database.registry,
        )

    @cached_property
    def directory(self) -> CognitoDirectory:
        """Cognito groups and users (creates the boto3 client, and so imports boto3, on first use)."""
        from chalicelib import aws
        from chalicelib.identity.directory import CognitoDirectory

        return CognitoDirectory(
            aws.client("cognito-idp", self.settings), self.settings.require_user_pool_id()
        )

    def directory_for(self, pool_id: str | None) -> CognitoDirectory:
        """The configured pool's directory, else that of the pool the trigger's event names.
        Deployed triggers are not told the pool id (the pool refers to them: naming it back would
        be a CloudFormation cycle); only their own pool may invoke them (the Lambda permission's
        source ARN), so its event names it."""
        if self.settings.user_pool_id or pool_id is None:
            return self.directory
        if pool_id not in self._directories:
            from chalicelib import aws
            from chalicelib.identity.directory import CognitoDirectory

            self._directories[pool_id] = CognitoDirectory(aws.client("cognito-idp", self.settings), pool_id)
        return self._directories[pool_id]

    @cached_property
    def exclusions(self) -> Exclusions:
        from chalicelib.identity.exclusions import Exclusions

        return Exclusions(self.database)

    @cached_property
    def integrations(self) -> Catalog:
        from chalicelib.integrations.catalog import Catalog, database_loader

        return Catalog(database_loader(self.database.platform), self.settings.registry_ttl_seconds)

    @cached_property
    def secrets(self) -> SecretCache:
        from chalicelib import aws
        from chalicelib.integrations.secrets import SecretCache

        return SecretCache(aws.client("secretsmanager", self.settings))

    @cached_property
    def objects(self) -> ObjectStore:
        from chalicelib import aws
        from chalicelib.storage.objects import ObjectStore

        return ObjectStore(aws.client("s3", self.settings), self.settings.require_bucket())

    def storage_deps(self) -> StorageDeps:
        from chalicelib.storage.consumer import StorageDeps

        return StorageDeps(
            db=self.database,
            objects=self.objects,
            api_role_id=self.settings.api_role_id,
            # Bare moto (the test stage) names no writer; the local platform's S3 front does.
            trust_metadata_without_principal=self.settings.stage == "test",
            retries=self.retries,
        )

    @cached_property
    def meter(self) -> Meter:
        """This instance's usage counts, flushed in batches (chalicelib/usage/meter.py)."""
        from chalicelib.usage.meter import Meter

        return Meter()

    @cached_property
    def retries(self) -> Retries:
        """Shortens the wait of records the consumers failed transiently. The SQS client behind it
        is created on the first such failure, not on the consumer's cold start."""
        from chalicelib.batching import SqsRetries

        return SqsRetries(lambda: self.sqs)

    @cached_property
    def sqs(self) -> Any:
        from chalicelib import aws

        return aws.client("sqs", self.settings)

    def send_event_batch(self, entries: list[dict[str, str]]) -> dict[str, Any]:
        """SendMessageBatch to the cross-app queue (its URL is looked up once)."""
        result: dict[str, Any] = self.sqs.send_message_batch(QueueUrl=self.events_queue_url, Entries=entries)
        return result

    @cached_property
    def events_queue_url(self) -> str:
        return str(self.sqs.get_queue_url(QueueName=self.settings.events_queue)["QueueUrl"])

    def messaging_deps(self) -> MessagingDeps:
        from chalicelib.messaging.consumer import MessagingDeps

        return MessagingDeps(
            db=self.database, api_sender_id=self.settings.api_role_id, retries=self.retries, meter=self.meter
        )

    def signup_client(self, username: str) -> str | None:
        """The client `username` signed up through, as the pre sign-up trigger recorded it."""
        rows = self.database.platform(
            "SELECT client_id FROM integreat.signups WHERE username = %s AND trigger_source LIKE 'PreSignUp_%%'"
            " ORDER BY recorded_at LIMIT 1",
            (username,),
        )
        return str(rows[0][0]) if rows else None

    def record_signup(self, username: str, client_id: str, source: str) -> None:
        self.database.platform(
            "INSERT INTO integreat.signups (username, client_id, trigger_source) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (username, client_id, source),
        )


_current: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                settings = get_settings()
                _current = Runtime(settings, Database.from_settings(settings))
    return _current


def use_runtime(value: Runtime | None) -> None:
    """Install `value` as the process's runtime (None: build from settings on next use)."""
    global _current
    _current = value


def tenant_transaction(slug: str | None) -> TenantCursor:
    """`with tenant_transaction("church") as cur:`: the process-wide Database's tenant scope."""
    return runtime().database.tenant(slug)


def tenant_read(slug: str | None, sql: str, params: Params = None) -> list[Row]:
    """One read-only statement as the app, in one round trip."""
    return runtime().database.read(slug, sql, params)


def admin_transaction() -> TenantCursor:
    return runtime().database.admin()
