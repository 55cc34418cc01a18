"""Records failed transiently come back soon (chalicelib/batching.py, issue 14 item 8): the delay
grows with the receive count, only transient failures are shortened, and the partial batch
response is unchanged. The SQS client is an in-memory fake: injected, never patched."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.batching import RETRY_CAP_SECONDS, SqsRetries, StagingBatchProcessor, retry_delay
from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.provisioning.queues import VISIBILITY_TIMEOUT_SECONDS
from tests.conftest import load_event

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:integreat-events"


def record(message_id: str, receives: int = 1, arn: str = QUEUE_ARN) -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(load_event("sqs_s3_object_created")["Records"][0])
    raw.update(messageId=message_id, receiptHandle=f"handle-{message_id}", eventSourceARN=arn)
    raw["attributes"]["ApproximateReceiveCount"] = str(receives)
    return raw


class FakeSqs:
    def __init__(self, *, broken: bool = False) -> None:
        self.batches: list[tuple[str, list[dict[str, Any]]]] = []
        self.lookups = 0
        self.broken = broken

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, str]:
        self.lookups += 1
        return {"QueueUrl": f"https://sqs.example/{QueueOwnerAWSAccountId}/{QueueName}"}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.broken:
            raise ConnectionError("sqs endpoint unreachable")
        self.batches.append((QueueUrl, Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def timeouts(self) -> dict[str, int]:
        return {e["ReceiptHandle"]: e["VisibilityTimeout"] for _, entries in self.batches for e in entries}


class Recorded:
    """`Retries` that only records what it was asked to shorten."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def soon(self, records: Sequence[SQSRecord]) -> None:
        self.ids += [r.message_id for r in records]


class Failing(StagingBatchProcessor):
    """Every record stages; the flush fails them with `error`."""

    def __init__(self, retries: Recorded, error: Exception) -> None:
        super().__init__(retries)
        self.error = error
        self.staged: list[dict[str, Any]] = []

    def handle(self, record: SQSRecord) -> None:
        self.staged.append(record.raw_event)

    def flush(self) -> None:
        try:
            raise self.error
        except Exception:
            self.fail(self.staged)


# --- the schedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("receives", "delay"), [(0, 0), (1, 0), (2, 10), (3, 60), (4, 180), (5, 180), (50, 180)]
)
def test_the_delay_grows_with_the_receive_count_up_to_the_cap(receives: int, delay: int) -> None:
    assert retry_delay(receives) == delay


def test_the_cap_is_the_queues_own_visibility_timeout() -> None:
    assert RETRY_CAP_SECONDS == VISIBILITY_TIMEOUT_SECONDS  # never later than an untouched retry


# --- the SQS wrapper ------------------------------------------------------------------------------


def test_each_record_gets_its_own_delay_in_batches_of_ten_per_queue() -> None:
    sqs = FakeSqs()
    other = QUEUE_ARN.replace("integreat-events", "integreat-storage-events")
    records = [SQSRecord(record(f"m{n}", receives=1 + n % 3)) for n in range(12)] + [
        SQSRecord(record("s", 2, other))
    ]

    SqsRetries(lambda: sqs).soon(records)

    assert [(url.rsplit("/", 1)[1], len(entries)) for url, entries in sqs.batches] == [
        ("integreat-events", 10),
        ("integreat-events", 2),
        ("integreat-storage-events", 1),
    ]
    assert sqs.timeouts()["handle-m0"] == 0
    assert sqs.timeouts()["handle-m1"] == 10
    assert sqs.timeouts()["handle-m2"] == 60
    assert sqs.timeouts()["handle-s"] == 10
    assert sqs.lookups == 2  # one GetQueueUrl per queue


def test_the_queue_url_is_looked_up_once_per_container() -> None:
    sqs = FakeSqs()
    retries = SqsRetries(lambda: sqs)
    retries.soon([SQSRecord(record("a"))])
    retries.soon([SQSRecord(record("b"))])
    assert sqs.lookups == 1


def test_an_sqs_failure_never_breaks_the_batch() -> None:
    SqsRetries(lambda: FakeSqs(broken=True)).soon([SQSRecord(record("a"))])  # logs, does not raise


def test_the_client_is_not_created_until_a_record_fails() -> None:
    made: list[FakeSqs] = []

    def make() -> FakeSqs:  # creating the real client imports boto3: not on a cold start
        made.append(FakeSqs())
        return made[-1]

    retries = SqsRetries(make)
    assert made == []
    retries.soon([SQSRecord(record("a"))])
    assert len(made) >= 1


# --- the processor --------------------------------------------------------------------------------


def test_transient_failures_are_shortened_and_still_reported() -> None:
    retries = Recorded()
    event = {"Records": [record("a"), record("b")]}
    processor = Failing(retries, DatabaseUnavailableError("server closed the connection"))

    with pytest.raises(Exception, match="All records failed"):  # Powertools: the whole batch failed
        processor.run(event)

    assert retries.ids == ["a", "b"]


def test_a_partial_transient_failure_keeps_its_batch_item_failures() -> None:
    retries = Recorded()

    class OneFails(Failing):
        def handle(self, record: SQSRecord) -> None:
            if record.message_id == "b":
                super().handle(record)

    response = OneFails(retries, DatabaseUnavailableError("down")).run(
        {"Records": [record("a"), record("b")]}
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert retries.ids == ["b"]


def test_other_failures_keep_the_queues_timeout() -> None:
    retries = Recorded()

    class OneFails(Failing):
        def handle(self, record: SQSRecord) -> None:
            if record.message_id == "b":
                super().handle(record)

    response = OneFails(retries, RuntimeError("relation inbox does not exist")).run(
        {"Records": [record("a"), record("b")]}
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert retries.ids == []  # a bug or a broken table must not burn its receives in seconds


def test_a_batch_that_cannot_prepare_is_shortened_whole() -> None:
    retries = Recorded()

    class NoRegistry(Failing):
        def prepare(self) -> None:
            raise DatabaseUnavailableError("cannot connect to the database")

    with pytest.raises(DatabaseUnavailableError):
        NoRegistry(retries, RuntimeError()).run({"Records": [record("a"), record("b")]})

    assert retries.ids == ["a", "b"]
