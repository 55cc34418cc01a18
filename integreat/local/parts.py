"""The restartable parts of the local platform, each a `supervisor.Part`: its own start step
(which makes a fresh instance, since a stopped server thread cannot start again), its stop, and
the probe the supervisor runs about every second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integreat.local.postgres import EmbeddedPostgres, port_in_use
from integreat.local.supervisor import Part


def postgres(server: EmbeddedPostgres) -> Part:
    """The embedded server: `start()` reuses a live one of the same cluster, so a restart after a
    kill is a plain start (Postgres replays its WAL itself: nothing committed is lost)."""
    return Part("postgres", start=lambda: server.start() and server,
                stop=lambda s: s.stop(), healthy=lambda s: s.accepting())  # fmt: skip


def moto(port: int) -> Part:
    """moto's server thread. Its state lives in module-level backends, so a new server on the
    same port serves the same users, objects and messages."""

    def start() -> Any:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        return server

    return Part("moto", start=start, stop=lambda s: s.stop(), healthy=lambda s: _serving(s, port))


def _serving(server: Any, port: int) -> bool:
    thread = getattr(server, "_thread", None)
    return thread is not None and thread.is_alive() and port_in_use(port)


def listening(name: str, make: Callable[[], Any], port: int) -> Part:
    """A server object with `start()`/`stop()` on `port` (the S3 front, the Cognito layer, the
    API), made anew by `make` at each (re)start; healthy while something accepts on the port."""

    def start() -> Any:
        server = make()
        server.start()
        return server

    return Part(name, start=start, stop=lambda s: s.stop(), healthy=lambda s: port_in_use(port))


def worker(name: str, make: Callable[[], Any]) -> Part:
    """A `QueueWorker`; a thread that ended (however) is replaced by a new one on the same queue."""

    def start() -> Any:
        made = make()
        made.start()
        return made

    return Part(f"worker {name}", start=start, stop=lambda w: w.stop(), healthy=lambda w: w.alive())
