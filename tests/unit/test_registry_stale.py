"""The registry through a database outage (issue 14, item 8): the last good copy is served for a
bounded time past its TTL, reported by a log line and a metric; unknown apps stay refused."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.observability import REGISTRY_STALE
from chalicelib.tenancy.registry import ACTIVE, AppRecord, Registry
from tests.conftest import ReadLines

TTL = 30.0
MAX_STALE = 300.0
RETRY = 5.0
STALE_LINE = "registry unavailable; serving its last good copy"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Database:
    """Stands in for the registry query; `down` makes it fail as an unreachable server does."""

    def __init__(self) -> None:
        self.apps = {"church": AppRecord("church", ACTIVE, "Church", clients=("client-church",))}
        self.down = False
        self.calls = 0

    def __call__(self) -> Mapping[str, AppRecord]:
        self.calls += 1
        if self.down:
            raise DatabaseUnavailableError("could not connect to server at 10.0.0.5")
        return dict(self.apps)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture
def registry(database: Database, clock: Clock) -> Registry:
    found = Registry(database, ttl_seconds=TTL, max_stale_seconds=MAX_STALE, retry_seconds=RETRY, clock=clock)
    found.get_active("church")  # loaded while the database was up
    return found


def outage(database: Database, clock: Clock, seconds: float) -> None:
    database.down = True
    clock.now += seconds


def test_a_known_app_is_served_from_the_last_good_copy_past_its_ttl(
    registry: Registry, database: Database, clock: Clock
) -> None:
    outage(database, clock, TTL + 1)

    assert registry.get_active("church").slug == "church"
    assert registry.app_for_client("client-church") is not None
    assert registry.all().keys() == {"church"}


def test_serving_stale_logs_and_counts_once_per_reload_attempt(
    registry: Registry,
    database: Database,
    clock: Clock,
    log_lines: ReadLines,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outage(database, clock, TTL + 1)

    for _ in range(3):
        registry.get_active("church")

    stale = [line for line in log_lines() if line["message"] == STALE_LINE]
    assert len(stale) == 1
    assert stale[0]["age_seconds"] == TTL + 1
    assert capsys.readouterr().out.count(f'"{REGISTRY_STALE}"') >= 1  # the EMF metric line


def test_a_down_database_is_tried_once_per_retry_interval(
    registry: Registry, database: Database, clock: Clock
) -> None:
    outage(database, clock, TTL + 1)
    loads = database.calls

    for _ in range(10):
        registry.get_active("church")
    assert database.calls == loads + 1
    clock.now += RETRY
    registry.get_active("church")
    assert database.calls == loads + 2


def test_past_the_bound_lookups_fail_as_the_database_did(
    registry: Registry, database: Database, clock: Clock
) -> None:
    outage(database, clock, TTL + MAX_STALE)

    with pytest.raises(DatabaseUnavailableError):
        registry.get_active("church")
    with pytest.raises(DatabaseUnavailableError):
        registry.all()


def test_an_unknown_app_or_client_is_refused_during_an_outage(
    registry: Registry, database: Database, clock: Clock
) -> None:
    outage(database, clock, TTL + 1)

    with pytest.raises(DatabaseUnavailableError):
        registry.get_active("newapp")
    with pytest.raises(DatabaseUnavailableError):
        registry.app_for_client("client-unknown")


def test_a_cold_registry_has_nothing_to_serve(database: Database, clock: Clock) -> None:
    database.down = True
    registry = Registry(database, ttl_seconds=TTL, max_stale_seconds=MAX_STALE, clock=clock)

    with pytest.raises(DatabaseUnavailableError):
        registry.get_active("church")
    with pytest.raises(DatabaseUnavailableError):  # and tries again at once, not after RETRY
        registry.get_active("church")
    assert database.calls == 2


def test_no_fallback_when_the_bound_is_zero(database: Database, clock: Clock) -> None:
    registry = Registry(database, ttl_seconds=TTL, max_stale_seconds=0.0, clock=clock)
    registry.get_active("church")
    outage(database, clock, TTL)

    with pytest.raises(DatabaseUnavailableError):
        registry.get_active("church")


def test_the_database_back_ends_the_fallback(registry: Registry, database: Database, clock: Clock) -> None:
    outage(database, clock, TTL + 1)
    registry.get_active("church")
    database.down = False
    database.apps["events"] = AppRecord("events", ACTIVE, "Events")
    clock.now += RETRY

    assert registry.get_active("events").slug == "events"
    outage(database, clock, TTL + MAX_STALE - 1)  # the bound counts from the new copy
    assert registry.get_active("events").slug == "events"


def test_invalidating_during_an_outage_keeps_the_fallback(
    registry: Registry, database: Database, clock: Clock
) -> None:
    outage(database, clock, 1)
    registry.invalidate()  # as the admin view does before reading

    assert registry.all().keys() == {"church"}  # tried the database, fell back
    assert registry.get_active("church").slug == "church"
    assert database.calls == 2  # the load, then one attempt: the rest within the retry interval
