"""Storage test helpers: SQS messages as Lambda delivers them, and S3 events in the AWS shape."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process
from tests.conftest import IdentityPlatform, load_event
from tests.queues import depth, poll


def deliver(identity: IdentityPlatform, rt: Runtime) -> list[str]:
    """One poll of the storage-events queue through the real consumer; returns the failed ids."""
    storage = identity.storage
    return poll(
        identity.settings, storage.queue_url, storage.queue_arn, lambda e: process(e, rt.storage_deps())
    )[1]


def drain(identity: IdentityPlatform, rt: Runtime, rounds: int = 20) -> None:
    for _ in range(rounds):
        if depth(identity.settings, identity.storage.queue_url) == 0:
            return
        deliver(identity, rt)


def s3_event(key: str, *, name: str = "ObjectCreated:Post", size: int = 10, sequencer: str = "0055AED6DCD90281E5",
             principal: str | None = "AWS:AROAEXAMPLEPRESIGNER:integreat-dev-api", bucket: str = "integreat-test-files",
             message_id: str = "m-1") -> dict[str, Any]:  # fmt: skip
    """The recorded SQS-wrapped S3 event, for `key` (URL-encoded here, as S3 does)."""
    event = copy.deepcopy(load_event("sqs_s3_object_created"))
    record = event["Records"][0]
    body = json.loads(record["body"])
    s3 = body["Records"][0]
    s3["eventName"] = name
    s3["s3"]["bucket"]["name"] = bucket
    s3["s3"]["object"] |= {"key": quote_plus(key, safe="/"), "size": size, "sequencer": sequencer}
    if principal is None:
        s3.pop("userIdentity")
    else:
        s3["userIdentity"]["principalId"] = principal
    record["body"] = json.dumps(body)
    record["messageId"] = message_id
    return event


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [record for event in events for record in event["Records"]]}


def s3_front(
    endpoint: str,
    service_keys: Any,
    policies: Callable[[str], list[dict[str, Any]]],
    *,
    sessions: Any = None,
    roles: Any = None,
    region: str = "eu-west-1",
) -> Any:
    """The local S3 front (integreat/local/aws_front.py) over the session's moto at `endpoint`,
    knowing the test credentials as the platform's key (the API's principal), `service_keys`'
    service credentials and, with `sessions`, vended sessions; `policies` gives a role's IAM
    documents. Not started: `url = front.start()`, then `front.stop()`."""
    import boto3

    from integreat.local.aws_front import AwsFront
    from integreat.local.s3_auth import Keyring
    from integreat.local.s3_events import Notifications
    from tests.conftest import AWS_TEST_ENV, MOTO_SENDER_ID

    at_moto = {"endpoint_url": endpoint, "region_name": region}
    platform = {AWS_TEST_ENV["AWS_ACCESS_KEY_ID"]: AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"]}
    return AwsFront(
        endpoint,
        keyring=Keyring(platform, f"AWS:{MOTO_SENDER_ID}", service_keys, sessions),
        policies=policies,
        notifications=Notifications(boto3.client("sqs", **at_moto), region),
        s3=boto3.client("s3", **at_moto),
        region=region,
        roles=roles,
    )
