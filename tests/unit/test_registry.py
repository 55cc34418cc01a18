"""Unit tests for chalicelib.tenancy.registry: the TTL cache, early reloads and their rate limit."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping

import pytest

from chalicelib.tenancy.errors import AppRemovedError, InvalidSlugError, UnknownAppError
from chalicelib.tenancy.registry import ACTIVE, PROVISIONING, REMOVED, AppRecord, Registry

TTL = 30.0
MIN_RELOAD = 1.0


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class FakeLoader:
    """Stands in for the `integreat.apps` query; `apps` is what the table holds right now."""

    def __init__(self, *records: AppRecord) -> None:
        self.apps = {r.slug: r for r in records}
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Mapping[str, AppRecord]:
        with self._lock:
            self.calls += 1
            return dict(self.apps)

    def put(self, slug: str, status: str = ACTIVE) -> None:
        with self._lock:
            self.apps[slug] = app(slug, status)


def app(slug: str, status: str = ACTIVE) -> AppRecord:
    return AppRecord(slug=slug, status=status, name=slug.title())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader(app("church"), app("events"))


@pytest.fixture
def registry(loader: FakeLoader, clock: FakeClock) -> Registry:
    return Registry(loader, ttl_seconds=TTL, min_reload_seconds=MIN_RELOAD, clock=clock)


# --- the cache ----------------------------------------------------------------------------------


def test_first_lookup_loads_and_returns_the_record(registry: Registry, loader: FakeLoader) -> None:
    record = registry.get_active("church")

    assert record == app("church")
    assert loader.calls == 1


def test_lookups_within_the_ttl_are_served_from_memory(
    registry: Registry, loader: FakeLoader, clock: FakeClock
) -> None:
    # Given a warm cache
    registry.get_active("church")

    # When known apps are looked up many times until just before the TTL ends
    for _ in range(50):
        registry.get_active("church")
        registry.get_active("events")
    clock.advance(TTL - 0.01)
    registry.get_active("events")

    # Then the loader ran only for the first lookup
    assert loader.calls == 1


def test_the_cache_reloads_once_the_ttl_expires(
    registry: Registry, loader: FakeLoader, clock: FakeClock
) -> None:
    registry.get_active("church")

    clock.advance(TTL)
    registry.get_active("church")
    registry.get_active("church")

    assert loader.calls == 2


def test_expiry_picks_up_a_status_change(registry: Registry, loader: FakeLoader, clock: FakeClock) -> None:
    registry.get_active("church")
    loader.put("church", REMOVED)

    clock.advance(TTL)

    with pytest.raises(AppRemovedError):
        registry.get_active("church")


def test_all_returns_every_record_and_uses_the_cache(registry: Registry, loader: FakeLoader) -> None:
    assert set(registry.all()) == {"church", "events"}
    assert set(registry.all()) == {"church", "events"}
    assert loader.calls == 1


def test_invalidate_forces_the_next_lookup_to_reload(registry: Registry, loader: FakeLoader) -> None:
    registry.get_active("church")

    registry.invalidate()
    registry.get_active("church")

    assert loader.calls == 2


# --- unknown slugs: early reload, rate limited --------------------------------------------------


def test_an_unknown_slug_raises_unknown_app(registry: Registry) -> None:
    with pytest.raises(UnknownAppError, match="is not a registered app") as caught:
        registry.get_active("nosuchapp")

    assert caught.value.slug == "nosuchapp"
    assert not isinstance(caught.value, AppRemovedError)


def test_a_new_app_is_found_without_waiting_for_the_ttl(
    registry: Registry, loader: FakeLoader, clock: FakeClock
) -> None:
    # Given a warm cache that does not know `students`
    registry.get_active("church")

    # When `students` is added to the table and looked up well within the TTL
    loader.put("students")
    clock.advance(MIN_RELOAD)
    record = registry.get_active("students")

    # Then it is found, through one early reload
    assert record.slug == "students"
    assert loader.calls == 2


def test_an_early_reload_waits_for_min_reload_seconds(
    registry: Registry, loader: FakeLoader, clock: FakeClock
) -> None:
    registry.get_active("church")
    loader.put("students")

    clock.advance(MIN_RELOAD / 2)
    with pytest.raises(UnknownAppError):
        registry.get_active("students")
    assert loader.calls == 1

    clock.advance(MIN_RELOAD / 2)
    assert registry.get_active("students").slug == "students"
    assert loader.calls == 2


def test_a_thousand_unknown_lookups_cause_at_most_one_extra_load_per_window(
    registry: Registry, loader: FakeLoader, clock: FakeClock
) -> None:
    # Given a cache old enough that an unknown slug may force a reload
    registry.get_active("church")
    clock.advance(MIN_RELOAD)

    # When garbage slugs hammer the registry for just under one window
    for i in range(1000):
        with pytest.raises(UnknownAppError):
            registry.get_active(f"garbage{i}")
        clock.advance(MIN_RELOAD * 0.999 / 1000)

    # Then exactly one extra load happened
    assert loader.calls == 2

    # And the next window allows one more, not more
    clock.advance(MIN_RELOAD)
    for i in range(1000):
        with pytest.raises(UnknownAppError):
            registry.get_active(f"garbage{i}")
    assert loader.calls == 3


# --- statuses -----------------------------------------------------------------------------------


def test_a_removed_app_raises_app_removed(loader: FakeLoader, registry: Registry) -> None:
    loader.put("gone", REMOVED)

    with pytest.raises(AppRemovedError, match="removed") as caught:
        registry.get_active("gone")

    assert caught.value.slug == "gone"
    assert isinstance(caught.value, UnknownAppError)  # so an edge that maps unknown -> 404 covers it


def test_a_provisioning_app_is_not_ready(loader: FakeLoader, registry: Registry) -> None:
    loader.put("fresh", PROVISIONING)

    with pytest.raises(UnknownAppError, match="not ready") as caught:
        registry.get_active("fresh")

    assert not isinstance(caught.value, AppRemovedError)
    assert PROVISIONING in str(caught.value)


def test_a_provisioned_app_becomes_active_after_the_rate_limit(
    loader: FakeLoader, registry: Registry, clock: FakeClock
) -> None:
    loader.put("fresh", PROVISIONING)
    with pytest.raises(UnknownAppError):
        registry.get_active("fresh")

    loader.put("fresh", ACTIVE)
    clock.advance(MIN_RELOAD)

    assert registry.get_active("fresh").status == ACTIVE


# --- invalid slugs never reach the loader -------------------------------------------------------


@pytest.mark.parametrize("slug", ["", "Church", "my-app", 'a"; drop role x; --', "pg_catalog", "\u0441hurch"])
def test_an_invalid_slug_is_rejected_before_any_load(
    slug: str, loader: FakeLoader, registry: Registry
) -> None:
    with pytest.raises(InvalidSlugError):
        registry.get_active(slug)

    assert loader.calls == 0


# --- threads ------------------------------------------------------------------------------------


def test_concurrent_lookups_smoke(loader: FakeLoader, clock: FakeClock) -> None:
    # Given a registry with a tiny TTL, so threads keep reloading while others read
    registry = Registry(loader, ttl_seconds=0.05, min_reload_seconds=0.01, clock=clock)
    errors: list[BaseException] = []
    found: list[str] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(300):
                clock.advance(0.001)
                if n == 0 and i == 150:
                    loader.put("students")
                found.append(registry.get_active("church" if i % 2 else "events").slug)
                with contextlib.suppress(UnknownAppError):
                    registry.get_active(f"unknown{n}x{i}")
        except BaseException as exc:  # a smoke test: record anything, assert below
            errors.append(exc)

    # When eight threads read, miss and reload at once
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then nothing raised, every lookup answered correctly, and the new app is visible
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert len(found) == 8 * 300
    assert set(found) == {"church", "events"}
    clock.advance(1.0)
    assert registry.get_active("students").slug == "students"
    assert loader.calls > 1
