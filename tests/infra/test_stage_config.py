"""`integreat stage-config`: the stack's outputs (as `cdk deploy --outputs-file` writes them) into
the Chalice stage; other settings kept; bad input changes nothing. No AWS call is made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli import run_integreat
from tests.infra.conftest import PROJECT

OUTPUTS = {
    "integreat-dev": {
        "UserPoolId": "eu-west-1_AbCdEf123",
        "BucketName": "integreat-dev-files-123456789012", "EventsQueueName": "integreat-dev-events",
        "StorageQueueName": "integreat-dev-storage-events", "ApiRoleId": "AROAEXAMPLEAPI000001",
        "RuntimeDatabaseSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
    }
}  # fmt: skip


def _setup(tmp_path: Path, outputs: object) -> tuple[Path, Path]:
    config = tmp_path / "config.json"
    shutil.copy(PROJECT / ".chalice" / "config.json", config)
    written = tmp_path / "cdk-outputs.json"
    written.write_text(json.dumps(outputs))
    return config, written


def test_outputs_land_in_the_stage_and_nothing_else_changes(tmp_path: Path) -> None:
    config, outputs = _setup(tmp_path, OUTPUTS)
    before = json.loads(config.read_text())
    done = run_integreat(
        "stage-config", "--stage", "dev", "--outputs-file", str(outputs), "--config", str(config)
    )
    assert done.returncode == 0, done.stderr
    after = json.loads(config.read_text())
    env = after["stages"]["dev"]["environment_variables"]
    assert env["INTEGREAT_USER_POOL_ID"] == "eu-west-1_AbCdEf123"
    assert env["INTEGREAT_BUCKET"] == "integreat-dev-files-123456789012"
    assert env["INTEGREAT_API_ROLE_ID"] == "AROAEXAMPLEAPI000001"
    assert env["INTEGREAT_STAGE"] == "dev"  # kept
    assert "INTEGREAT_RUNTIME_DATABASE_URL" not in env  # a secret: never written into the file
    assert "INTEGREAT_IDENTITY_POOL_ID" not in env  # the stack has no identity pool (issue 16)
    assert after["stages"]["prod"] == before["stages"]["prod"]
    assert after["lambda_functions"] == before["lambda_functions"]
    assert "ReportBatchItemFailures" in done.stdout  # the step Chalice cannot do, spelled out


def test_missing_outputs_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    partial = {"integreat-dev": {k: v for k, v in OUTPUTS["integreat-dev"].items() if k != "BucketName"}}
    for outputs in (partial, {"other-stack": {}}, "not json"):
        config, written = _setup(tmp_path, outputs)
        if outputs == "not json":
            written.write_text("{not json")
        before = config.read_text()
        done = run_integreat(
            "stage-config", "--stage", "dev", "--outputs-file", str(written), "--config", str(config)
        )
        assert done.returncode == 1
        assert "error" in done.stderr
        assert config.read_text() == before
    bad_stage = run_integreat("stage-config", "--stage", "staging", "--outputs-file", str(written))
    assert bad_stage.returncode == 2
