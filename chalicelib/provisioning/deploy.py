"""The provisioner as the stack's custom resource: one `cdk deploy` yields a working platform.

CDK's Provider framework drives it in two halves ("asynchronous providers", aws_cdk
custom_resources): `provision` (onEvent) checks the manifest and answers at once;
`provision_complete` (isComplete) is then called every query interval until it answers
`IsComplete`, and each call applies the next chunks of apps until its time budget is spent. A
first sync of 1,000 apps takes 13 to 53 minutes at Cognito's rates, past Lambda's 15 (issue 16).

The manifest is the stack's S3 asset (its bucket and content-hashed key are the properties; the
template never carries the text). Each app's client id goes to an SSM parameter
(`client_id_parameter`) that the hosting stacks resolve at deploy, so the answer to
CloudFormation carries nothing per app and fits its 4,096 bytes at any number of apps. How far a
request got is an SSM parameter too (`progress_parameter`): a call resumes after the chunks an
earlier call of the same request finished. Every step is idempotent, so a re-run is correct.
Delete does nothing: an app's data leaves only through `integreat apps remove`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from chalice.app import Blueprint

if TYPE_CHECKING:  # the imports below stay off every function's cold start (app.py imports this)
    from chalicelib.apps.manifest import AppSpec, Manifest
    from chalicelib.cells.model import CellsSpec
    from chalicelib.db.pool import Connect
    from chalicelib.provisioning.database import SyncReport

provisioner = Blueprint(__name__)

#: Apps per `sync_apps` call: about a minute at the slowest measured rate (3.2 s an app).
CHUNK = 20
#: Of a call's remaining time, what no new chunk may start into: the chunk in flight and the answer.
RESERVE_SECONDS = 300
#: CloudFormation refuses a response over 4,096 bytes; CDK's framework sends a failure's message
#: and its stack trace as the reason, so the message stays well below.
MAX_MESSAGE = 1000
GET_PARAMETERS_MAX = 10  # SSM GetParameters takes at most 10 names


class ProvisionAnswer(TypedDict):
    PhysicalResourceId: str


class CompleteAnswer(TypedDict, total=False):
    IsComplete: bool
    Data: dict[str, str]  # only with IsComplete true (the framework refuses it otherwise)


class DeployError(Exception):
    """The deploy cannot go on (a bad manifest, an app that failed); the message is bounded."""


def client_id_parameter(platform: str, stage: str, slug: str) -> str:
    """The SSM parameter holding an app's client id, written here and read by the hosting stacks
    and `integreat outputs`.

    >>> client_id_parameter("integreat", "prod", "church")
    '/integreat/prod/apps/church/client-id'
    """
    return f"/{platform}/{stage}/apps/{slug}/client-id"


def progress_parameter(platform: str, stage: str) -> str:
    """The SSM parameter saying how many apps the current request has applied."""
    return f"/{platform}/{stage}/provisioner/progress"


def physical_id(props: Mapping[str, Any]) -> str:
    """The custom resource's one id: the provisioned apps of this platform's stage."""
    return f"{props['Platform']}-{props['Stage']}-apps"


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ... (cut here)"


@provisioner.lambda_function(name="provision")
def provision(event: dict[str, Any], context: Any) -> ProvisionAnswer:
    """onEvent: refuse a bad manifest before any work starts; the work is `provision_complete`'s."""
    from chalicelib.observability import start_invocation

    start_invocation(event.get("RequestId"))
    props = event["ResourceProperties"]
    physical = physical_id(props)
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical)}
    AwsSteps(props).manifest()
    return {"PhysicalResourceId": physical}


@provisioner.lambda_function(name="provision_complete")
def provision_complete(event: dict[str, Any], context: Any) -> CompleteAnswer:
    """isComplete: apply apps until the budget is spent; complete once every app is applied."""
    from chalicelib.observability import start_invocation

    start_invocation(event.get("RequestId"))
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    budget = context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
    return advance(AwsSteps(event["ResourceProperties"]), event["RequestId"], time.monotonic() + budget)


class Steps(Protocol):
    """What `advance` does to the world; `AwsSteps` is the real one, tests pass a fake."""

    def manifest(self) -> Manifest: ...
    def done(self, request: str) -> int: ...
    def record(self, request: str, done: int) -> None: ...
    def sync(self, apps: Sequence[AppSpec]) -> SyncReport: ...
    def publish(self, slugs: Sequence[str]) -> None: ...
    def finish(self, manifest: Manifest) -> None: ...


def advance(
    steps: Steps, request: str, deadline: float, clock: Callable[[], float] = time.monotonic
) -> CompleteAnswer:
    """Apply the manifest's apps in chunks, from where `request` stopped, while `clock()` is
    before `deadline`; then the integrations. A failed app fails the deploy, naming it."""
    manifest = steps.manifest()
    apps = manifest.apps
    started = done = steps.done(request)
    while done < len(apps) and clock() < deadline:
        chunk = apps[done : done + CHUNK]
        report = steps.sync(chunk)
        if not report.ok:
            raise DeployError(failure_message(report.failed, len(apps)))
        steps.publish([app.slug for app in chunk])
        done += len(chunk)
    if done < len(apps):
        if done > started:
            steps.record(request, done)
        return {"IsComplete": False}
    steps.finish(manifest)
    return {"IsComplete": True, "Data": {"Apps": str(len(apps))}}


def failure_message(failed: Mapping[str, str], total: int) -> str:
    reasons = "; ".join(f"{slug}: {why}" for slug, why in sorted(failed.items()))
    return bounded(f"provisioning failed for {len(failed)} of {total} apps: {reasons}")


class AwsSteps:
    """The real steps: the manifest asset (S3), Postgres (operator URL), Cognito and IAM, SSM.
    Clients are made on first use: onEvent only reads the manifest."""

    def __init__(self, props: Mapping[str, Any]) -> None:
        self._props = props
        self._manifest: Manifest | None = None

    def manifest(self) -> Manifest:
        from chalicelib import aws
        from chalicelib.apps.manifest import ManifestError, parse_manifest

        if self._manifest is None:
            bucket, key = self._props["ManifestBucket"], self._props["ManifestKey"]
            body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            try:
                self._manifest = parse_manifest(body.decode("utf-8"), f"s3://{bucket}/{key}")
            except ManifestError as exc:  # CloudFormation shows this and rolls the deploy back
                raise DeployError(bounded(str(exc))) from exc
        return self._manifest

    def done(self, request: str) -> int:
        from chalicelib import aws

        ssm = aws.client("ssm")
        try:
            value = ssm.get_parameter(Name=self._progress)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return 0
        progress = json.loads(value)
        return int(progress["done"]) if progress.get("request") == request else 0

    def record(self, request: str, done: int) -> None:
        from chalicelib import aws

        value = json.dumps({"request": request, "done": done})
        aws.client("ssm").put_parameter(
            Name=self._progress, Value=value, Type="String", Tier="Standard", Overwrite=True
        )

    def sync(self, apps: Sequence[AppSpec]) -> SyncReport:
        from chalicelib.provisioning.database import sync_apps
        from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner, provisioning_clients
        from chalicelib.settings import get_settings

        props = self._props
        config = IdentityConfig(
            user_pool_id=props["UserPoolId"], platform=props["Platform"], stage=props["Stage"],
            account_id=props["AccountId"], bucket=props["Bucket"],
        )  # fmt: skip
        settings = get_settings()
        identity = IdentityProvisioner(
            *provisioning_clients(settings), config, buckets=self._buckets(settings)
        )  # adaptive retries
        cells = self.manifest().cells
        return sync_apps(
            self._connect(), apps, identity=identity, cells=cells, cell_connects=_cell_connects(cells)
        )

    def _buckets(self, settings: Any) -> Any:
        """Apps with a bucket of their own (`StorageQueueArn`, `BucketVersioning`: the stack's)."""
        from chalicelib import aws
        from chalicelib.provisioning.storage import AppBuckets, AppBucketSettings

        queue = self._props.get("StorageQueueArn")
        if not queue:
            return None
        versioning = str(self._props.get("BucketVersioning", "false")).lower() == "true"
        return AppBuckets(aws.client("s3", settings), AppBucketSettings(queue, settings.region, versioning))

    def publish(self, slugs: Sequence[str]) -> None:
        from chalicelib import aws

        platform, stage = self._props["Platform"], self._props["Stage"]
        clients = app_clients(self._connect(), slugs)
        write_parameters(
            aws.client("ssm"), {client_id_parameter(platform, stage, s): c for s, c in clients.items()}
        )

    def finish(self, manifest: Manifest) -> None:
        from chalicelib.provisioning.integrations import sync_integrations

        sync_integrations(self._connect(), manifest.integrations)

    @property
    def _progress(self) -> str:
        return progress_parameter(self._props["Platform"], self._props["Stage"])

    def _connect(self) -> Connect:
        from chalicelib.db.pool import connector
        from chalicelib.settings import get_settings

        return connector(get_settings().require_database_url())


def app_clients(connect: Connect, slugs: Sequence[str]) -> dict[str, str]:
    """Each app's newest recorded client (a client deleted by hand and made again leaves the old id)."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT ON (slug) slug, client_id FROM integreat.app_clients"
                " WHERE slug = ANY(%s) ORDER BY slug, created_at DESC",
                (list(slugs),),
            )
            found = {str(slug): str(client) for slug, client in cur.fetchall()}
    finally:
        conn.close()
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise DeployError(bounded(f"no app client recorded for {', '.join(missing)}"))
    return found


def write_parameters(ssm: Any, values: Mapping[str, str]) -> None:
    """Standard-tier String parameters, written only where the value differs: a re-run that
    changes nothing makes reads only (PutParameter shares Parameter Store's throughput)."""
    names = sorted(values)
    for start in range(0, len(names), GET_PARAMETERS_MAX):
        batch = names[start : start + GET_PARAMETERS_MAX]
        current = {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=batch)["Parameters"]}
        for name in (n for n in batch if current.get(n) != values[n]):
            ssm.put_parameter(Name=name, Value=values[name], Type="String", Tier="Standard", Overwrite=True)


def _cell_connects(cells: CellsSpec) -> dict[str, Any]:
    """The operator connection of every declared cell but home, from the variable the manifest
    names (the stack sets each from the cell's secret); a missing one fails the deploy, saying so."""
    import os

    from chalicelib.db.pool import connector

    connects = {}
    for cell in cells.cells:
        if cell.home:
            continue
        url = os.environ.get(cell.url_env)
        if not url:
            raise DeployError(
                f"cell {cell.name!r}: {cell.url_env} is not set on the provisioner (its operator URL)"
            )
        connects[cell.name] = connector(url)
    return connects
