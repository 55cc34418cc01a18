"""Structured logs (Powertools Logger) and metrics (Powertools Metrics, CloudWatch EMF).

Every log line carries the stage, the app when known, and a correlation id (API request id, SQS
message id, Cognito user). Secrets never reach a log line: URLs with passwords are masked and
keys that name secrets are redacted by the logger's formatter on the finished record, so no
call site can forget.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib.settings import STAGE

SERVICE = "integreat"
METRICS_NAMESPACE = "Integreat"

# Metric names, in one place (the app is a dimension of each).
DENIALS = "Denials"
QUARANTINES = "Quarantines"
DELIVERIES = "Deliveries"
DLQ_ARRIVALS = "DlqArrivals"
REGISTRY_STALE = "RegistryStale"  # a lookup answered from the last good copy: the database was unreachable
REQUESTS_METRIC = "Requests"  # API requests per app and status class (`class`), counted at each usage flush
THROTTLES = "Throttles"  # refusals by an app's limit (`limit`: requests, storage, events)
SERVER_ERRORS = "ServerErrors"  # a 500 from the API: a fault of ours, never of the client's input

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authorization|credential|api[_-]?key", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:password|sslpassword)=)[^&\s]+", re.IGNORECASE)
REDACTED = "***"


def redact_text(text: str) -> str:
    """Mask passwords inside `text`: `scheme://user:password@host` and `?password=` (libpq accepts both)."""
    if "://" not in text and "=" not in text:
        return text  # neither pattern can match (both need these literally): most fields, no regex
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{REDACTED}", text)


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    # Log records reuse a handful of keys; the answer per key never changes.
    return _SECRET_KEY.search(key) is not None


def redact(value: Any, key: str = "") -> Any:
    """Redact secrets in a log field: by key name, or inside URLs; recurses into dicts and lists."""
    if key and _secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))  # e.g. the exception object in stack_trace, serialized with str()


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Redacts the finished log record, after every field (message and its arguments, exception
    text, stack trace, persistent keys, extras) has been filled in: nothing is formatted later."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(redact(log))


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
    logger_formatter=RedactingFormatter(),
    stage=os.environ.get(STAGE, "local"),
)


def start_invocation(correlation_id: str | None, app: str | None = None) -> None:
    """Reset per-invocation keys (Lambda reuses the process) and set the new correlation id."""
    logger.remove_keys(["app"])
    logger.set_correlation_id(correlation_id)
    if app:
        logger.append_keys(app=app)


@contextmanager
def app_context(app: str) -> Iterator[None]:
    """Log lines inside carry `app`."""
    with logger.append_context_keys(app=app):
        yield


def count(metric: str, app: str | None, value: int = 1, **dimensions: str) -> None:
    """Emit one EMF count with the app (and stage) as dimensions, flushed at once.

    Imported lazily: metrics are emitted on denial/quarantine/delivery paths, never at cold start.
    """
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=metric, unit=MetricUnit.Count, value=value, namespace=METRICS_NAMESPACE) as m:
        m.add_dimension(name="stage", value=os.environ.get(STAGE, "local"))
        m.add_dimension(name="app", value=app or "-")
        # Named here, not left to Powertools (it adds `service` only when POWERTOOLS_SERVICE_NAME
        # is set): a dashboard's SEARCH matches a metric's whole dimension set, so it must not vary.
        m.add_dimension(name="service", value=SERVICE)
        for name, dim in dimensions.items():
            m.add_dimension(name=name, value=dim)
