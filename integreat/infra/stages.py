"""Per-stage parameters: `[stages.<name>]` in integreat.toml, over defaults for dev and prod.

    [stages.prod]
    account = "123456789012"      # optional: pins the stack to an account (region: [platform])
    retain = true                 # deletion protection + RETAIN on the pool, bucket, secrets
    bucket_versioning = true      # and access logs
    api_concurrency = 50          # reserved concurrency of the API function
    consumer_concurrency = 5      # MaximumConcurrency of each SQS event source mapping
    db_connection_budget = 100    # what the database accepts from Lambda (Neon: pooler limit)
    alarm_topic = "ops-pager"     # optional: an existing SNS topic (name or ARN) for the alarms

The budget is checked: every function instance holds one connection (INTEGREAT_DB_POOL_SIZE=1),
so the API's reserved concurrency plus both consumers' maximum concurrency plus the triggers'
(counted as the API's, they are short) must fit in it.

`alarm_topic` names a standard SNS topic that already exists, in the stack's region: a bare name
is taken to be in the stack's account. Unset, the stack creates `<platform>-<stage>-alarms`
(integreat/infra/monitoring.py).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

STAGES = ("dev", "prod")
KEYS = (
    "account",
    "retain",
    "bucket_versioning",
    "api_concurrency",
    "consumer_concurrency",
    "db_connection_budget",
    "alarm_topic",
)
ACCOUNT = re.compile(r"\d{12}")
#: SNS topic names: 1 to 256 of A-Z, a-z, 0-9, '-', '_' (a FIFO topic's `.fifo` is not allowed:
#: CloudWatch alarms notify standard topics only).
TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
TOPIC_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:sns:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):\d{12}:[A-Za-z0-9_-]{1,256}"
)


class StageError(Exception):
    """The stage section is wrong; the message names the key and what is allowed."""


class Stage(NamedTuple):
    name: str
    platform: str  # [platform].name: prefix of every resource name
    region: str
    account: str | None
    retain: bool
    bucket_versioning: bool
    api_concurrency: int
    consumer_concurrency: int
    db_connection_budget: int
    alarm_topic: str | None = None  # an existing SNS topic's name or ARN; None: the stack makes one

    @property
    def prefix(self) -> str:
        return f"{self.platform}-{self.name}"


DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"retain": False, "bucket_versioning": False, "api_concurrency": 10,
            "consumer_concurrency": 2, "db_connection_budget": 20},
    "prod": {"retain": True, "bucket_versioning": True, "api_concurrency": 50,
             "consumer_concurrency": 5, "db_connection_budget": 100},
}  # fmt: skip


def load_stage(name: str, manifest: Path) -> Stage:
    if name not in STAGES:
        raise StageError(f"stage {name!r}: must be one of {', '.join(STAGES)}")
    doc = tomllib.loads(manifest.read_text())
    section = (doc.get("stages") or {}).get(name) or {}
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise StageError(
            f"{manifest}: stages.{name}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}"
        )
    values = DEFAULTS[name] | section
    platform = doc.get("platform") or {}
    region = str(platform.get("region", "eu-west-1"))
    stage = Stage(
        name=name,
        platform=str(platform.get("name", "integreat")),
        region=region,
        account=_account(values.get("account"), name),
        retain=_flag(values, "retain", name),
        bucket_versioning=_flag(values, "bucket_versioning", name),
        api_concurrency=_count(values, "api_concurrency", name, 1, 1000),
        consumer_concurrency=_count(values, "consumer_concurrency", name, 2, 1000),
        db_connection_budget=_count(values, "db_connection_budget", name, 5, 10000),
        alarm_topic=_topic(values.get("alarm_topic"), name, region),
    )
    needed = stage.api_concurrency + 2 * stage.consumer_concurrency
    if needed > stage.db_connection_budget:
        raise StageError(
            f"stages.{name}: api_concurrency + 2 x consumer_concurrency = {needed} connections, over"
            f" db_connection_budget = {stage.db_connection_budget}: lower them or raise the budget"
        )
    return stage


def _account(value: Any, stage: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ACCOUNT.fullmatch(value):
        raise StageError(f"stages.{stage}.account: must be a 12-digit AWS account id as a string")
    return value


def _topic(value: Any, stage: str, region: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and TOPIC_NAME.fullmatch(value):
        return value
    arn = TOPIC_ARN.fullmatch(value) if isinstance(value, str) else None
    if arn is None:
        raise StageError(
            f"stages.{stage}.alarm_topic: must be the name of an existing standard SNS topic (1 to 256"
            " of A-Z, a-z, 0-9, '-', '_') or its ARN, arn:aws:sns:<region>:<account id>:<name>"
        )
    if arn["region"] != region:
        raise StageError(
            f"stages.{stage}.alarm_topic: the topic is in {arn['region']} and the stack in {region}:"
            " CloudWatch alarms notify a topic of their own region"
        )
    return str(value)


def _flag(values: dict[str, Any], key: str, stage: str) -> bool:
    if not isinstance(values[key], bool):
        raise StageError(f"stages.{stage}.{key}: must be true or false")
    return bool(values[key])


def _count(values: dict[str, Any], key: str, stage: str, low: int, high: int) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StageError(f"stages.{stage}.{key}: must be an integer from {low} to {high}")
    return value
