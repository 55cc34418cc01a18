"""`make dev`: all of Integreat on one machine, in the foreground (DESIGN.md decision 8).

Embedded Postgres (data in `.integreat/`), moto server (one port for every AWS service), the
Cognito trigger layer in front of moto's Cognito, provisioning of every manifest app, the API
(Chalice local, no auto-reload) and event workers for the storage-events and cross-app queues.
Everything listens on 127.0.0.1; Ctrl-C stops everything this process started. A supervisor
restarts any part that dies (supervisor.py); moto's state is snapshotted and journaled
(snapshot.py, journal.py), so a crash loses no queued event; a crashed run's Postgres is reused.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.settings import Settings
from integreat.local import parts
from integreat.local.summary import describe, print_summary, sync_local_integrations
from integreat.local.supervisor import Part, Supervisor

if TYPE_CHECKING:
    from integreat.local.postgres import EmbeddedPostgres

REGION = "eu-west-1"
POOL_NAME = "integreat-local"
BUCKET = "integreat-local-files"
STORAGE_QUEUE = "integreat-storage-events"
EVENTS_QUEUE = "integreat-events"
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # moto gives every SQS message this SenderId

# (setting, default port): each can be moved when its port is taken.
PORTS = {
    "INTEGREAT_API_PORT": 8000,
    "INTEGREAT_MOTO_PORT": 4566,
    "INTEGREAT_COGNITO_PORT": 4567,
    "INTEGREAT_PG_PORT": 54329,
}
#: Set to 1 (tests only): SIGUSR1 then ends every worker thread, for the supervisor to repair.
FAULTS_ENV = "INTEGREAT_FAULT_INJECTION"
QUEUES = [STORAGE_QUEUE, f"{STORAGE_QUEUE}-dlq", EVENTS_QUEUE, f"{EVENTS_QUEUE}-dlq"]


class PlatformError(RuntimeError):
    """The local platform cannot start; the message says what to change."""


@dataclass
class Ports:
    api: int
    moto: int
    cognito: int
    postgres: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Ports:
        env = dict(os.environ if env is None else env)
        value = {name: int(env.get(name) or default) for name, default in PORTS.items()}
        return cls(
            value["INTEGREAT_API_PORT"],
            value["INTEGREAT_MOTO_PORT"],
            value["INTEGREAT_COGNITO_PORT"],
            value["INTEGREAT_PG_PORT"],
        )


@dataclass
class LocalPlatform:
    state_dir: Path
    ports: Ports
    database_url: str | None = None  # DATABASE_URL: use that server instead of the embedded one
    aws_endpoint: str | None = None  # INTEGREAT_AWS_ENDPOINT_URL: use that moto instead of starting one
    _stops: list[Callable[[], None]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    _owns_moto: bool = False
    parts: list[Part] = field(default_factory=list)  # what the supervisor restarts
    supervisor: Supervisor | None = None

    @property
    def _snapshots(self) -> Path:
        return self.state_dir / "aws"

    def start(self, progress: Callable[[str], None] = print) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self._check_ports()
            operator_url = self._postgres(progress)
            endpoint = self._moto(progress)
            settings = self._provision(operator_url, endpoint, progress)
            cognito_url = self._cognito(settings, progress)
            self._api(progress)
            self._workers(settings, progress)
            self._supervise(progress)
        except BaseException:
            self.stop()
            raise
        self.summary = describe(settings, self.ports.api, cognito_url, time.monotonic() - started)
        (self.state_dir / "platform.json").write_text(json.dumps(self.summary, indent=2))
        return self.summary

    def stop(self) -> None:
        """Stop everything started, newest first; safe to call twice."""
        while self._stops:
            step = self._stops.pop()
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                print(f"while stopping: {exc}")
        (self.state_dir / "platform.json").unlink(missing_ok=True)

    def run_forever(self) -> None:
        """Start, print the summary, wait for Ctrl-C (SIGINT) or SIGTERM, stop."""
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        if os.environ.get(FAULTS_ENV) == "1":
            signal.signal(signal.SIGUSR1, lambda *_: self.crash_workers())
        print_summary(self.summary)
        from integreat.local.frontends import start_frontends  # only here: off the platform's import

        # Each built example frontend on its local origin.
        self._stops.append(start_frontends(self.summary, lambda line: print(line, flush=True)))
        try:
            done.wait()
        finally:
            print("stopping the local platform ...")
            self.stop()
            print("stopped")

    def crash_workers(self) -> None:
        """End every worker thread (fault injection): the supervisor must bring them back."""
        for part in self.parts:
            if part.name.startswith("worker ") and part.current is not None:
                part.current.crash()

    def _run(self, part: Part) -> Any:
        """Start a supervised part; stopping the platform stops whichever instance runs then."""
        started = part.launch()
        self.parts.append(part)
        self._stops.append(part.shutdown)
        return started

    def _supervise(self, progress: Callable[[str], None]) -> None:
        self.supervisor = Supervisor(self.parts)
        self.supervisor.start()
        self._stops.append(self.supervisor.stop)  # first to stop: a stopping part is not a dead one
        progress(f"supervisor: watching {', '.join(p.name for p in self.parts)}")

    # --- the parts, in start order --------------------------------------------------------------

    def _check_ports(self) -> None:
        from integreat.local.postgres import port_in_use

        wanted = {"INTEGREAT_API_PORT": self.ports.api, "INTEGREAT_COGNITO_PORT": self.ports.cognito}
        if self.aws_endpoint is None:
            wanted["INTEGREAT_MOTO_PORT"] = self.ports.moto
        if self.database_url is None and not self._embedded_postgres().running():
            wanted["INTEGREAT_PG_PORT"] = self.ports.postgres  # else it is ours, and reused
        for setting, port in wanted.items():
            if port_in_use(port):
                raise PlatformError(
                    f"port {port} on 127.0.0.1 is in use: stop what holds it, or set {setting} to a free port"
                )

    def _postgres(self, progress: Callable[[str], None]) -> str:
        from integreat.context import LOCAL_DATABASE, ensure_database

        if self.database_url:
            progress("postgres: using DATABASE_URL")
            return self.database_url
        server = self._embedded_postgres()
        left_by_crash = server.running() and self._crashed_before()
        if server.running() and not left_by_crash:
            server.start()  # started by `integreat db ...`: used, left running, not supervised
        else:
            self._run(parts.postgres(server))
        reused = " (reused: left running by a crashed run)" if left_by_crash else ""
        progress(f"postgres: 127.0.0.1:{self.ports.postgres}{reused} (data in {server.data_dir})")
        return ensure_database(server, LOCAL_DATABASE)

    def _embedded_postgres(self) -> EmbeddedPostgres:
        from integreat.local.postgres import EmbeddedPostgres

        return EmbeddedPostgres(self.state_dir / "postgres", port=self.ports.postgres)

    def _crashed_before(self) -> bool:
        """A `platform.json` whose process is gone: the last run did not stop, so what it left
        running (its Postgres) is this run's to adopt and stop."""
        try:
            pid = int(json.loads((self.state_dir / "platform.json").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return pid == os.getpid()

    def _moto(self, progress: Callable[[str], None]) -> str:
        if self.aws_endpoint:
            progress(f"aws: using {self.aws_endpoint}")
            return self.aws_endpoint
        from integreat.context import LOCAL_CREDENTIALS
        from integreat.local.postgres import free_port

        # The S3 front admits only the keys the platform knows: this process always signs with
        # the local key, whatever the developer's shell holds (and never sends real ones).
        os.environ["AWS_ACCESS_KEY_ID"] = LOCAL_CREDENTIALS["aws_access_key_id"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = LOCAL_CREDENTIALS["aws_secret_access_key"]
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        from integreat.local import snapshot

        internal = free_port()  # moto itself; clients reach it through the front on ports.moto
        self._run(parts.moto(internal))
        pools = snapshot.restore_pools(self._snapshots, region=REGION)
        self._owns_moto = True
        if pools:
            progress(f"moto: restored {pools} user pool(s) from {self._snapshots}")
        endpoint = self._aws_front(f"http://127.0.0.1:{internal}")
        progress(f"aws: {endpoint} (moto; S3 signed, IAM-checked and notifying as in AWS)")
        return endpoint

    def _aws_front(self, moto_url: str) -> str:
        """The platform's AWS endpoint: moto behind the S3 front (integreat/local/aws_front.py)."""
        from integreat.context import LOCAL_CREDENTIALS
        from integreat.local.aws_front import local_front
        from integreat.local.service_credentials import load_or_create_key

        keys = {LOCAL_CREDENTIALS["aws_access_key_id"]: LOCAL_CREDENTIALS["aws_secret_access_key"]}
        key = load_or_create_key(self.state_dir)

        def make() -> Any:
            # The local api_role_id (MOTO_SENDER_ID) is the API's "role".
            return local_front(moto_url, port=self.ports.moto, region=REGION, platform_keys=keys,
                               platform_principal=f"AWS:{MOTO_SENDER_ID}", service_key=key)  # fmt: skip

        self._run(parts.listening("aws front", make, self.ports.moto))
        return f"http://127.0.0.1:{self.ports.moto}"

    def _provision(self, operator_url: str, endpoint: str, progress: Callable[[str], None]) -> Settings:
        from chalicelib.aws import client
        from chalicelib.db.pool import connector
        from chalicelib.frontends.bucket import cors_rules
        from chalicelib.provisioning.database import sync_apps
        from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner
        from chalicelib.provisioning.queues import ensure_queue
        from chalicelib.provisioning.storage import (
            AppBuckets,
            AppBucketSettings,
            ensure_bucket_cors,
            ensure_storage,
        )
        from chalicelib.tenancy.manifest import load_manifest
        from integreat.context import login_url
        from integreat.identity_pool import create_user_pool_kwargs

        base = Settings(stage="local", region=REGION, aws_endpoint_url=endpoint, database_url=operator_url)
        cognito = client("cognito-idp", base)
        pool = next(
            (p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == POOL_NAME),
            None,
        )
        # The production pool's settings (integreat/identity_pool.py), read by the CDK stack too.
        pool = pool or cognito.create_user_pool(**create_user_pool_kwargs(POOL_NAME))["UserPool"]["Id"]
        storage = ensure_storage(
            client("s3", base), client("sqs", base), bucket=BUCKET, queue=STORAGE_QUEUE, region=REGION
        )
        ensure_queue(client("sqs", base), EVENTS_QUEUE)
        account = str(client("sts", base).get_caller_identity()["Account"])
        config = IdentityConfig(pool, "integreat", "local", account, password_auth=True, bucket=BUCKET)
        # Apps with `bucket = "dedicated"` get their own (http here: no TLS-only policy), as in AWS.
        buckets = AppBuckets(
            client("s3", base), AppBucketSettings(storage.queue_arn, REGION, tls_only=False), True
        )
        # moto has no rate limits, and every restart re-applies identities (its IAM comes back
        # empty): unpaced, so a restart after a crash is not seconds slower than it need be.
        provisioner = IdentityProvisioner(cognito, client("iam", base), config, buckets=buckets, rates=None)
        manifest = load_manifest()
        report = sync_apps(connector(operator_url), manifest.apps, identity=provisioner)
        if not report.ok:
            raise PlatformError(f"provisioning failed: {report.failed}")
        progress(f"provisioned: {', '.join(report.active)}")
        # The bucket answers the apps' local origins, as the stack's bucket their https ones.
        ensure_bucket_cors(
            client("s3", base), BUCKET, cors_rules((a.frontend for a in manifest.apps), local=True)
        )
        sync_local_integrations(operator_url, manifest.integrations, client("secretsmanager", base), progress)
        if self._owns_moto:
            self._restore(operator_url, provisioner, progress)
        return base._replace(
            runtime_database_url=login_url(operator_url, "integreat_runtime"),
            user_pool_id=pool,
            bucket=BUCKET,
            events_queue=EVENTS_QUEUE,
            storage_queue=STORAGE_QUEUE,
            api_role_id=MOTO_SENDER_ID, console_origins=manifest.console.allowed_origins(local=True),
        )  # fmt: skip

    def _restore(self, operator_url: str, identity: Any, progress: Callable[[str], None]) -> None:
        """moto's objects and messages back (snapshot and journal), dead client ids out of the
        registry, then snapshots from here on (every few seconds, and the last one on stop)."""
        from integreat.local import snapshot
        from integreat.local.registry_clients import prune_clients

        restored = snapshot.restore_data(self._snapshots, region=REGION, bucket=BUCKET)
        if any(restored.values()):
            progress(f"restored {restored['objects']} object(s) and {restored['messages']} queued message(s)")
        pruned = prune_clients(operator_url, identity)
        if pruned:
            progress(f"registry: dropped {pruned} app client id(s) the user pool no longer has")
        snapshots = snapshot.Snapshots(
            self._snapshots, region=REGION, bucket=BUCKET, queues=QUEUES, storage_queue=STORAGE_QUEUE
        )
        snapshots.start()

        def save() -> None:
            counts = snapshots.stop()
            print(f"saved {counts['pools']} user pool(s), {counts['objects']} object(s), "
                  f"{counts['messages']} message(s)")  # fmt: skip

        self._stops.append(save)

    def _cognito(self, settings: Settings, progress: Callable[[str], None]) -> str:
        from chalicelib.apps import Database
        from chalicelib.identity import triggers
        from chalicelib.identity.service_keys import ServiceKeys
        from chalicelib.identity.services import LocalSigV4
        from chalicelib.runtime import Runtime, use_runtime
        from integreat.local.cognito import LocalCognito
        from integreat.local.service_credentials import load_or_create_key

        assert settings.aws_endpoint_url is not None
        assert settings.runtime_database_url is not None
        assert settings.user_pool_id is not None
        cognito_url = f"http://127.0.0.1:{self.ports.cognito}"
        runtime = Runtime(
            settings,
            Database(settings.runtime_database_url, pool_size=4),
            jwks_url=f"{cognito_url}/{settings.user_pool_id}/.well-known/jwks.json",
            # /service routes: verify SigV4 against the credentials `integreat service` issues.
            service_auth=LocalSigV4(ServiceKeys(load_or_create_key(self.state_dir)), REGION),
        )
        use_runtime(runtime)

        def uninstall() -> None:
            use_runtime(None)
            runtime.database.close()

        self._stops.append(uninstall)
        endpoint = settings.aws_endpoint_url

        def make() -> Any:
            return LocalCognito(endpoint, port=self.ports.cognito, key_file=self.state_dir / "cognito-signing-key.pem",
                                run_trigger=lambda name, event: getattr(triggers, name)(event, None), region=REGION)  # fmt: skip

        self._run(parts.listening("cognito", make, self.ports.cognito))
        progress(f"cognito: {cognito_url} (moto's Cognito, with Integreat's triggers)")
        return cognito_url

    def _api(self, progress: Callable[[str], None]) -> None:
        from integreat.local.api_server import ApiServer, load_app

        # Chalice local warns that it admits IAM routes unchecked; our middleware checks them.
        warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported in local mode")
        app = load_app()
        self._run(parts.listening("api", lambda: ApiServer(app, self.ports.api), self.ports.api))
        progress(f"api: http://127.0.0.1:{self.ports.api}")

    def _workers(self, settings: Settings, progress: Callable[[str], None]) -> None:
        from chalicelib.aws import client
        from chalicelib.messaging.consumer import process as route_events
        from chalicelib.provisioning.queues import queue_arn
        from chalicelib.runtime import runtime
        from chalicelib.storage.consumer import process as index_files
        from integreat.local.workers import QueueWorker

        sqs = client("sqs", settings)
        for name, queue, handler in (
            ("storage-events", STORAGE_QUEUE, lambda e: index_files(e, runtime().storage_deps())),
            ("cross-app-events", EVENTS_QUEUE, lambda e: route_events(e, runtime().messaging_deps())),
        ):
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            worker = QueueWorker(name, sqs, url, queue_arn(sqs, url), handler, REGION, ready=self._ready)
            self._run(parts.worker(name, worker.restarted))  # each start: a fresh copy of this one
        progress("workers: storage-events, cross-app-events")

    def _ready(self) -> bool:
        """Workers poll only while what their handlers need is up (no receives burnt meanwhile)."""
        watching = self.supervisor
        return watching is None or not any(watching.down(p) for p in ("postgres", "moto", "aws front"))
