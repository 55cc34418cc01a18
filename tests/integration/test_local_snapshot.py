"""Issue 14: the local platform's snapshot keeps messages in flight and their receive counts
(the DLQ after 5 receives holds across restarts), and the journal keeps what was queued after
the last snapshot when the process dies without saving.

The session's moto server runs in this process, so its backends are the ones the snapshot reads;
these tests use a region of their own there, and "a fresh moto" is the queues deleted and made
again (never `mock_aws`, whose exit resets every backend of the process, the session's too)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import boto3

from chalicelib.provisioning.queues import QueuePair, ensure_queue
from integreat.local import snapshot

REGION = "ap-southeast-2"  # no other test uses it
QUEUES = ["work", "work-dlq"]


def _snapshots(folder: Path) -> snapshot.Snapshots:
    return snapshot.Snapshots(folder, region=REGION, bucket="none", queues=QUEUES, storage_queue="work")


def _sqs(endpoint: str) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)


def _fresh(sqs: Any) -> QueuePair:
    """The queues as a new moto would have them: made again, empty."""
    for name in QUEUES:
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    return ensure_queue(sqs, "work")


def _receive(sqs: Any, url: str, visibility: int) -> list[dict[str, Any]]:
    found = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility, AttributeNames=["All"]
    )
    return list(found.get("Messages", []))


def test_in_flight_messages_keep_their_receive_count_and_reach_the_dlq_after_a_restart(
    tmp_path: Path, moto_endpoint: str
) -> None:
    sqs = _sqs(moto_endpoint)
    url = _fresh(sqs).url
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(3):
        assert _receive(sqs, url, visibility=0)  # failed deliveries, visible again at once
    assert _receive(sqs, url, visibility=300)  # the fourth is in flight: invisible for 5 minutes
    _snapshots(tmp_path).save(force=True)

    pair = _fresh(sqs)  # a fresh moto: the next start
    assert snapshot.restore_data(tmp_path, region=REGION, bucket="none")["messages"] == 1
    fifth = _receive(sqs, pair.url, visibility=0)
    assert [m["Body"] for m in fifth] == ["poison"]
    assert fifth[0]["Attributes"]["ApproximateReceiveCount"] == "5"
    assert _receive(sqs, pair.url, visibility=0) == []  # a sixth receive moves it to the DLQ
    assert [m["Body"] for m in _receive(sqs, pair.dlq_url, visibility=0)] == ["poison"]


def test_a_crash_after_the_snapshot_loses_no_queued_message(tmp_path: Path, moto_endpoint: str) -> None:
    sqs = _sqs(moto_endpoint)
    url = _fresh(sqs).url
    sqs.send_message(QueueUrl=url, MessageBody="before")
    saver = _snapshots(tmp_path)
    saver.save(force=True)
    saver.journal.install()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="after")  # then the process dies: no save
        for message in _receive(sqs, url, visibility=300):
            if message["Body"] == "before":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    finally:
        saver.journal.uninstall()

    url = _fresh(sqs).url  # a fresh moto: the next start
    snapshot.restore_data(tmp_path, region=REGION, bucket="none")
    assert [m["Body"] for m in _receive(sqs, url, visibility=0)] == ["after"]
