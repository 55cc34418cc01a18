"""`integreat stage-config --stage dev`: the CDK stack's outputs into `.chalice/config.json`, so
that a plain `chalice deploy --stage dev` runs against the resources the stack created.

The outputs come from `cdk deploy --outputs-file cdk-outputs.json` (what `integreat deploy`
passes), never from a live AWS call here. The database URL is a secret: it is not written into
the config file; the command says how to set it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Stack output -> the environment variable of the Chalice stage.
OUTPUT_SETTINGS = {
    "UserPoolId": "INTEGREAT_USER_POOL_ID",
    "BucketName": "INTEGREAT_BUCKET",
    "EventsQueueName": "INTEGREAT_EVENTS_QUEUE",
    "StorageQueueName": "INTEGREAT_STORAGE_QUEUE",
    "ApiRoleId": "INTEGREAT_API_ROLE_ID",
}


class StageConfigError(Exception):
    """The outputs file or the config file is not what it should be; says which and why."""


def stack_outputs(outputs_file: Path, stack_name: str) -> dict[str, str]:
    try:
        data: Any = json.loads(outputs_file.read_text())
    except (OSError, ValueError) as exc:
        raise StageConfigError(f"{outputs_file}: cannot read the stack outputs ({exc})") from None
    outputs = data.get(stack_name) if isinstance(data, dict) else None
    if not isinstance(outputs, dict):
        raise StageConfigError(
            f"{outputs_file}: no outputs of stack {stack_name!r} (run `integreat deploy` first)"
        )
    missing = sorted(set(OUTPUT_SETTINGS) - set(outputs))
    if missing:
        raise StageConfigError(f"{outputs_file}: stack {stack_name!r} lacks outputs {', '.join(missing)}")
    return {str(k): str(v) for k, v in outputs.items()}


def write_stage(config_file: Path, stage: str, outputs: dict[str, str]) -> dict[str, str]:
    """Merge the outputs into the stage's environment variables; other settings are kept.
    Written to a temporary file first and renamed: an interrupted run leaves the old file."""
    try:
        config: Any = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise StageConfigError(f"{config_file}: cannot read the Chalice config ({exc})") from None
    stages = config.setdefault("stages", {})
    section = stages.setdefault(stage, {})
    env = section.setdefault("environment_variables", {})
    written = {setting: outputs[output] for output, setting in OUTPUT_SETTINGS.items()}
    env.update(written)
    temporary = config_file.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(config, indent=2) + "\n")
    temporary.replace(config_file)
    return written
