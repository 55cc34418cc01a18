"""The documented plain path (docs/architecture.md, "Infrastructure as code"), end to end against
moto: `integreat stage-config --stage dev` from the stack's outputs, the runtime database URL from
its secret, the real `chalice deploy --stage dev`, the partial-batch step Chalice cannot do, then
`chalice delete --stage dev`. Only fake credentials exist and every AWS call goes to a moto server
on 127.0.0.1 (AWS_ENDPOINT_URL, which botocore honours for every client, and Chalice builds its
clients from a plain botocore Session: chalice/cli/factory.py). Nothing is invoked (moto would
need Docker for that). `chalice deploy` downloads the Lambda wheels of requirements.txt (PyPI).

moto falls short of API Gateway in two places the launcher below patches, in moto only:
- ImportRestApi reads `info.description` unconditionally (KeyError on Chalice's document, which has
  none; moto/apigateway/models.py `import_rest_api`);
- PutRestApi, which ImportRestApi calls, refuses Swagger 2.0 (InvalidOpenApiDocVersionException),
  though API Gateway imports it and Chalice sends nothing else. The parts moto reads (paths,
  methods, responses, x-amazon-apigateway-integration) are the same in Swagger 2.0 and OpenAPI 3.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integreat.local.postgres import free_port
from tests.cli import run_integreat
from tests.conftest import ROOT

CHALICE = Path(sys.executable).parent / "chalice"
REGION = "eu-west-1"
STAGE = "dev"
APP = "integreat"
STORAGE_QUEUE = "integreat-dev-storage-events"
EVENTS_QUEUE = "integreat-dev-events"
RUNTIME_SECRET = "integreat-dev/database/runtime"
RUNTIME_URL = "postgresql://integreat_runtime:not-a-real-password@db.invalid:5432/integreat"
#: Chalice's resource name -> the Lambda function it deploys (the API handler is `<app>-<stage>`).
FUNCTIONS = {
    "api_handler": f"{APP}-{STAGE}",
    **{
        name: f"{APP}-{STAGE}-{name}"
        for name in (
            "pre_sign_up", "post_confirmation", "pre_token_generation",
            "on_storage_event", "on_cross_app_event", "provision", "provision_complete",
        )
    },
}  # fmt: skip
CONSUMERS = {"on_storage_event": STORAGE_QUEUE, "on_cross_app_event": EVENTS_QUEUE}

MOTO_LAUNCHER = """
import sys
from moto.apigateway.models import APIGatewayBackend
from moto.server import main

_import, _put = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api

def import_rest_api(self, api_doc, fail_on_warnings):
    api_doc.setdefault("info", {}).setdefault("description", "")  # moto: KeyError without it
    return _import(self, api_doc, fail_on_warnings)

def put_rest_api(self, function_id, api_doc, fail_on_warnings, mode="merge"):
    if api_doc.get("swagger") == "2.0":  # moto takes OpenAPI 3 only; API Gateway takes both
        api_doc = {k: v for k, v in api_doc.items() if k != "swagger"}
    return _put(self, function_id, api_doc, fail_on_warnings, mode)

APIGatewayBackend.import_rest_api = import_rest_api
APIGatewayBackend.put_rest_api = put_rest_api
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""

pytestmark = pytest.mark.skipif(
    not CHALICE.exists(), reason=f"the `chalice` command is not installed next to {sys.executable}"
)


@dataclass(frozen=True)
class Aws:
    endpoint: str
    env: dict[str, str]  # what the commands run with: fake credentials, moto's endpoint
    log: Path  # moto's output, shown when a command fails

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    """A patched moto server (MOTO_LAUNCHER) in its own process on a free port, stopped at the end."""
    work = tmp_path_factory.mktemp("moto")
    port = free_port()
    log = work / "moto.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", MOTO_LAUNCHER, str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, server, log)
        yield Aws(endpoint, _command_env(endpoint, work), log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_up(endpoint: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, f"moto exited: {log.read_text()}"
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310 (our own URL)
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"moto did not answer on {endpoint} within 60 s")


def _command_env(endpoint: str, work: Path) -> dict[str, str]:
    """This environment without any AWS setting of the developer's, plus fake credentials and moto:
    a profile, a config file or a session token must not send a call to a real account."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INTEGREAT_"))}
    return kept | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(work / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What `chalice deploy` reads, copied: the work tree's .chalice/deployed must stay untouched."""
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "chalicelib", copy / "chalicelib", ignore=ignore)
    (copy / ".chalice").mkdir()
    for name in ("app.py", "requirements.txt", ".chalice/config.json"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def test_chalice_deploy_then_delete_against_moto(aws: Aws, project: Path) -> None:
    # Given what the stack creates before `chalice deploy`: the queues and the runtime secret
    queue_arns = _create_queues(aws)
    secret_arn = aws.client("secretsmanager").create_secret(Name=RUNTIME_SECRET, SecretString=RUNTIME_URL)[
        "ARN"
    ]
    _stage_config(aws, project, secret_arn)

    # When the documented command runs
    _run(aws, project, "deploy", "--stage", STAGE)

    # Then everything Chalice says it made is in moto, wired to the stack's queues
    deployed = _deployed(project)
    role_arn = _assert_role(aws, deployed)
    _assert_functions(aws, deployed, role_arn)
    _assert_event_sources(aws, deployed, queue_arns)
    _assert_rest_api(aws, deployed)

    # When it is deleted, Chalice's resources are gone and the stack's are not
    _run(aws, project, "delete", "--stage", STAGE)
    _assert_deleted(aws, project, deployed, queue_arns)


def test_stage_config_prints_the_secret_arn_to_read(aws: Aws, project: Path) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{RUNTIME_SECRET}-AbCdEf"
    outputs = project / "cdk-outputs.json"
    outputs.write_text(json.dumps({f"integreat-{STAGE}": _stack_outputs(arn)}))
    config = project / ".chalice" / "config.json"
    done = run_integreat(
        "stage-config", "--stage", STAGE, "--outputs-file", str(outputs), "--config", str(config), env=aws.env
    )
    assert done.returncode == 0, done.stderr
    assert f"--secret-id {arn}\n" in done.stdout  # what the user pastes into `aws secretsmanager`


def _create_queues(aws: Aws) -> dict[str, str]:
    sqs = aws.client("sqs")
    arns = {}
    for name in (STORAGE_QUEUE, EVENTS_QUEUE):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return arns


def _stage_config(aws: Aws, project: Path, secret_arn: str) -> None:
    """What a user does (README, "Deploying"): `integreat stage-config` from the outputs file, then
    the runtime URL read from its secret into the stage, which the command leaves to them."""
    outputs = project / "cdk-outputs.json"
    outputs.write_text(json.dumps({f"integreat-{STAGE}": _stack_outputs(secret_arn)}))
    config = project / ".chalice" / "config.json"
    done = run_integreat(
        "stage-config", "--stage", STAGE, "--outputs-file", str(outputs), "--config", str(config), env=aws.env
    )
    assert done.returncode == 0, done.stderr
    assert "Not written (a secret): INTEGREAT_RUNTIME_DATABASE_URL" in done.stdout
    url = aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    settings = json.loads(config.read_text())
    settings["stages"][STAGE]["environment_variables"]["INTEGREAT_RUNTIME_DATABASE_URL"] = url
    config.write_text(json.dumps(settings, indent=2))


def _stack_outputs(secret_arn: str) -> dict[str, str]:
    """The outputs `cdk deploy` writes; only the queues and the secret must exist for Chalice."""
    return {
        "UserPoolId": f"{REGION}_AbCdEf123",
        "IdentityPoolId": f"{REGION}:00000000-0000-0000-0000-000000000000",
        "BucketName": "integreat-dev-files-123456789012",
        "EventsQueueName": EVENTS_QUEUE,
        "StorageQueueName": STORAGE_QUEUE,
        "ApiRoleId": "AROAEXAMPLEAPI000001",
        "RuntimeDatabaseSecretArn": secret_arn,
    }


def _run(aws: Aws, project: Path, *args: str) -> None:
    done = subprocess.run(
        [str(CHALICE), *args], cwd=project, env=aws.env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (
        f"chalice {' '.join(args)}:\n{done.stdout}\n{done.stderr}\n{aws.log.read_text()[-3000:]}"
    )


def _deployed(project: Path) -> dict[str, dict[str, Any]]:
    """.chalice/deployed/dev.json, Chalice's record of what it made, by resource name."""
    record = json.loads((project / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    return {resource["name"]: resource for resource in record["resources"]}


def _assert_role(aws: Aws, deployed: dict[str, dict[str, Any]]) -> str:
    roles = [r for r in deployed.values() if r["resource_type"] == "iam_role"]
    assert [r["role_name"] for r in roles] == [f"{APP}-{STAGE}"]  # one role, Chalice's default
    role = aws.client("iam").get_role(RoleName=roles[0]["role_name"])["Role"]
    trusted = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert trusted == ["lambda.amazonaws.com"]
    assert aws.client("iam").list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    return str(role["Arn"])


def _assert_functions(aws: Aws, deployed: dict[str, dict[str, Any]], role_arn: str) -> None:
    assert {n for n, r in deployed.items() if r["resource_type"] == "lambda_function"} == set(FUNCTIONS)
    get = aws.client("lambda").get_function_configuration
    configs = {name: get(FunctionName=function) for name, function in FUNCTIONS.items()}
    for name, config in configs.items():
        assert config["FunctionArn"] == deployed[name]["lambda_arn"]
        assert config["Role"] == role_arn
        env = config["Environment"]["Variables"]
        assert env["INTEGREAT_STAGE"] == STAGE
        assert env["INTEGREAT_RUNTIME_DATABASE_URL"] == RUNTIME_URL  # from the secret
        assert (env["INTEGREAT_STORAGE_QUEUE"], env["INTEGREAT_EVENTS_QUEUE"]) == (
            STORAGE_QUEUE,
            EVENTS_QUEUE,
        )
    assert configs["api_handler"]["Handler"] == "app.app"
    assert configs["provision"]["Handler"] == "chalicelib.provisioning.deploy.provision"  # a blueprint's
    # .chalice/config.json's per-function settings reached the functions
    assert (configs["provision"]["Timeout"], configs["provision_complete"]["Timeout"]) == (60, 900)
    assert configs["pre_sign_up"]["Timeout"] == 5
    assert (configs["pre_sign_up"]["MemorySize"], configs["api_handler"]["MemorySize"]) == (256, 512)


def _assert_event_sources(aws: Aws, deployed: dict[str, dict[str, Any]], queue_arns: dict[str, str]) -> None:
    """Each consumer reads its stack queue; then the documented step turns on partial batch responses.
    (Listed by the function's ARN, which AWS takes as well as the name: moto matches only the exact
    string the mapping was created with, and Chalice creates it with the ARN.)"""
    lam = aws.client("lambda")
    for name, queue in CONSUMERS.items():
        assert deployed[f"{name}-sqs-event-source"]["queue_arn"] == queue_arns[queue]
        mappings = lam.list_event_source_mappings(FunctionName=deployed[name]["lambda_arn"])[
            "EventSourceMappings"
        ]
        assert [(m["EventSourceArn"], m["BatchSize"], m["State"]) for m in mappings] == [
            (queue_arns[queue], 10, "Enabled")
        ]
        lam.update_event_source_mapping(
            UUID=mappings[0]["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
        )
        updated = lam.get_event_source_mapping(UUID=mappings[0]["UUID"])
        assert updated["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _assert_rest_api(aws: Aws, deployed: dict[str, dict[str, Any]]) -> None:
    from app import app

    apigateway = aws.client("apigateway")
    api_id = deployed["rest_api"]["rest_api_id"]
    assert apigateway.get_rest_api(restApiId=api_id)["name"] == APP
    assert apigateway.get_stage(restApiId=api_id, stageName="api")["deploymentId"]
    resources = apigateway.get_resources(restApiId=api_id, limit=500)["items"]
    missing = set(app.routes) - {r["path"] for r in resources}
    assert not missing, f"routes without an API resource: {sorted(missing)}"
    # every method goes to the API handler through the Lambda proxy integration
    health = next(r for r in resources if r["path"] == "/health")
    integration = apigateway.get_integration(restApiId=api_id, resourceId=health["id"], httpMethod="GET")
    # API Gateway answers "AWS_PROXY"; moto echoes the document's spelling, Chalice's "aws_proxy"
    assert integration["type"].upper() == "AWS_PROXY"
    assert deployed["api_handler"]["lambda_arn"] in integration["uri"]
    policy = aws.client("lambda").get_policy(FunctionName=FUNCTIONS["api_handler"])["Policy"]
    assert "apigateway.amazonaws.com" in policy
    assert api_id in policy


def _assert_deleted(
    aws: Aws, project: Path, deployed: dict[str, dict[str, Any]], queue_arns: dict[str, str]
) -> None:
    assert _deployed(project) == {}
    lam = aws.client("lambda")
    assert not set(FUNCTIONS.values()) & {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert deployed["rest_api"]["rest_api_id"] not in {
        a["id"] for a in aws.client("apigateway").get_rest_apis()["items"]
    }
    assert _missing(functools.partial(aws.client("iam").get_role, RoleName=f"{APP}-{STAGE}"))
    # the stack's resources are not Chalice's to delete
    sqs = aws.client("sqs")
    for name in queue_arns:
        assert sqs.get_queue_url(QueueName=name)["QueueUrl"]
    assert aws.client("secretsmanager").describe_secret(SecretId=RUNTIME_SECRET)["Name"] == RUNTIME_SECRET


def _missing(call: Callable[[], Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in (
            "NoSuchEntity",
            "ResourceNotFoundException",
            "NotFoundException",
        )
    return False
