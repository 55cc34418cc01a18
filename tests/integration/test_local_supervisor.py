"""Issue 14: the supervisor restarts a part that died, with its own start step, and says so;
a queue worker whose thread ended is replaced."""

from __future__ import annotations

import time
from typing import Any

from integreat.local import parts
from integreat.local.supervisor import Part, Supervisor
from integreat.local.workers import QueueWorker


class Server:
    def __init__(self) -> None:
        self.up = True

    def stop(self) -> None:
        self.up = False


def test_a_dead_part_is_restarted_and_reported() -> None:
    made: list[Server] = []

    def start() -> Server:
        made.append(Server())
        return made[-1]

    part = Part("thing", start=start, stop=lambda s: s.stop(), healthy=lambda s: s.up)
    lines: list[str] = []
    supervisor = Supervisor([part], say=lines.append)
    part.launch()
    assert supervisor.check() == []
    made[-1].up = False  # it dies
    assert supervisor.check() == ["thing"]
    assert len(made) == 2
    assert part.current is made[1]
    assert lines
    assert lines[0].startswith("thing: died, restarted in ")


def test_a_failing_restart_is_retried_and_the_part_stays_down_meanwhile() -> None:
    attempts: list[int] = []

    def start() -> Server:
        attempts.append(1)
        if len(attempts) == 2:
            raise RuntimeError("port still held")
        return Server()

    part = Part("pg", start=start, stop=lambda s: s.stop(), healthy=lambda s: s.up)
    lines: list[str] = []
    supervisor = Supervisor([part], say=lines.append)
    part.launch().up = False
    assert supervisor.check() == []
    assert supervisor.down("pg")
    assert supervisor.check() == ["pg"]
    assert not supervisor.down("pg")
    assert "retrying" in lines[0]
    assert lines[1].startswith("pg: died, restarted in ")


class EmptyQueue:
    def receive_message(self, **_: Any) -> dict[str, Any]:
        time.sleep(0.01)
        return {}


def test_a_worker_whose_thread_ended_is_replaced() -> None:
    template = QueueWorker("w", EmptyQueue(), "url", "arn", lambda e: {"batchItemFailures": []}, "eu-west-1")
    part = parts.worker("w", template.restarted)
    first = part.launch()
    supervisor = Supervisor([part], say=lambda line: None)
    try:
        first.crash()
        deadline = time.monotonic() + 5
        while first.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not first.alive()
        assert supervisor.check() == ["worker w"]
        assert part.current is not first
        assert part.current.alive()
    finally:
        part.shutdown()
