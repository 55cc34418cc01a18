"""The shared data plane: the one bucket (with its access-log bucket in prod), the two queues
with their DLQs, and the secrets (database URLs, integration keys)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.cells.model import CellsSpec
from chalicelib.frontends.bucket import cors_rules
from chalicelib.frontends.model import FrontendSpec
from chalicelib.integrations.model import IntegrationSpec
from chalicelib.settings import CELL_RUNTIME_URL_PREFIX, CELL_RUNTIME_URL_SUFFIX
from integreat.infra.stages import Stage

MAX_RECEIVE_COUNT = 5  # DESIGN decision 3
CONSUMER_TIMEOUT_SECONDS = 30  # .chalice/config.json: on_storage_event, on_cross_app_event
VISIBILITY_TIMEOUT = cdk.Duration.seconds(6 * CONSUMER_TIMEOUT_SECONDS)  # AWS: >= 6x the function's


class Queues(NamedTuple):
    events: sqs.Queue
    events_dlq: sqs.Queue
    storage: sqs.Queue
    storage_dlq: sqs.Queue


def reference(secret: secretsmanager.ISecret) -> str:
    """A CloudFormation dynamic reference to the secret's value, by name (resolved at deploy)."""
    return cdk.SecretValue.secrets_manager(secret.secret_name).unsafe_unwrap()


NO_CELLS = CellsSpec()  # one database: today's


class CellSecrets(NamedTuple):
    """A cell's URLs (issue 16): its operator (the provisioner, under the manifest's `url_env`)
    and its runtime (every function, as INTEGREAT_CELL_<NAME>_RUNTIME_URL)."""

    url_env: str
    operator_url: secretsmanager.ISecret
    runtime_url: secretsmanager.ISecret


class Secrets(NamedTuple):
    operator_url: secretsmanager.ISecret  # a role that may CREATE ROLE: the provisioner
    runtime_url: secretsmanager.ISecret  # integreat_runtime: every function
    integrations: dict[str, secretsmanager.ISecret]
    cells: Mapping[str, CellSecrets] = MappingProxyType({})  # every declared cell but home


def cell_environment(secrets: Secrets) -> dict[str, str]:
    """What every function is told of the other cells: each one's runtime URL (a reference to
    its secret, resolved at deploy). Lambda's 4 KB of variables hold about 20 cells (4,000 apps)."""
    return {
        f"{CELL_RUNTIME_URL_PREFIX}{name.upper()}{CELL_RUNTIME_URL_SUFFIX}": reference(cell.runtime_url)
        for name, cell in secrets.cells.items()
    }


def removal(stage: Stage) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if stage.retain else cdk.RemovalPolicy.DESTROY


def queues(scope: Construct, stage: Stage) -> Queues:
    def pair(name: str) -> tuple[sqs.Queue, sqs.Queue]:
        dlq = sqs.Queue(
            scope, f"{name.title()}Dlq", queue_name=f"{stage.prefix}-{name}-dlq", enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED, retention_period=cdk.Duration.days(14),
        )  # fmt: skip
        queue = sqs.Queue(
            scope, f"{name.title()}Queue", queue_name=f"{stage.prefix}-{name}", enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED, visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )  # fmt: skip
        return queue, dlq

    events, events_dlq = pair("events")
    storage, storage_dlq = pair("storage-events")
    return Queues(events, events_dlq, storage, storage_dlq)


def bucket(
    scope: Construct, stage: Stage, storage_queue: sqs.Queue, frontends: Sequence[FrontendSpec] = ()
) -> s3.Bucket:
    """`frontends`: every app's, whose https origins the bucket's one CORS rule admits."""
    logs = None
    if stage.bucket_versioning:
        logs = s3.Bucket(
            scope, "AccessLogs", bucket_name=f"{stage.prefix}-access-logs-{cdk.Aws.ACCOUNT_ID}",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=removal(stage), versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
        )  # fmt: skip
    files = s3.Bucket(
        scope, "Files", bucket_name=f"{stage.prefix}-files-{cdk.Aws.ACCOUNT_ID}",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED, versioned=stage.bucket_versioning,
        server_access_logs_bucket=logs, server_access_logs_prefix="files/" if logs else None,
        removal_policy=removal(stage), object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        cors=[_cors_rule(rule) for rule in cors_rules(frontends, local=False)] or None,
    )  # fmt: skip
    # DESIGN decision 2: S3 -> SQS -> Lambda; every create and remove, every app folder.
    target = s3n.SqsDestination(storage_queue)
    files.add_event_notification(s3.EventType.OBJECT_CREATED, target)
    files.add_event_notification(s3.EventType.OBJECT_REMOVED, target)
    return files


def app_buckets(stage: Stage, suffix: str = "") -> str:
    """This stage's dedicated app buckets (`<platform>-<stage>-app-<slug>-<account id>`,
    chalicelib/storage/placement.py), or their keys with `suffix` "/*"."""
    return f"arn:{cdk.Aws.PARTITION}:s3:::{stage.prefix}-app-*{suffix}"


def admit_app_buckets(storage_queue: sqs.Queue, stage: Stage) -> None:
    """The storage-events queue takes the notifications of the stage's dedicated app buckets too
    (issue 16; the provisioner makes them, `<platform>-<stage>-app-*`), from this account only:
    bucket names are global, so a look-alike in another account is refused by `aws:SourceAccount`."""
    storage_queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AppBucketNotifications",
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[storage_queue.queue_arn],
            conditions={
                "ArnLike": {"aws:SourceArn": app_buckets(stage)},
                "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
            },
        )
    )


def _cors_rule(rule: dict[str, Any]) -> s3.CorsRule:
    return s3.CorsRule(
        id=rule["ID"], allowed_origins=rule["AllowedOrigins"], allowed_headers=rule["AllowedHeaders"],
        allowed_methods=[s3.HttpMethods(m) for m in rule["AllowedMethods"]],
        exposed_headers=rule["ExposeHeaders"], max_age=rule["MaxAgeSeconds"],
    )  # fmt: skip


def secrets(
    scope: Construct, stage: Stage, specs: tuple[IntegrationSpec, ...], cells: CellsSpec = NO_CELLS
) -> Secrets:
    """Referenced by name, never created here: the operator stores each value before the first
    deploy (the provisioner needs the operator URL during that very deploy, and a placeholder
    would fail it), and the stack's lifetime never decides a secret's (see README, Deploying)."""

    def secret(logical: str, name: str) -> secretsmanager.ISecret:
        return secretsmanager.Secret.from_secret_name_v2(scope, logical, name)

    return Secrets(
        operator_url=secret("OperatorDatabaseUrl", f"{stage.prefix}/database/operator"),
        runtime_url=secret("RuntimeDatabaseUrl", f"{stage.prefix}/database/runtime"),
        integrations={spec.name: secret(f"Integration{_camel(spec.name)}", spec.secret) for spec in specs},
        cells={
            cell.name: CellSecrets(
                cell.url_env,
                secret(
                    f"Cell{_camel(cell.name)}OperatorUrl",
                    f"{stage.prefix}/database/cells/{cell.name}/operator",
                ),
                secret(
                    f"Cell{_camel(cell.name)}RuntimeUrl", f"{stage.prefix}/database/cells/{cell.name}/runtime"
                ),
            )
            for cell in cells.cells
            if not cell.home
        },
    )


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.replace("_", "-").split("-"))
