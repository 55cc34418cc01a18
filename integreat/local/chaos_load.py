"""The load of the chaos harness (`chaos.py`): publishers and uploaders hitting the local API
as real clients do, retrying 503 and refused connections, and keeping score of every answer.

Bounded: each client stops when told to or after `max_events`; everything goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from integreat.demo import _post_form

RETRY_PAUSE = 0.2  # clients retry a 503 or a refused connection after this (Retry-After says 2-5 s)
PACE_SECONDS = 1.0  # between one client's requests: 8 publishers of 5 send ~40 events a second


@dataclass
class Score:
    """What the clients saw; shared by their threads (under `lock`)."""

    accepted: set[str] = field(default_factory=set)  # event ids answered 202
    uploaded: set[str] = field(default_factory=set)  # keys S3 answered 2xx
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (connection refused...)
    successes: list[float] = field(default_factory=list)  # monotonic times of 202s
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_success_after(self, moment: float) -> float | None:
        with self.lock:
            return next((t for t in self.successes if t > moment), None)


def call(api: str, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:  # refused, reset, timed out: the platform is down or restarting
        return 0, None


class Load:
    """`publishers` threads publishing batches of `batch` events as the events app; `uploaders`
    threads uploading through presigned POSTs as a church member."""

    def __init__(self, api: str, tokens: dict[str, str], run: str, *, publishers: int = 8, uploaders: int = 2,
                 batch: int = 5, max_events: int = 2000) -> None:  # fmt: skip
        self.api, self.tokens, self.run, self.batch = api, tokens, run, batch
        self.score = Score()
        self._stop = threading.Event()
        self._per_publisher = max(1, max_events // max(publishers, 1))
        self._threads = [
            threading.Thread(target=self._publish, args=(n,), daemon=True) for n in range(publishers)
        ]
        self._threads += [
            threading.Thread(target=self._upload, args=(n,), daemon=True) for n in range(uploaders)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _note(self, status: int) -> None:
        with self.score.lock:
            self.score.statuses[status] += 1
            if status == 202:
                self.score.successes.append(time.monotonic())

    def _until_answered(self, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
        """Retry what a client retries (503, no answer) until another answer or the stop."""
        while True:
            status, answer = call(self.api, method, path, token, body)
            self._note(status)
            if status not in (0, 503) or self._stop.is_set():
                return status, answer
            time.sleep(RETRY_PAUSE)

    def _publish(self, thread: int) -> None:
        sent = 0
        while not self._stop.is_set() and sent < self._per_publisher:
            ids = [f"{self.run}-{thread}-{sent + i}" for i in range(self.batch)]
            events = [
                {"specversion": "1.0", "id": i, "type": "events.event.published", "data": {"n": i}}
                for i in ids
            ]
            status, _ = self._until_answered("POST", "/apps/events/events", self.tokens["events"], events)
            if status == 202:
                with self.score.lock:
                    self.score.accepted.update(ids)
            sent += self.batch
            self._stop.wait(PACE_SECONDS)  # spread over every fault, not all sent before the first

    def _upload(self, thread: int) -> None:
        count = 0
        while not self._stop.is_set() and count < self._per_publisher:
            name = f"{self.run}-{thread}-{count}.txt"
            form = {"folder": "uploads/", "filename": name, "content_type": "text/plain", "size": 5}
            status, signed = self._until_answered(
                "POST", "/apps/church/files/uploads", self.tokens["church"], form
            )
            if status == 200 and signed:
                self._post(signed)
            count += 1
            self._stop.wait(PACE_SECONDS)

    def _post(self, signed: dict[str, Any]) -> None:
        for _ in range(50):  # bounded: S3 is down only while the platform restarts
            try:
                answer = _post_form(signed["upload"]["url"], signed["upload"]["fields"], b"hello")
            except OSError:
                answer = 0
            if answer >= 500 and answer != 503:
                self._note(answer)
            if 200 <= answer < 300:
                with self.score.lock:
                    self.score.uploaded.add(signed["key"])
                return
            if self._stop.is_set():
                return
            time.sleep(RETRY_PAUSE)
