"""Only a refusal's own text reaches the user from a Cognito trigger (issue 14, item 8): Cognito
shows a failed trigger's error message to the person signing up or in."""

from __future__ import annotations

import pytest

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.identity.enrollment import FAILED, UNAVAILABLE, TriggerFailure, TriggerRefusal, shielded
from tests.conftest import ReadLines

DRIVER_TEXT = 'connection to server at "db.internal" (10.0.0.5), port 5432 failed'


def raise_(exc: Exception) -> None:
    raise exc


def test_a_refusal_passes_through_unchanged() -> None:
    with pytest.raises(TriggerRefusal, match="invite-only"):
        shielded("pre_sign_up", lambda: raise_(TriggerRefusal("Church is invite-only")))


def test_an_unreachable_database_reads_as_briefly_unavailable(log_lines: ReadLines) -> None:
    with pytest.raises(TriggerFailure) as raised:
        shielded("pre_sign_up", lambda: raise_(DatabaseUnavailableError(DRIVER_TEXT)))

    assert str(raised.value) == UNAVAILABLE
    assert raised.value.__suppress_context__
    assert "10.0.0.5" in str([line for line in log_lines() if line.get("trigger") == "pre_sign_up"])


def test_any_other_error_reads_as_generic(log_lines: ReadLines) -> None:
    with pytest.raises(TriggerFailure) as raised:
        shielded("post_confirmation", lambda: raise_(RuntimeError(DRIVER_TEXT)))

    assert str(raised.value) == FAILED
    assert "10.0.0.5" not in str(raised.value)
    assert [line for line in log_lines() if line.get("trigger") == "post_confirmation"]


def test_the_decision_is_returned() -> None:
    assert shielded("pre_token_generation", lambda: {"claims": {}}) == {"claims": {}}
