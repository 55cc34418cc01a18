"""With moto's IAM enforcement on: credentials of app A's assumed role, as provisioned by the real
identity provisioner, reach `A/` and nothing else (`B/`, `A-evil/`, `Aevil/`, `_quarantine/`).

Runs its own moto server (a subprocess on 127.0.0.1, stopped at the end) because enforcement is
process-wide in moto: the first three calls bootstrap an operator user, every later call is
authorized against IAM policies. moto evaluates resource ARNs but not conditions (those rest on
tests/security/test_storage_iam.py), and does not expand `arn:...:root` in a trust policy to the
account's users, so the test adds its operator to the role's trust policy.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner
from chalicelib.tenancy.manifest import AppSpec
from integreat.local.postgres import free_port

BUCKET = "integreat-iam-test"
REGION = "eu-west-1"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def enforced() -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": "3",
        "AWS_ACCESS_KEY_ID": "boot",
        "AWS_SECRET_ACCESS_KEY": "boot",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(port)
        endpoint = {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": REGION}
        iam = boto3.client("iam", aws_access_key_id="boot", aws_secret_access_key="boot", **endpoint)
        iam.create_user(UserName="operator")  # the three unauthenticated calls
        iam.put_user_policy(UserName="operator", PolicyName="all", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName="operator")["AccessKey"]
        yield {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
            **endpoint,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto server did not start")


@pytest.fixture(scope="module")
def church_s3(enforced: dict[str, Any]) -> Any:
    """An S3 client holding the credentials of church's provisioned IAM role."""
    cognito, iam = boto3.client("cognito-idp", **enforced), boto3.client("iam", **enforced)
    boto3.client("s3", **enforced).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    pool = cognito.create_user_pool(PoolName="iam-test")["UserPool"]["Id"]
    config = IdentityConfig(pool, "integreat", "test", account_id="123456789012", bucket=BUCKET)
    role_arn = (
        IdentityProvisioner(cognito, iam, config)
        .provision(AppSpec("church", "Church", "open", ("member",)))
        .role_arn
    )
    role_name = role_arn.rsplit("/", 1)[1]
    trust = json.loads(json.dumps(iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]))
    account = trust["Statement"][0]["Principal"]["AWS"]  # the provisioner's "account root" statement
    trust["Statement"][0]["Principal"]["AWS"] = [account, "arn:aws:iam::123456789012:user/operator"]
    # moto evaluates no condition, so the Deny that reserves `<sub>@<slug>` session names for the
    # API (conditioned on the name) would refuse every name here: it is evaluated, with its
    # conditions, in tests/unit/test_vended_sessions.py.
    trust["Statement"] = [s for s in trust["Statement"] if s.get("Sid") != "OnlyTheApiNamesUserSessions"]
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
    creds = boto3.client("sts", **enforced).assume_role(RoleArn=role_arn, RoleSessionName="church-backend")[
        "Credentials"
    ]
    return boto3.client(
        "s3", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], endpoint_url=enforced["endpoint_url"], region_name=REGION,
    )  # fmt: skip


def test_own_folder_put_get_delete(church_s3: Any) -> None:
    church_s3.put_object(Bucket=BUCKET, Key="church/uploads/a.txt", Body=b"hello")
    assert church_s3.get_object(Bucket=BUCKET, Key="church/uploads/a.txt")["Body"].read() == b"hello"
    church_s3.delete_object(Bucket=BUCKET, Key="church/uploads/a.txt")


@pytest.mark.parametrize(
    "key", ["events/a.txt", "church-evil/a.txt", "churchevil/a.txt", "_quarantine/church/a.txt", "a.txt"]
)
def test_other_folders_are_denied(church_s3: Any, enforced: dict[str, Any], key: str) -> None:
    boto3.client("s3", **enforced).put_object(Bucket=BUCKET, Key=key, Body=b"victim")
    for attempt in (
        lambda: church_s3.put_object(Bucket=BUCKET, Key=key, Body=b"x"),
        lambda: church_s3.get_object(Bucket=BUCKET, Key=key),
        lambda: church_s3.delete_object(Bucket=BUCKET, Key=key),
    ):
        with pytest.raises(ClientError) as denied:
            attempt()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert boto3.client("s3", **enforced).get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"victim"
