"""Integration secrets from Secrets Manager, cached briefly per container.

A rotated secret is picked up within `ttl_seconds`; the value is never logged, never put in an
error message, and never leaves this module except into the upstream request header.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class SecretUnavailableError(Exception):
    """The secret could not be read (missing, no permission, service down); says which secret id."""


class SecretCache:
    def __init__(self, client: Any, ttl_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, secret_id: str) -> str:
        cached = self._values.get(secret_id)
        if cached is not None and self._clock() - cached[1] < self._ttl:
            return cached[0]
        try:
            value = self._client.get_secret_value(SecretId=secret_id).get("SecretString")
        except Exception as exc:  # botocore's ClientError or a connection error: never the value
            raise SecretUnavailableError(
                f"secret {secret_id!r} could not be read ({type(exc).__name__})"
            ) from None
        if not isinstance(value, str) or not value:
            raise SecretUnavailableError(f"secret {secret_id!r} has no SecretString")
        with self._lock:
            self._values[secret_id] = (value, self._clock())
        return value
