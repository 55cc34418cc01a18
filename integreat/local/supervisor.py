"""The local platform looks after its parts: a thread checks each one's health about every second
and restarts what died with that part's own start step, saying so ("postgres: died, restarted in
1.2 s"). Meanwhile the API answers 503 with Retry-After (a database outage already does), the
workers pause (`down()`), and queued work resumes once the part is back (issue 14: a killed
Postgres stayed dead until a person restarted `make dev`).

    postgres = Part("postgres", start=server.start, stop=server.stop, healthy=server.accepting)
    supervisor = Supervisor([postgres]); supervisor.start(); ...; supervisor.stop()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.observability import logger

INTERVAL_SECONDS = 1.0


@dataclass
class Part:
    """One restartable piece. `start()` makes a running instance (and returns it), `stop(it)`
    ends it (best effort: a dead part may fail to stop), `healthy(it)` says whether it serves."""

    name: str
    start: Callable[[], Any]
    stop: Callable[[Any], None]
    healthy: Callable[[Any], bool]
    current: Any = None
    restarts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def launch(self) -> Any:
        with self._lock:
            self.current = self.start()
            return self.current

    def shutdown(self) -> None:
        """The platform's stop step for this part: ends whichever instance runs now."""
        with self._lock:
            current, self.current = self.current, None
        if current is not None:
            self.stop(current)

    def ok(self) -> bool:
        try:
            return self.current is not None and bool(self.healthy(self.current))
        except Exception:  # a probe that cannot tell is a part that does not serve
            return False

    def restart(self) -> None:
        with self._lock:
            old, self.current = self.current, None
        if old is not None:
            try:
                self.stop(old)
            except Exception:  # it died: whatever is left of it may not stop cleanly
                logger.info("supervisor: stopping a dead part failed", extra={"part": self.name})
        self.launch()
        self.restarts += 1


class Supervisor:
    """Checks `parts` every `interval` seconds from one thread; `say` gets one line per event."""

    def __init__(
        self,
        parts: Sequence[Part],
        *,
        interval: float = INTERVAL_SECONDS,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.parts = list(parts)
        self._interval, self._say = interval, say or _say
        self._down: dict[str, float] = {}  # part -> when it was found dead
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Before the parts stop: a stopping part must not be taken for a dead one."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def down(self, name: str) -> bool:
        """Whether `name` is known to be down (found dead, not yet back)."""
        return name in self._down

    def check(self) -> list[str]:
        """One round: restart every part found dead; returns the names restarted."""
        restarted = []
        for part in self.parts:
            if self._stop.is_set() or part.ok():
                continue
            if self._revive(part):
                restarted.append(part.name)
        return restarted

    def _revive(self, part: Part) -> bool:
        first = part.name not in self._down
        began = self._down.setdefault(part.name, time.monotonic())
        try:
            part.restart()
        except Exception as exc:  # tried again next round
            if first:
                self._say(f"{part.name}: died; restarting failed ({_first_line(exc)}), retrying")
            return False
        del self._down[part.name]
        self._say(f"{part.name}: died, restarted in {time.monotonic() - began:.1f} s")
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # the supervisor itself must not die of one bad round
                logger.exception("supervisor: a round failed")


def _say(line: str) -> None:
    print(line, flush=True)  # flushed: the next fault may be a SIGKILL of this process


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
