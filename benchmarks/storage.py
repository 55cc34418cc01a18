"""Storage events into the index: the real consumer vs a raw batched INSERT of the same rows.

One SQS batch of 1,000 records, each an ObjectCreated notification (the AWS shape, as in
tests/events/), uploaded by an app's IAM role into a members-writable `*/*` folder: the path
that needs no S3 call. The consumer parses, decodes, decides with the one decision function,
and writes one batched upsert for the app. The floor, in the same run and database, is what no
consumer can skip: decode each message's body (`json.loads`) and take the row's fields from it
(the key URL-decoded), then the index's own upsert (`chalicelib.storage.index.UPSERT`: ordered by
sequencer, so a duplicate or late event changes nothing) of the same 1,000 rows into a copy of
the table. Until issue 20 the floor built its rows in Python before the clock started and ran a
plain INSERT: the 1,000 body decodes (~5 ms) and the upsert's conflict check (~2 ms) that the
consumer must do were outside it, which put the best ratio any consumer could reach at ~0.72.
Figures: `storage.events_per_s`, `storage.throughput_ratio` (consumer / floor; goal >= 0.65, issue 20).

Run alone: `.venv/bin/python -m benchmarks.storage`.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any
from urllib.parse import unquote_plus

import psycopg2.extras

from benchmarks import _platform
from benchmarks._pg import backend_pid, fresh_database, one_cpu
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.storage.consumer import StorageDeps, process
from chalicelib.storage.index import UPSERT
from chalicelib.storage.objects import ObjectStore
from chalicelib.storage.spec import FolderRule, StorageSpec
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import record_identity

EVENTS = 1000
RUNS = 11
ROLE_ID = "AROABENCHDROPBOX0001"
APP = AppSpec(
    "bench",
    "Bench",
    "invite",
    ("member",),
    storage=StorageSpec((FolderRule("drop/", "members", "members", ("*/*",), 10 << 20),)),
)

GOALS = {"storage.throughput_ratio": (">=", 0.65)}


class _NoS3:
    """The measured path must make no S3 call; any attempt fails the benchmark loudly."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected S3 call: {name}")


def _batch(run: int) -> dict[str, Any]:
    records = []
    for i in range(EVENTS):
        s3 = {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventTime": "2026-11-27T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": f"AWS:{ROLE_ID}:bench-backend"},
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "integreat-bench", "arn": "arn:aws:s3:::integreat-bench"},
                   "object": {"key": f"bench/drop/run{run}/file+{i:05d}.bin", "size": 1000 + i,
                              "eTag": f"{i:032x}", "sequencer": f"{run:04X}{i:012X}"}},
        }  # fmt: skip
        records.append({"messageId": f"r{run}-{i}", "receiptHandle": "x", "body": json.dumps({"Records": [s3]}),
                        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q", "awsRegion": "eu-west-1"})  # fmt: skip
    return {"Records": records}


RAW_UPSERT = UPSERT.replace("INSERT INTO files ", "INSERT INTO app_bench.files_raw AS files ")


def _raw_rows(event: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The floor's share of the work: each body decoded, the row's fields taken from it."""
    rows = []
    for record in event["Records"]:
        for s3 in json.loads(record["body"])["Records"]:
            obj = s3["s3"]["object"]
            rows.append((unquote_plus(obj["key"]), obj["size"], obj["eTag"], None, s3["userIdentity"]["principalId"],
                         obj["sequencer"].rjust(32, "0"), s3["eventTime"], False))  # fmt: skip
    return rows


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench:
        _platform.provision(bench.url, [APP])
        conn = connector(bench.url)()
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE app_bench.files_raw (LIKE app_bench.files INCLUDING ALL)")
        record_identity(conn, "bench", "bench-client", "arn:aws:iam::123456789012:role/bench", ROLE_ID)
        db = Database(_platform.runtime_url(bench.url))
        deps = StorageDeps(db, ObjectStore(_NoS3(), "integreat-bench"), None, False)
        try:
            process(_batch(RUNS), deps)  # warm: registry, imports, connection (keys of its own)
            pids = [backend_pid(conn), int(db.read("bench", "SELECT pg_backend_pid()")[0][0])]
            with one_cpu(bench, pids) as pinned:
                consumer, raw = _measure(deps, conn)
            indexed = db.read("bench", "SELECT count(*) FROM files WHERE NOT deleted")[0][0]
        finally:
            db.close()
            conn.close()
    assert indexed == EVENTS * (RUNS + 1), indexed
    consumer_s, raw_s = statistics.median(consumer), statistics.median(raw)
    return {
        "storage.events_per_s": round(EVENTS / consumer_s),
        "storage.raw_rows_per_s": round(EVENTS / raw_s),
        "storage.throughput_ratio": round(raw_s / consumer_s, 3),
        "storage.batch_events": EVENTS,
        "storage.pinned_one_cpu": pinned,
    }


def _measure(deps: StorageDeps, conn: Any) -> tuple[list[float], list[float]]:
    """Alternate the consumer and the raw INSERT, fresh keys each run; seconds per batch."""
    consumer, raw = [], []
    for run_no in range(RUNS):
        event = _batch(run_no)
        began = time.perf_counter()
        response = process(event, deps)
        consumer.append(time.perf_counter() - began)
        assert response == {"batchItemFailures": []}, response
        event = _batch(run_no)
        began = time.perf_counter()
        rows = _raw_rows(event)
        with conn.cursor() as cur:
            psycopg2.extras.execute_values(cur, "BEGIN; " + RAW_UPSERT, rows, page_size=EVENTS)
            cur.execute("COMMIT")
        raw.append(time.perf_counter() - began)
    return consumer, raw


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["storage"]))
