"""Triggers deployed without INTEGREAT_USER_POOL_ID (the pool names them: a CloudFormation cycle
the other way) use the pool their event names; a configured pool always wins."""

from __future__ import annotations

from chalicelib.apps import Database
from chalicelib.runtime import Runtime
from chalicelib.settings import Settings

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # never connected to: the directory is AWS only


def test_an_unconfigured_runtime_uses_the_event_s_pool() -> None:
    rt = Runtime(Settings(stage="test", aws_endpoint_url="http://127.0.0.1:1"), Database(NOWHERE))
    assert rt.directory_for("eu-west-1_FromEvent").user_pool_id == "eu-west-1_FromEvent"
    assert rt.directory_for("eu-west-1_FromEvent") is rt.directory_for("eu-west-1_FromEvent")


def test_a_configured_pool_wins_over_the_event() -> None:
    settings = Settings(stage="test", aws_endpoint_url="http://127.0.0.1:1", user_pool_id="eu-west-1_Mine")
    rt = Runtime(settings, Database(NOWHERE))
    assert rt.directory_for("eu-west-1_Other").user_pool_id == "eu-west-1_Mine"
