"""Usage counted in memory, handed to Postgres in batches (`chalicelib.usage.store.flush`).

A request costs a few dictionary updates under a lock, never a round trip: the counts of an
instance go to `integreat.record_usage` at most every `flush_seconds`, from whichever request
finds the interval over. Each batch has an id, so a batch whose answer was lost is sent again
as it was and counts once. What an instance has counted but not yet flushed is lost if Lambda
reclaims it first (at most `flush_seconds` of its traffic): usage is a lower bound.

The request limit is per app and minute across every instance: each flush answers the app's
total for the minute so far, and an instance admits a request while that total plus what it
admitted since is under the limit. So the limit holds to within what the other instances admit
in one flush interval.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from chalicelib.usage.model import REQUESTS, THROTTLED

_CLASSES = {n: f"requests_{n}xx" for n in range(1, 6)}
#: Batches kept for a re-send while the database is away; older ones are dropped (and logged).
MAX_RETRIES = 20


@dataclass(frozen=True)
class Batch:
    """One flush: its id, the daily counts, and this minute's admitted requests per app."""

    id: str
    daily: dict[tuple[str, date, str], int]
    minute: int  # minutes since the epoch, UTC
    requests: dict[str, int] = field(default_factory=dict)


class Meter:
    def __init__(self, flush_seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.flush_seconds, self._clock = flush_seconds, clock
        self._lock = threading.Lock()
        self._daily: Counter[tuple[str, date, str]] = Counter()
        self._admitted: Counter[tuple[str, int]] = Counter()  # (app, minute): not yet flushed
        self._known: dict[str, tuple[int, int]] = {}  # app -> (minute, total of every instance)
        self._retry: list[Batch] = []
        self._flushed_at = clock()
        self._day_number, self._today = -1, date.min
        self.dropped = 0  # batches given up while the database was away

    def _day(self, now: float) -> date:
        """The UTC date of `now`, computed once per day (this is on every request)."""
        number = int(now // 86400)
        if number != self._day_number:
            self._day_number, self._today = number, datetime.fromtimestamp(now, UTC).date()
        return self._today

    def add(self, app: str, figure: str, value: int = 1) -> None:
        if value:
            day = self._day(self._clock())
            with self._lock:
                self._daily[(app, day, figure)] += value

    def record_request(self, app: str, status: int) -> None:
        day = self._day(self._clock())
        with self._lock:
            self._daily[(app, day, REQUESTS)] += 1
            self._daily[(app, day, _CLASSES.get(status // 100) or f"requests_{status // 100}xx")] += 1

    def admit(self, app: str, per_minute: int) -> int | None:
        """Count a request of `app` against its limit: None if admitted, else the seconds until
        the minute ends (its Retry-After); a refusal counts as `throttled`."""
        now = self._clock()
        minute = int(now // 60)
        with self._lock:
            known_minute, total = self._known.get(app, (minute, 0))
            used = (total if known_minute == minute else 0) + self._admitted[(app, minute)]
            if used < per_minute:
                self._admitted[(app, minute)] += 1
                return None
            self._daily[(app, self._day(now), THROTTLED)] += 1
        return max(1, math.ceil((minute + 1) * 60 - now))

    def pending(self, app: str, figure: str) -> int:
        """What this instance counted today for `app` and has not flushed yet."""
        day = self._day(self._clock())
        with self._lock:
            return self._daily[(app, day, figure)] + sum(
                b.daily.get((app, day, figure), 0) for b in self._retry
            )

    def due(self) -> bool:
        return self._clock() - self._flushed_at >= self.flush_seconds

    def take(self) -> list[Batch]:
        """The batches to send now: any earlier one not yet confirmed, then what was counted since."""
        minute = int(self._clock() // 60)
        with self._lock:
            self._flushed_at = self._clock()
            batches = list(self._retry)
            self._retry.clear()
            requests = {app: n for (app, m), n in self._admitted.items() if m == minute}
            if self._daily or requests:
                batches.append(Batch(str(uuid.uuid4()), dict(self._daily), minute, requests))
            self._daily.clear()
            self._admitted.clear()  # earlier minutes are over; this one's go in the batch
            for app, n in requests.items():  # until the answer comes, they still count here
                known_minute, total = self._known.get(app, (minute, 0))
                self._known[app] = (minute, (total if known_minute == minute else 0) + n)
        return batches

    def confirmed(self, batch: Batch, totals: dict[str, int]) -> None:
        """The database applied `batch`: every instance's requests this minute, per app."""
        with self._lock:
            for app, total in totals.items():
                self._known[app] = (batch.minute, total)

    def failed(self, batch: Batch) -> None:
        """Send `batch` again with the next flush (same id: it counts once)."""
        with self._lock:
            self._retry.append(batch)
            if len(self._retry) > MAX_RETRIES:
                self._retry.pop(0)
                self.dropped += 1
