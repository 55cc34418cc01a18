"""Keep the local platform's AWS state across restarts: a second `make dev` finds users, files
and queued events where the first left them (Postgres keeps its own data in `.integreat/`).

moto keeps everything in memory, so on Ctrl-C this saves, and on the next start restores:
- Cognito user pools, whole (users with their passwords and subs, groups, clients), by pickling
  moto's pool objects; the pool's signing key is moto's fixed resource key and is re-attached;
- the bucket's objects, with content type and metadata (restoring them re-fires S3 events; the
  index ignores what it already holds, by sequencer);
- messages waiting in the platform's queues and their dead-letter queues.
Only for the moto this process runs; an external AWS endpoint keeps its own state.
"""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # moto's default account


def _pools(region: str) -> dict[str, Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    pools: dict[str, Any] = cognitoidp_backends[ACCOUNT][region].user_pools
    return pools


def save(folder: Path, *, region: str, s3: Any, sqs: Any, bucket: str, queues: list[str]) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"pools": _save_pools(folder, region), "objects": _save_objects(folder, s3, bucket)}
    counts["messages"] = _save_messages(folder, sqs, queues)
    return counts


def restore_pools(folder: Path, *, region: str) -> int:
    """Before provisioning: the pools come back with their ids, so clients and tokens stay valid."""
    path = folder / "cognito.pickle"
    if not path.exists():
        return 0
    pools = _pools(region)
    saved: dict[str, Any] = pickle.loads(path.read_bytes())  # noqa: S301 (our own file, written on our last stop)
    for pool_id, pool in saved.items():
        pool.json_web_key = _moto_key()
        pools[pool_id] = pool
    return len(saved)


def restore_data(folder: Path, *, s3: Any, sqs: Any, bucket: str) -> dict[str, int]:
    """After provisioning (the bucket and queues exist): objects and queued messages."""
    objects = folder / "objects.json"
    restored = {"objects": 0, "messages": 0}
    if objects.exists():
        for item in json.loads(objects.read_text()):
            s3.put_object(Bucket=bucket, Key=item["key"], Body=base64.b64decode(item["body"]),
                          ContentType=item["content_type"], Metadata=item["metadata"])  # fmt: skip
            restored["objects"] += 1
    messages = folder / "messages.json"
    if messages.exists():
        for queue, bodies in json.loads(messages.read_text()).items():
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            for body in bodies:
                sqs.send_message(QueueUrl=url, MessageBody=body)
                restored["messages"] += 1
    return restored


def _save_pools(folder: Path, region: str) -> int:
    pools = _pools(region)
    keys = {pool_id: pool.json_web_key for pool_id, pool in pools.items()}
    try:
        for pool in pools.values():
            pool.json_web_key = None  # a key object does not pickle; moto's is a fixed resource anyway
        (folder / "cognito.pickle").write_bytes(pickle.dumps(dict(pools)))
    finally:
        for pool_id, pool in pools.items():
            pool.json_web_key = keys[pool_id]
    return len(pools)


def _moto_key() -> Any:
    from joserfc import jwk
    from moto.utilities.utils import load_resource

    return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def _save_objects(folder: Path, s3: Any, bucket: str) -> int:
    saved = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            obj = s3.get_object(Bucket=bucket, Key=entry["Key"])
            saved.append({
                "key": entry["Key"], "body": base64.b64encode(obj["Body"].read()).decode(),
                "content_type": obj.get("ContentType", "binary/octet-stream"), "metadata": obj.get("Metadata", {}),
            })  # fmt: skip
    (folder / "objects.json").write_text(json.dumps(saved))
    return len(saved)


def _save_messages(folder: Path, sqs: Any, queues: list[str]) -> int:
    saved: dict[str, list[str]] = {}
    for queue in queues:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        bodies = saved.setdefault(queue, [])
        while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        ):
            bodies += [m["Body"] for m in found]
    (folder / "messages.json").write_text(json.dumps(saved))
    return sum(len(b) for b in saved.values())
