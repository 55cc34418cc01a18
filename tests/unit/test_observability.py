"""Unit tests for chalicelib.observability: redaction, per-invocation log keys and EMF metrics."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from chalicelib import observability
from chalicelib.observability import (
    DENIALS,
    METRICS_NAMESPACE,
    REDACTED,
    RedactingFormatter,
    app_context,
    count,
    logger,
    redact,
    redact_text,
    start_invocation,
)
from chalicelib.settings import STAGE
from tests.conftest import ReadLines

SECRET = "hunter2-Sup3rSecret"
DB_URL = f"postgresql://operator:{SECRET}@db.internal:5432/integreat"

# --- redact_text --------------------------------------------------------------------------------


def test_redact_text_masks_the_password_and_keeps_user_and_host() -> None:
    assert redact_text("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


def test_redact_text_masks_every_url_inside_a_sentence() -> None:
    text = f"primary {DB_URL}, replica redis://cache:tok3n@r.internal:6379/0 failed"

    redacted = redact_text(text)

    assert SECRET not in redacted
    assert "tok3n" not in redacted
    assert "postgresql://operator:***@db.internal:5432/integreat" in redacted
    assert "redis://cache:***@r.internal:6379/0" in redacted
    assert redacted.startswith("primary ")
    assert redacted.endswith(" failed")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nothing to see here",
        "postgresql://u@h/db",  # no password
        "https://example.org:8443/path",  # a port is not a password
        "user:pass without a scheme",
        "mail me at someone@example.org",
    ],
)
def test_redact_text_leaves_text_without_url_passwords_intact(text: str) -> None:
    assert redact_text(text) == text


def test_redact_text_masks_a_password_with_an_empty_user() -> None:
    assert SECRET not in redact_text(f"postgresql://:{SECRET}@db.internal/integreat")


# --- redact -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["password", "db_password", "Authorization", "api_key", "API-Key", "token", "client_secret", "passwd"],
)
def test_redact_masks_values_under_secret_looking_keys(key: str) -> None:
    assert redact({key: SECRET, "user": "operator"}) == {key: REDACTED, "user": "operator"}


def test_redact_recurses_into_dicts_and_lists() -> None:
    value = {
        "request": {"headers": {"Authorization": "Bearer abc", "Accept": "application/json"}},
        "attempts": [{"token": "t1", "n": 1}, {"token": "t2", "n": 2}],
        "urls": [DB_URL, "https://example.org"],
        "app": "church",
        "count": 3,
        "ok": True,
        "nothing": None,
    }

    assert redact(value) == {
        "request": {"headers": {"Authorization": REDACTED, "Accept": "application/json"}},
        "attempts": [{"token": REDACTED, "n": 1}, {"token": REDACTED, "n": 2}],
        "urls": ["postgresql://operator:***@db.internal:5432/integreat", "https://example.org"],
        "app": "church",
        "count": 3,
        "ok": True,
        "nothing": None,
    }


def test_redact_masks_a_whole_subtree_under_a_secret_key() -> None:
    assert redact({"credentials": {"user": "u", "pw": "p"}}) == {"credentials": REDACTED}


def test_redact_masks_urls_in_plain_strings_and_tuples() -> None:
    assert redact(DB_URL) == "postgresql://operator:***@db.internal:5432/integreat"
    assert redact((DB_URL, 1)) == ["postgresql://operator:***@db.internal:5432/integreat", 1]


def test_redact_does_not_mutate_its_input() -> None:
    value = {"password": SECRET, "nested": [{"token": SECRET}]}

    redact(value)

    assert value == {"password": SECRET, "nested": [{"token": SECRET}]}


# --- log lines, end to end ----------------------------------------------------------------------


def test_a_log_line_never_carries_the_secret(log_lines: ReadLines) -> None:
    # Given a message with a DB URL and secret-looking extra fields
    start_invocation("req-1", app="church")

    # When it is logged through the module logger
    logger.info(f"connecting to {DB_URL}", extra={"password": SECRET, "db": {"api_key": SECRET}, "n": 1})

    # Then the emitted line masks every secret but keeps what an operator needs
    [line] = log_lines()
    assert SECRET not in json.dumps(line)
    assert line["message"] == "connecting to postgresql://operator:***@db.internal:5432/integreat"
    assert line["password"] == REDACTED
    assert line["db"] == {"api_key": REDACTED}
    assert line["n"] == 1


def test_a_log_line_carries_stage_service_correlation_id_and_app(log_lines: ReadLines) -> None:
    start_invocation("req-1", app="church")

    logger.info("hello")

    [line] = log_lines()
    assert {"stage", "service", "correlation_id", "app"} <= set(line)
    assert line["correlation_id"] == "req-1"
    assert line["app"] == "church"
    assert line["service"] == logger.service


def test_the_next_invocation_drops_the_previous_app(log_lines: ReadLines) -> None:
    # Given an invocation for church (Lambda reuses the process and the logger)
    start_invocation("req-1", app="church")
    logger.info("first")

    # When the next invocation names no app
    start_invocation("req-2")
    logger.info("second")

    # Then its lines carry the new correlation id and no stale app
    first, second = log_lines()
    assert first["app"] == "church"
    assert second["correlation_id"] == "req-2"
    assert "app" not in second


def test_app_context_adds_the_app_only_inside(log_lines: ReadLines) -> None:
    start_invocation("req-3")

    with app_context("events"):
        logger.info("inside")
    logger.info("outside")

    inside, outside = log_lines()
    assert inside["app"] == "events"
    assert "app" not in outside


def test_the_formatter_class_redacts_on_a_fresh_logger() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    fresh = Logger(service="t", level="INFO", logger_handler=handler, logger_formatter=RedactingFormatter())

    try:
        fresh.info(f"dsn={DB_URL}", extra={"Authorization": f"Bearer {SECRET}"})
    finally:
        fresh._logger.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert SECRET not in stream.getvalue()
    assert line["Authorization"] == REDACTED
    assert line["service"] == "t"


# Secrets reach a log line by many routes; each of these once leaked (found by review).


def test_a_secret_passed_as_a_format_argument_is_masked(log_lines: ReadLines) -> None:
    logger.info("connecting to %s", DB_URL)

    assert SECRET not in json.dumps(log_lines())


def test_a_dict_message_is_redacted(log_lines: ReadLines) -> None:
    logger.info({"password": SECRET, "dsn": DB_URL})

    assert SECRET not in json.dumps(log_lines())


def test_an_exception_message_with_a_url_is_masked(log_lines: ReadLines) -> None:
    try:
        raise ConnectionError(f"could not connect to {DB_URL}")
    except ConnectionError:
        logger.exception("database unavailable")

    assert SECRET not in json.dumps(log_lines())


def test_a_persistent_key_that_names_a_secret_is_masked(log_lines: ReadLines) -> None:
    logger.append_keys(token=SECRET)
    try:
        logger.info("with a persistent key")
    finally:
        logger.remove_keys(["token"])

    assert SECRET not in json.dumps(log_lines())


# --- metrics ------------------------------------------------------------------------------------


def emf_blobs(text: str) -> list[dict[str, Any]]:
    return [blob for blob in map(json.loads, text.splitlines()) if "_aws" in blob]


def test_count_emits_one_emf_blob_with_namespace_and_dimensions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STAGE, "dev")

    count(DENIALS, "church", reason="wrong_app")

    [blob] = emf_blobs(capsys.readouterr().out)
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE == "Integreat"
    assert directive["Metrics"] == [{"Name": DENIALS, "Unit": "Count"}]
    assert set(directive["Dimensions"][0]) == {"stage", "app", "reason", "service"}
    assert blob["app"] == "church"
    assert blob["stage"] == "dev"
    assert blob["reason"] == "wrong_app"
    assert blob[DENIALS] in (1, 1.0, [1.0])


def test_count_without_an_app_uses_a_placeholder_dimension(capsys: pytest.CaptureFixture[str]) -> None:
    count(observability.QUARANTINES, None, value=3)

    [blob] = emf_blobs(capsys.readouterr().out)
    assert blob["app"] == "-"
    assert blob[observability.QUARANTINES] in (3, 3.0, [3.0])
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Integreat"
