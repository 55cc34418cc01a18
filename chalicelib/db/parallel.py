"""Run one step per item over a bounded number of connections (one connection per worker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg2

from chalicelib.db.errors import DatabaseError
from chalicelib.db.pool import Connect, Connection

T = TypeVar("T")


def for_each(
    connect: Connect,
    items: Sequence[T],
    step: Callable[[Connection, T], None],
    *,
    workers: int = 4,
    on_done: Callable[[T], None] | None = None,
) -> dict[T, str]:
    """Apply `step` to every item; one failure does not stop the others. Returns {item: error}."""
    failures: dict[T, str] = {}
    chunks = [list(items[i::workers]) for i in range(workers) if items[i::workers]]

    def work(chunk: list[T]) -> None:
        conn = connect()
        try:
            for item in chunk:
                try:
                    step(conn, item)
                except (DatabaseError, psycopg2.Error) as exc:
                    failures[item] = str(exc).strip()
                    if conn.closed:
                        conn = connect()
                if on_done is not None:
                    on_done(item)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=max(1, len(chunks))) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks]:
            future.result()
    return failures
