"""A write-ahead journal of moto's queues (and of the objects S3 events name), so that a crash of
the platform process loses no event the API answered 202 (issue 14: 324 of 333 were lost).

Every message added to a platform queue (a send, or a move to the DLQ), every delete and every
receive count is appended to `journal.jsonl` before moto's answer leaves the process; so is
the object each S3 event on the storage queue names, read from moto at that moment (the front
sends the event before it answers the upload). The file is written unbuffered: a killed process
loses nothing the kernel has. `snapshot.py` replays it over the last snapshot on the next start
and empties it after each snapshot. Hooks are instance attributes on moto's objects, so nothing
of moto's code is changed and `uninstall()` puts everything back.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from integreat.local import moto_state

Record = dict[str, Any]


class Journal:
    """Hooks on the named queues of moto's SQS backend in `region`; `storage_queue`'s S3 events
    also journal the objects of `bucket` they name."""

    def __init__(
        self, path: Path, *, region: str, queues: list[str], storage_queue: str, bucket: str
    ) -> None:
        self.path, self._region, self._queues = path, region, queues
        self._storage_queue, self._bucket = storage_queue, bucket
        self.lock = threading.RLock()  # held by snapshot.save: no change slips between it and truncation
        self._fd: int | None = None
        self._undo: list[Callable[[], None]] = []
        self.dirty = False

    def install(self) -> None:
        """Start a fresh journal (call once the state it follows is on disk) and hook moto."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        backend = moto_state.sqs_backend(self._region)
        for name in self._queues:
            queue = backend.get_queue(name)
            self._hook(queue, "add_message", self._adding(name, queue.add_message))
            self._hook(queue, "delete_message", self._deleting(name, queue))
        self._hook(backend, "receive_message", self._receiving(backend.receive_message))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def truncate(self) -> None:
        """After a snapshot holding everything journaled so far (under `lock`)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
        self.dirty = False

    def append(self, record: Record) -> None:
        with self.lock:
            if self._fd is not None:
                os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
                self.dirty = True

    def _hook(self, target: Any, name: str, replacement: Callable[..., Any]) -> None:
        setattr(target, name, replacement)
        self._undo.append(lambda: delattr(target, name))

    def _adding(self, queue: str, original: Callable[[Any], None]) -> Callable[[Any], None]:
        def add_message(message: Any) -> None:
            with self.lock:
                original(message)
                self.append({"op": "add", "q": queue, "m": moto_state.message_state(message)})
                if queue == self._storage_queue:
                    self._journal_objects(message.body)

        return add_message

    def _deleting(self, queue: str, target: Any) -> Callable[[str], None]:
        original = target.delete_message

        def delete_message(receipt_handle: str) -> None:
            with self.lock:
                ids = [m.id for m in target._messages if m.had_receipt_handle(receipt_handle)]
                original(receipt_handle)
                if ids:
                    self.append({"op": "del", "q": queue, "ids": ids})

        return delete_message

    def _receiving(self, original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        # Not under the lock: a long poll waits inside moto. Counts are absolute, so a record
        # landing after a snapshot that already saw them is harmless.
        def receive_message(queue_name: str, *args: Any, **kwargs: Any) -> list[Any]:
            found = original(queue_name, *args, **kwargs)
            if found and queue_name in self._queues:
                counts = {m.id: m.approximate_receive_count for m in found}
                self.append({"op": "recv", "q": queue_name, "counts": counts})
            return found

        return receive_message

    def _journal_objects(self, body: str) -> None:
        for key in _event_keys(body, self._bucket):
            self.append({"op": "obj", "key": key, "obj": moto_state.object_state(self._bucket, key)})


def _event_keys(body: str, bucket: str) -> list[str]:
    """The keys of `bucket` an S3 event names (URL-encoded in the record, as S3 sends them)."""
    try:
        records = json.loads(body).get("Records", [])
    except (ValueError, AttributeError):
        return []
    return [
        unquote_plus(r["s3"]["object"]["key"])
        for r in records
        if isinstance(r, dict) and r.get("s3", {}).get("bucket", {}).get("name") == bucket
    ]


def read(path: Path) -> list[Record]:
    """The journal's records; a torn last line (the process died mid-write) is dropped."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


Queues = dict[str, dict[str, Any]]


def replay(records: list[Record], queues: Queues, objects: dict[str, Any]) -> None:
    """Apply the records, in order, to a snapshot's messages (queue -> id -> state) and objects."""
    for record in records:
        _REPLAY[record["op"]](record, queues, objects)


def _replay_add(record: Record, queues: Queues, objects: dict[str, Any]) -> None:
    for held in queues.values():  # a move to the DLQ leaves its source queue
        held.pop(record["m"]["id"], None)
    queues.setdefault(record["q"], {})[record["m"]["id"]] = record["m"]


def _replay_delete(record: Record, queues: Queues, objects: dict[str, Any]) -> None:
    for message_id in record["ids"]:
        queues.get(record["q"], {}).pop(message_id, None)


def _replay_receive(record: Record, queues: Queues, objects: dict[str, Any]) -> None:
    held = queues.get(record["q"], {})
    for message_id, count in record["counts"].items():
        if message_id in held:
            held[message_id]["receive_count"] = max(held[message_id]["receive_count"], count)


def _replay_object(record: Record, queues: Queues, objects: dict[str, Any]) -> None:
    if record["obj"] is None:
        objects.pop(record["key"], None)
    else:
        objects[record["key"]] = record["obj"]


_REPLAY: dict[str, Callable[[Record, Queues, dict[str, Any]], None]] = {
    "add": _replay_add,
    "del": _replay_delete,
    "recv": _replay_receive,
    "obj": _replay_object,
}
