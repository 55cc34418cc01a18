"""Cross-app delivery: the real consumer vs a raw batched INSERT of the same inbox rows.

Batches of 10 and of 100 SQS records (the recorded Lambda shape), each a valid CloudEvent sent
through the API (its SenderId), fanned out to 2 subscribers (events.event.published reaches
church and students in the demo manifest). The consumer parses, verifies, routes and writes one
batched statement per subscriber; the floor, in the same run and database, inserts the same 2 x N
inbox rows with one execute_values per subscriber, as the app's own role would.
Figures: `messaging.msgs_per_s.batch_10`, `messaging.msgs_per_s.batch_100`,
`messaging.throughput_ratio` (consumer / raw, batches of 100; goal >= 0.80) and
`messaging.throughput_ratio.batch_10` (batches of 10, SQS's default; goal >= 0.70), issue 20.

Run alone: `.venv/bin/python -m benchmarks.messaging`.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any

import psycopg2.extras

from benchmarks import _platform
from benchmarks._pg import backend_pid, fresh_database, one_cpu
from chalicelib.apps import Database
from chalicelib.db.pool import connector
from chalicelib.messaging.consumer import MessagingDeps, process
from chalicelib.messaging.envelope import parse
from chalicelib.messaging.inbox import INSERT, row

SENDER = "AROABENCHAPIROLE0001:integreat-bench-api"
TYPE = "events.event.published"
RUNS = 15
SUBSCRIBERS = ("church", "students")

GOALS = {"messaging.throughput_ratio": (">=", 0.80), "messaging.throughput_ratio.batch_10": (">=", 0.70)}


def _events(n: int) -> list[str]:
    return [
        json.dumps(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/apps/events",
                "type": TYPE,
                "time": "2026-11-27T10:00:00Z",
                "datacontenttype": "application/json",
                "data": {"n": i},
            }
        )
        for i in range(n)
    ]


def _batch(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "x",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SenderId": SENDER, "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:integreat-events",
                "awsRegion": "eu-west-1",
            }
            for body in bodies
        ]
    }


def _raw(conn: Any, bodies: list[str]) -> None:
    rows = [row(parse(body)) for body in bodies]
    with conn.cursor() as cur:
        for app in SUBSCRIBERS:
            psycopg2.extras.execute_values(
                cur, f"BEGIN; {INSERT.replace('INTO inbox', f'INTO app_{app}.inbox')}", rows, page_size=1000
            )
            cur.execute("COMMIT")


def _measure(deps: MessagingDeps, conn: Any, size: int) -> tuple[float, float]:
    consumer, raw = [], []
    for _ in range(RUNS):
        event = _batch(_events(size))
        began = time.perf_counter()
        response = process(event, deps)
        consumer.append(time.perf_counter() - began)
        assert response == {"batchItemFailures": []}, response
        bodies = _events(size)
        began = time.perf_counter()
        _raw(conn, bodies)
        raw.append(time.perf_counter() - began)
    return statistics.median(consumer), statistics.median(raw)


def run() -> dict[str, float | int | bool]:
    with fresh_database() as bench:
        _platform.provision(bench.url, _platform.demo_apps())
        db = Database(_platform.runtime_url(bench.url))
        conn = connector(bench.url)()
        deps = MessagingDeps(db, api_sender_id=SENDER.split(":")[0])
        try:
            process(_batch(_events(10)), deps)  # warm: registry, imports, connection
            pids = [backend_pid(conn), int(db.read("church", "SELECT pg_backend_pid()")[0][0])]
            with one_cpu(bench, pids) as pinned:
                c10, r10 = _measure(deps, conn, 10)
                c100, r100 = _measure(deps, conn, 100)
            delivered = db.read("church", "SELECT count(*) FROM inbox")[0][0]
        finally:
            db.close()
            conn.close()
    assert delivered >= (RUNS * 110 + 10), delivered
    return {
        "messaging.msgs_per_s.batch_10": round(10 / c10),
        "messaging.msgs_per_s.batch_100": round(100 / c100),
        "messaging.throughput_ratio": round(r100 / c100, 3),
        "messaging.throughput_ratio.batch_10": round(r10 / c10, 3),
        "messaging.fanout": len(SUBSCRIBERS),
        "messaging.pinned_one_cpu": pinned,
    }


if __name__ == "__main__":
    from benchmarks.__main__ import main

    raise SystemExit(main(["messaging"]))
