"""moto's SQS and S3 state, read and written in-process (as `snapshot.py` reads its Cognito pools).

Through the HTTP API a message in flight cannot be seen and a receive count cannot be set, so a
snapshot taken that way dropped every message waiting out a failed delivery and restarted the
counts at 0 (a poison message then dodged the DLQ across restarts: issue 14). Reading moto's
backend objects keeps both. Every value returned here is plain data (JSON-safe), so the journal
and the snapshot files can hold it.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

ACCOUNT = "123456789012"  # moto's default account

MessageState = dict[str, Any]
ObjectState = dict[str, Any]


def sqs_backend(region: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][region]


def s3_backend() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["global"]


def message_state(message: Any) -> MessageState:
    """One moto `Message`, whatever its visibility, with its receive count."""
    extras = {
        "message_attributes": message.message_attributes,
        "system_attributes": message.system_attributes,
    }
    return {
        "id": message.id,
        "body": message.body,
        "receive_count": message.approximate_receive_count,
        "sent": message.sent_timestamp,
        "first_receive": message.approximate_first_receive_timestamp,
        "sender_id": message.sender_id,
        # attribute values may be bytes (Binary attributes): pickled, our own files only
        "extras": base64.b64encode(pickle.dumps(extras)).decode(),
    }


def queue_messages(region: str, queue: str) -> list[MessageState]:
    """Every message of `queue`, visible, in flight or delayed."""
    found = sqs_backend(region).queues.get(queue)
    if found is None:
        return []
    with found._messages_lock:
        return [message_state(m) for m in list(found._messages)]


def restore_messages(region: str, queue: str, states: list[MessageState]) -> int:
    """Put messages back with their ids and receive counts, visible now: whoever had one in
    flight is gone, and its receipt handle with it. The redrive policy then counts on from there."""
    from moto.sqs.models import Message

    target = sqs_backend(region).get_queue(queue)
    present = {m.id for m in target._messages}
    restored = []
    for state in states:
        if state["id"] in present:
            continue
        extras = pickle.loads(base64.b64decode(state["extras"]))  # noqa: S301 (our own file)
        message = Message(state["id"], state["body"], extras["system_attributes"])
        message.message_attributes = extras["message_attributes"]
        message.sender_id = state["sender_id"]
        message.sent_timestamp = state["sent"]
        message.approximate_first_receive_timestamp = state["first_receive"]
        message.approximate_receive_count = state["receive_count"]
        restored.append(message)
    with target._messages_lock:
        target._messages.extend(restored)
        target._messages_lock.notify_all()
    return len(restored)


def object_state(bucket: str, key: str) -> ObjectState | None:
    """The object as moto holds it now (body, content type, user metadata), or None if absent."""
    found = s3_backend().buckets.get(bucket)
    fake = found.keys.get(key) if found is not None else None
    if fake is None or not hasattr(fake, "value"):  # absent, or a delete marker
        return None
    return {"key": key, "body": base64.b64encode(fake.value).decode(), "metadata": dict(fake.metadata)}


def bucket_objects(bucket: str) -> list[ObjectState]:
    found = s3_backend().buckets.get(bucket)
    if found is None:
        return []
    states = (object_state(bucket, key) for key in list(found.keys.keys()))
    return [state for state in states if state is not None]


def objects_fingerprint(bucket: str) -> tuple[tuple[str, str], ...]:
    """(key, etag) of every object: cheap to compare, so an unchanged bucket is not rewritten."""
    found = s3_backend().buckets.get(bucket)
    if found is None:
        return ()
    pairs = ((key, getattr(found.keys.get(key), "etag", "")) for key in list(found.keys.keys()))
    return tuple(sorted(pairs))


def restore_objects(bucket: str, states: list[ObjectState]) -> int:
    """Objects straight into moto's bucket: no S3 event fires, since the index already decided
    every object it was told about, and an event still queued is restored with the queue."""
    backend = s3_backend()
    for state in states:
        fake = backend.put_object(
            bucket, state["key"], base64.b64decode(state["body"]), disable_notification=True
        )
        fake.metadata.update(state["metadata"])
    return len(states)
