"""Shared fixtures: one real Postgres for the session (embedded, or INTEGREAT_DATABASE_URL).

Tiers: tests/unit (no IO), tests/integration (real Postgres, moto),
tests/security (the isolation matrix, as attacks), tests/e2e (the local platform).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from chalicelib.apps import Database
from chalicelib.aws import client as aws_client
from chalicelib.db.pool import connector
from chalicelib.db.tenant import RUNTIME_ROLE
from chalicelib.provisioning.database import sync_apps
from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner
from chalicelib.provisioning.queues import QueuePair, ensure_queue
from chalicelib.provisioning.storage import StorageResources, ensure_storage
from chalicelib.runtime import Runtime, use_runtime
from chalicelib.settings import Settings
from chalicelib.tenancy.manifest import AppSpec, load_manifest
from chalicelib.tenancy.slugs import login_role
from integreat.context import login_url, with_database
from integreat.local.postgres import throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's per-request access log
EVENTS_DIR = Path(__file__).parent / "events"
TEST_DATABASE = "integreat_test"
TEST_BUCKET = "integreat-test-files"
TEST_QUEUE = "integreat-test-storage-events"
TEST_EVENTS_QUEUE = "integreat-test-events"
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # moto's SenderId for every message


def load_event(name: str) -> dict[str, Any]:
    """A recorded event payload from tests/events/<name>.json."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A Postgres cluster for this run: INTEGREAT_DATABASE_URL, else an embedded throwaway one."""
    external = os.environ.get("INTEGREAT_DATABASE_URL")
    if external:
        yield external
        return
    with throwaway_cluster("integreat-test-pg-") as url:
        yield url


@pytest.fixture(scope="session")
def operator_url(server_url: str) -> Iterator[str]:
    """A fresh database for the session, as the operator (a role allowed to CREATE ROLE)."""
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {TEST_DATABASE}")
    try:
        yield with_database(server_url, TEST_DATABASE)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def demo_apps() -> tuple[AppSpec, ...]:
    return load_manifest(ROOT / "integreat.toml").apps


@dataclass(frozen=True)
class Platform:
    """The provisioned test platform: URLs of every role the isolation tests log in as."""

    operator_url: str
    runtime_url: str
    slugs: tuple[str, ...]

    def connect(self, url: str | None = None) -> psycopg2.extensions.connection:
        conn = connector(url or self.operator_url)()
        return conn

    def login_url(self, slug: str) -> str:
        return login_url(self.operator_url, login_role(slug))


@pytest.fixture(scope="session")
def platform(operator_url: str, demo_apps: tuple[AppSpec, ...]) -> Platform:
    report = sync_apps(connector(operator_url), demo_apps, workers=2)
    assert report.ok, report.failed
    runtime_url = login_url(operator_url, RUNTIME_ROLE)
    return Platform(operator_url, runtime_url, tuple(a.slug for a in demo_apps))


@pytest.fixture
def runtime_db(platform: Platform) -> Iterator[Database]:
    """The runtime's Database (logs in as integreat_runtime), with a small pool."""
    db = Database(platform.runtime_url, pool_size=4, registry_ttl_seconds=30.0)
    yield db
    db.close()


@pytest.fixture
def unique_slug() -> str:
    return f"t{secrets.token_hex(4)}"


# --- AWS (moto server on 127.0.0.1) and identity ------------------------------------------------

AWS_TEST_ENV = {
    # Never real AWS from the test suite, whatever the developer's shell holds.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for every AWS service, on a free port of 127.0.0.1, stopped at the end."""
    from benchmarks.scale import moto_server

    with moto_server(AWS_TEST_ENV) as url:
        yield url


@dataclass(frozen=True)
class IdentityPlatform:
    """The test platform with Cognito (moto) provisioned from the manifest."""

    platform: Platform
    endpoint: str
    user_pool_id: str
    clients: dict[str, str]  # slug -> app client id
    settings: Settings
    storage: StorageResources
    events: QueuePair
    roles: dict[str, str]  # slug -> the unique id (AROA...) of the app's IAM role

    def cognito(self) -> Any:
        return aws_client("cognito-idp", self.settings)

    def runtime(self) -> Runtime:
        return Runtime(self.settings, Database(self.platform.runtime_url, pool_size=2))

    def bearer(
        self, signer: Any, app: str, groups: list[str], username: str = "u", **claims: Any
    ) -> dict[str, str]:
        """An Authorization header: an access token of `app`'s client with `groups`, signed by
        `signer` (the key `signed_runtime` trusts); `claims` override the Cognito-shaped ones."""
        from chalicelib.identity.tokens import issuer_for
        from tests.tokens import access_claims

        issuer = issuer_for(self.settings.region, self.user_pool_id)
        token = signer.sign(access_claims(issuer, self.clients[app], username, groups, **claims))
        return {"Authorization": f"Bearer {token}"}

    def sigv4(
        self, keys: Any, app: str, method: str, path: str, body: bytes = b"", host: str = "localhost"
    ) -> dict[str, str]:
        """Headers of a request signed by botocore (a real client) with service credentials of
        `app`'s role, issued by `keys` (the ServiceKeys `signed_runtime` trusts): the signing
        `integreat service call` does."""
        from integreat.local.service_credentials import signed_headers

        url = f"http://{host}{path}"
        return signed_headers(
            keys.issue(self.roles[app]), self.settings.region, method, url, body, {"Host": host}
        )


@pytest.fixture(scope="session")
def identity(platform: Platform, demo_apps: tuple[AppSpec, ...], moto_endpoint: str) -> IdentityPlatform:
    settings = Settings(
        stage="test",
        region="eu-west-1",
        aws_endpoint_url=moto_endpoint,
        runtime_database_url=platform.runtime_url,
        database_url=platform.operator_url,
    )
    cognito = aws_client("cognito-idp", settings)
    pool_id = cognito.create_user_pool(PoolName="integreat-test")["UserPool"]["Id"]
    resources = ensure_storage(
        aws_client("s3", settings),
        aws_client("sqs", settings),
        bucket=TEST_BUCKET,
        queue=TEST_QUEUE,
        region="eu-west-1",
    )
    events_queue = ensure_queue(aws_client("sqs", settings), TEST_EVENTS_QUEUE)
    # moto names every SQS sender the same: in the test stage the API's "role" is that id.
    settings = settings._replace(
        user_pool_id=pool_id, bucket=TEST_BUCKET, events_queue=TEST_EVENTS_QUEUE, storage_queue=TEST_QUEUE,
        api_role_id=MOTO_SENDER_ID,
    )  # fmt: skip
    config = IdentityConfig(
        pool_id, "integreat", "test", account_id="123456789012", password_auth=True, bucket=TEST_BUCKET
    )
    provisioner = IdentityProvisioner(cognito, aws_client("iam", settings), config)
    report = sync_apps(connector(platform.operator_url), demo_apps, workers=2, identity=provisioner)
    assert report.ok, report.failed
    conn = platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT slug, client_id FROM integreat.app_clients")
        clients = {str(slug): str(client) for slug, client in cur.fetchall()}
        cur.execute("SELECT slug, iam_role_id FROM integreat.apps WHERE iam_role_id IS NOT NULL")
        roles = {str(slug): str(role) for slug, role in cur.fetchall()}
    conn.close()
    return IdentityPlatform(
        platform, moto_endpoint, pool_id, clients, settings, resources, events_queue, roles
    )


@contextmanager
def installed(runtime: Runtime) -> Iterator[Runtime]:
    """Make `runtime` the one the handlers use (injected, not patched); undone and closed after."""
    use_runtime(runtime)
    try:
        yield runtime
    finally:
        use_runtime(None)
        runtime.database.close()


@pytest.fixture
def installed_runtime(identity: IdentityPlatform) -> Iterator[Runtime]:
    """The runtime the Chalice app uses during one test."""
    with installed(identity.runtime()) as rt:
        yield rt


@pytest.fixture(scope="session")
def signer() -> Any:
    """A test signing key posing as the user pool's (tokens shaped exactly, attacks forged)."""
    from tests.tokens import Signer

    return Signer()


@pytest.fixture(scope="session")
def service_keys() -> Any:
    """The local platform's service-credential key (a fresh one per test session)."""
    import secrets

    from chalicelib.identity.service_keys import ServiceKeys

    return ServiceKeys(secrets.token_bytes(32))


@pytest.fixture
def signed_runtime(identity: IdentityPlatform, signer: Any, service_keys: Any) -> Iterator[Runtime]:
    """The runtime, trusting `signer`'s key set as the pool's JWKS and `service_keys`' service
    credentials (injected, not patched)."""
    from chalicelib.identity.services import LocalSigV4

    runtime = Runtime(
        identity.settings,
        identity.runtime().database,
        jwks_fetch=lambda url: signer.jwks(),
        service_auth=LocalSigV4(service_keys, identity.settings.region),
    )
    with installed(runtime) as rt:
        yield rt


@pytest.fixture
def signed_api(signed_runtime: Runtime) -> Iterator[Any]:
    """The Chalice app's test client, its tokens checked against `signer`'s key."""
    from chalice.test import Client

    import app as chalice_app

    with Client(chalice_app.app) as client:
        yield client


DATASET_ROWS = 250


@pytest.fixture(scope="module")
def church_view(platform: Platform) -> Iterator[None]:
    """church's own migration, run as its LOGIN role: the view integreat.toml shares."""
    conn = psycopg2.connect(platform.login_url("church"))
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS writes (n int);"
            "CREATE OR REPLACE VIEW public_services AS"
            f" SELECT g AS id, 'Service ' || g AS title FROM generate_series(1, {DATASET_ROWS}) g"
        )
    yield
    with conn, conn.cursor() as cur:
        cur.execute("DROP VIEW public_services; DROP TABLE writes")
    conn.close()


# --- log capture --------------------------------------------------------------------------------

ReadLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[ReadLines]:
    """The JSON lines the module logger emits during the test, captured at its own formatter."""
    import io
    import json
    import logging

    from chalicelib.observability import logger, start_invocation

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_handler.formatter)
    logger._logger.addHandler(handler)
    # The lines at INFO whatever the environment or an earlier test set (LOG_LEVEL and
    # POWERTOOLS_LOG_LEVEL set the module logger's level when it is created): in CI the
    # request lines went missing while WARNING lines arrived.
    level, disabled = logger._logger.level, logging.root.manager.disable
    logger._logger.setLevel(logging.INFO)
    logging.disable(logging.NOTSET)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield read
    finally:
        logger._logger.removeHandler(handler)
        logger._logger.setLevel(level)
        logging.disable(disabled)
        start_invocation(None)  # leave no app or correlation id behind for other tests
