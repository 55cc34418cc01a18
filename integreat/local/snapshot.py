"""Keep the local platform's AWS state across restarts and crashes: a second `make dev` finds
users, files and queued events where the first left them (Postgres keeps its own data).

moto keeps everything in memory. This module saves, into `.integreat/aws/`, and restores:
- Cognito user pools, whole (users with their passwords and subs, groups, clients), by pickling
  moto's pool objects; the pool's signing key is moto's fixed resource key and is re-attached;
- the bucket's objects, with content type and metadata, put straight back into moto (no S3
  event fires again: the index already decided each object it was told about);
- every message of the platform's queues and their DLQs, in flight or not, with its id and
  receive count (read from moto's backend: `moto_state.py`), so the DLQ after 5 receives holds
  across restarts.
A snapshot is written every `INTERVAL_SECONDS` when something changed, and on stop; each file
is replaced atomically. Between snapshots `journal.py` records every queue change and every
object an S3 event names, so a crash (SIGKILL, power kept) loses no queued message and no
notified upload: only Cognito changes and un-notified objects of the last interval.
Only for the moto this process runs; an external AWS endpoint keeps its own state.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import threading
import uuid
from pathlib import Path
from typing import Any

from chalicelib.observability import logger
from integreat.local import journal, moto_state

ACCOUNT = moto_state.ACCOUNT
INTERVAL_SECONDS = 2.0
POOLS, OBJECTS, MESSAGES, JOURNAL = "cognito.pickle", "objects.json", "messages.json", "journal.jsonl"


def _pools(region: str) -> dict[str, Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    pools: dict[str, Any] = cognitoidp_backends[ACCOUNT][region].user_pools
    return pools


def write_atomically(path: Path, data: bytes) -> None:
    """A reader (or the next start after a crash) sees the old file or the new one, never half."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_bytes(data)
    os.replace(scratch, path)


def restore_pools(folder: Path, *, region: str) -> int:
    """Before provisioning: the pools come back with their ids, so clients and tokens stay valid."""
    path = folder / POOLS
    if not path.exists():
        return 0
    pools = _pools(region)
    saved: dict[str, Any] = pickle.loads(path.read_bytes())  # noqa: S301 (our own file, written by our last run)
    for pool_id, pool in saved.items():
        pool.json_web_key = _moto_key()
        pools[pool_id] = pool
    return len(saved)


def _moto_key() -> Any:
    from joserfc import jwk
    from moto.utilities.utils import load_resource

    return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def pools_bytes(region: str) -> bytes:
    """The pools, pickled without touching the live objects (the Cognito layer keeps serving)."""
    for _ in range(5):
        try:
            shallow = {pool_id: copy.copy(pool) for pool_id, pool in _pools(region).items()}
            for pool in shallow.values():
                pool.json_web_key = None  # a key object does not pickle; moto's is a fixed resource anyway
            return pickle.dumps(shallow)
        except RuntimeError:  # a dict changed size while pickled: a sign-up raced us, try again
            continue
    raise RuntimeError("the user pools kept changing while being saved")


def load_data(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The last snapshot with the journal replayed over it: (queue -> id -> message, key -> object)."""
    queues: dict[str, dict[str, Any]] = {}
    if (folder / MESSAGES).exists():
        for queue, items in json.loads((folder / MESSAGES).read_text()).items():
            queues[queue] = {m["id"]: m for m in map(_message, items)}
    objects: dict[str, Any] = {}
    if (folder / OBJECTS).exists():
        objects = {item["key"]: _object(item) for item in json.loads((folder / OBJECTS).read_text())}
    journal.replay(journal.read(folder / JOURNAL), queues, objects)
    return queues, objects


def _message(item: Any) -> dict[str, Any]:
    """A saved message; a bare body is the format before issue 14 (visible messages only)."""
    if isinstance(item, dict):
        return item
    extras: dict[str, Any] = {"message_attributes": {}, "system_attributes": {}}
    return {"id": str(uuid.uuid4()), "body": item, "receive_count": 0, "sent": None, "first_receive": None,
            "sender_id": _default_sender(), "extras": _encode(extras)}  # fmt: skip


def _object(item: dict[str, Any]) -> dict[str, Any]:
    """A saved object; the format before issue 14 kept the content type apart from the metadata."""
    if "content_type" not in item:
        return item
    metadata = {"Content-Type": item["content_type"]} | {
        f"x-amz-meta-{k}": v for k, v in item["metadata"].items()
    }
    return {"key": item["key"], "body": item["body"], "metadata": metadata}


def _default_sender() -> str:
    from moto.sqs.models import DEFAULT_SENDER_ID

    return str(DEFAULT_SENDER_ID)


def _encode(extras: dict[str, Any]) -> str:
    import base64

    return base64.b64encode(pickle.dumps(extras)).decode()


def restore_data(folder: Path, *, region: str, bucket: str) -> dict[str, int]:
    """After provisioning (the bucket and queues exist): objects and every queued message."""
    queues, objects = load_data(folder)
    restored = {"objects": moto_state.restore_objects(bucket, list(objects.values())), "messages": 0}
    for queue, messages in queues.items():
        restored["messages"] += moto_state.restore_messages(region, queue, list(messages.values()))
    return restored


class Snapshots:
    """Saves the state into `folder`: `save()` now, or every `interval` seconds in a thread when
    something changed (`start()`/`stop()`, which saves a last time)."""

    def __init__(self, folder: Path, *, region: str, bucket: str, queues: list[str], storage_queue: str,
                 interval: float = INTERVAL_SECONDS) -> None:  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self._region, self._bucket, self._queues = folder, region, bucket, queues
        self.journal = journal.Journal(folder / JOURNAL, region=region, queues=queues,
                                       storage_queue=storage_queue, bucket=bucket)  # fmt: skip
        self._interval = interval
        self._seen: tuple[str, Any] = ("", None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="snapshots", daemon=True)
        self.saves = 0

    def start(self) -> None:
        """Write the restored state, then journal from there (the old journal is not lost first)."""
        self.save(force=True)
        self.journal.install()
        self._thread.start()

    def stop(self) -> dict[str, int]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            return self.save(force=True)
        finally:
            self.journal.uninstall()

    def save(self, *, force: bool = False) -> dict[str, int]:
        """Write what changed; returns the counts of what the snapshot holds."""
        pools = pools_bytes(self._region)
        digest = hashlib.sha256(pools).hexdigest()
        fingerprint = moto_state.objects_fingerprint(self._bucket)
        with self.journal.lock:
            if not force and not self.journal.dirty and self._seen == (digest, fingerprint):
                return {}
            write_atomically(self.folder / POOLS, pools)
            objects = moto_state.bucket_objects(self._bucket)
            write_atomically(self.folder / OBJECTS, json.dumps(objects).encode())
            messages = {q: moto_state.queue_messages(self._region, q) for q in self._queues}
            write_atomically(self.folder / MESSAGES, json.dumps(messages).encode())
            self.journal.truncate()
            self._seen = (digest, fingerprint)
        self.saves += 1
        return {"pools": len(_pools(self._region)), "objects": len(objects),
                "messages": sum(len(m) for m in messages.values())}  # fmt: skip

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.save()
            except Exception:  # the next tick tries again; the journal still holds the changes
                logger.exception("local platform: snapshot failed")
