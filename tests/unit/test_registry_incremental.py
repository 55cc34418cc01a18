"""Unit tests for the registry's incremental refresh (issue 16): a refresh merges only the apps
changed since its mark, and loads in full first, periodically, and whenever the mark is in doubt."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import pytest

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.tenancy.errors import AppRemovedError, UnknownAppError
from chalicelib.tenancy.registry import (
    ACTIVE,
    PROVISIONING,
    REMOVED,
    AppRecord,
    Batch,
    Index,
    Mark,
    Registry,
    Source,
    doubt,
    indexed,
    merge,
)
from tests.conftest import ReadLines

TTL = 30.0
FULL_EVERY = 600.0
DOUBT_LINE = "registry refresh in doubt; loading it in full"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Table:
    """Stands in for `integreat.apps` and its watermark: every write takes the next version, and a
    mark's snapshot is the version it saw, so `since` answers exactly the rows written after it."""

    def __init__(self, *records: AppRecord) -> None:
        self.rows: dict[str, tuple[int, AppRecord]] = {}
        self.version, self.xmax = 0, 5000
        self.full_loads = self.refreshes = 0
        self.down = False
        for record in records:
            self.put(record)

    def put(self, record: AppRecord) -> None:
        self.version += 1
        self.rows[record.slug] = (self.version, record)

    def change(self, slug: str, **fields: object) -> AppRecord:
        changed = self.rows[slug][1]._replace(**fields)
        self.put(changed)
        return changed

    def delete(self, slug: str) -> None:
        del self.rows[slug]  # outright, as `DELETE FROM integreat.apps` would: no version taken

    def restore(self, version: int, xmax: int | None = None) -> None:
        """Back to an earlier copy: the rows keep their data, versions (and maybe xids) go back."""
        self.version = version
        self.rows = {slug: (min(v, version), record) for slug, (v, record) in self.rows.items()}
        self.xmax = xmax if xmax is not None else self.xmax

    def mark(self) -> Mark:
        return Mark(str(self.version), self.xmax, self.version, len(self.rows))

    def full(self) -> Batch:
        self.full_loads += 1
        self._check()
        return Batch({slug: record for slug, (_, record) in self.rows.items()}, self.mark())

    def since(self, mark: Mark) -> Batch:
        self.refreshes += 1
        self._check()
        seen = int(mark.snapshot)
        return Batch({slug: r for slug, (v, r) in self.rows.items() if v > seen}, self.mark())

    def _check(self) -> None:
        if self.down:
            raise DatabaseUnavailableError("could not connect to server at 10.0.0.5")

    @property
    def source(self) -> Source:
        return Source(self.full, self.since)


def app(slug: str, status: str = ACTIVE, **fields: object) -> AppRecord:
    return AppRecord(slug, status, slug.title())._replace(**fields)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table() -> Table:
    return Table(
        app("church", clients=("client-church",), iam_role_id="AROACHURCH"),
        app("events", clients=("client-events",), iam_role_id="AROAEVENTS"),
    )


@pytest.fixture
def registry(table: Table, clock: Clock) -> Registry:
    found = Registry(table.source, ttl_seconds=TTL, full_reload_seconds=FULL_EVERY, clock=clock)
    found.get_active("church")  # the first load: in full
    return found


def expire(clock: Clock) -> None:
    clock.now += TTL


# --- a refresh reads what changed ------------------------------------------------------------------


def test_the_first_load_is_full_and_a_refresh_with_nothing_changed_keeps_the_copy(
    registry: Registry, table: Table, clock: Clock
) -> None:
    before = registry.all()

    expire(clock)
    after = registry.all()

    assert (table.full_loads, table.refreshes) == (1, 1)
    assert after is before  # nothing re-decoded, nothing re-indexed


def test_a_changed_app_is_seen_after_one_refresh(registry: Registry, table: Table, clock: Clock) -> None:
    table.change("church", roles=("member", "admin"), name="Grace Church")

    expire(clock)

    assert registry.get_active("church").roles == ("member", "admin")
    assert registry.get_active("church").name == "Grace Church"
    assert registry.get_active("events") is table.rows["events"][1]  # untouched, the same record
    assert table.full_loads == 1


def test_a_removed_app_arrives_as_a_status_change(registry: Registry, table: Table, clock: Clock) -> None:
    table.change("church", status=REMOVED)

    expire(clock)

    with pytest.raises(AppRemovedError):
        registry.get_active("church")
    assert registry.app_for_client("client-church") is None
    assert registry.app_for_role("AROACHURCH") is None


def test_a_new_app_is_found_by_an_early_refresh_not_a_full_load(
    registry: Registry, table: Table, clock: Clock
) -> None:
    table.put(app("students", PROVISIONING))
    clock.now += 1.0
    with pytest.raises(UnknownAppError, match="not ready"):
        registry.get_active("students")

    table.change("students", status=ACTIVE)
    clock.now += 1.0

    assert registry.get_active("students").status == ACTIVE
    assert table.full_loads == 1


def test_a_new_client_is_found_at_once(registry: Registry, table: Table, clock: Clock) -> None:
    table.change("church", clients=("client-church", "client-church-mobile"))
    clock.now += 1.0

    found = registry.app_for_client("client-church-mobile")

    assert found is not None
    assert found.slug == "church"
    assert table.full_loads == 1


def test_a_client_moved_and_a_role_replaced_leave_no_stale_lookup(
    registry: Registry, table: Table, clock: Clock
) -> None:
    table.change("events", clients=("client-events", "client-church"))
    table.change("church", clients=(), iam_role_id="AROACHURCH2")

    expire(clock)

    moved = registry.app_for_client("client-church")
    assert moved is not None
    assert moved.slug == "events"
    assert registry.app_for_role("AROACHURCH") is None
    replaced = registry.app_for_role("AROACHURCH2")
    assert replaced is not None
    assert replaced.slug == "church"


def test_invalidate_refreshes_by_what_changed(registry: Registry, table: Table) -> None:
    table.change("events", name="City Events")

    registry.invalidate()

    assert registry.all()["events"].name == "City Events"
    assert (table.full_loads, table.refreshes) == (1, 1)


# --- a full load first, periodically, and on any doubt ---------------------------------------------


def test_a_full_load_happens_periodically_as_a_safety_net(
    registry: Registry, table: Table, clock: Clock
) -> None:
    for _ in range(int(FULL_EVERY // TTL) - 1):
        expire(clock)
        registry.all()
    assert table.full_loads == 1

    expire(clock)
    registry.all()

    assert table.full_loads == 2


@pytest.mark.parametrize(
    "restore",
    [
        pytest.param(lambda t: t.restore(version=1), id="versions-backwards"),
        pytest.param(lambda t: t.restore(version=t.version, xmax=t.xmax - 1), id="xids-backwards"),
    ],
)
def test_a_restore_loads_in_full(
    registry: Registry, table: Table, clock: Clock, log_lines: ReadLines, restore: Callable[[Table], None]
) -> None:
    # Given a restore that brings back an older church (its old name) at a lower version
    table.change("church", name="Renamed")
    expire(clock)
    assert registry.get_active("church").name == "Renamed"
    table.rows["church"] = (table.rows["church"][0], app("church"))
    restore(table)

    expire(clock)

    assert registry.get_active("church").name == "Church"
    assert table.full_loads == 2
    (reason,) = [line["reason"] for line in log_lines() if line["message"] == DOUBT_LINE]
    assert reason.endswith("a restore?")


def test_a_row_deleted_outright_loads_in_full(registry: Registry, table: Table, clock: Clock) -> None:
    table.delete("events")

    expire(clock)

    with pytest.raises(UnknownAppError):
        registry.get_active("events")
    assert table.full_loads == 2


def test_a_deleted_row_is_noticed_even_alongside_a_new_one(
    registry: Registry, table: Table, clock: Clock
) -> None:
    table.delete("events")
    table.put(app("students"))

    expire(clock)

    assert set(registry.all()) == {"church", "students"}
    assert table.full_loads == 2


def test_a_source_without_a_watermark_loads_in_full_every_time(clock: Clock) -> None:
    loads: list[float] = []

    def load() -> Mapping[str, AppRecord]:
        loads.append(clock.now)
        return {"church": app("church")}

    registry = Registry(load, ttl_seconds=TTL, clock=clock)
    registry.all()
    expire(clock)
    registry.all()

    assert len(loads) == 2


# --- through an outage -------------------------------------------------------------------------------


def test_an_outage_serves_the_copy_and_the_changes_arrive_after_it(
    registry: Registry, table: Table, clock: Clock, log_lines: ReadLines
) -> None:
    table.down = True
    expire(clock)
    for _ in range(3):
        assert registry.get_active("church").slug == "church"
    stale = [
        line for line in log_lines() if line["message"] == "registry unavailable; serving its last good copy"
    ]
    assert len(stale) == 1  # once per refresh attempt

    table.down = False
    table.change("church", name="After")
    clock.now += 5.0  # the retry interval

    assert registry.get_active("church").name == "After"
    assert table.full_loads == 1


# --- the merge itself ----------------------------------------------------------------------------------


def test_merge_equals_a_full_index_through_random_changes() -> None:
    rng = random.Random(16)
    table = Table(*(app(f"a{i}", clients=(f"c{i}",), iam_role_id=f"R{i}") for i in range(30)))
    first = table.full()
    held = indexed(first.apps, first.mark)
    for step in range(300):
        slug = f"a{rng.randrange(40)}"
        clients = tuple(f"c{n}" for n in rng.sample(range(60), rng.randrange(3)))
        role = rng.choice([None, f"R{rng.randrange(60)}"])
        table.put(app(slug, rng.choice([ACTIVE, REMOVED, PROVISIONING]), clients=clients, iam_role_id=role))
        if step % 3 == 0:
            _unique(table)  # a client id and a role id belong to one app, as the tables enforce
            assert held.mark is not None
            batch = table.since(held.mark)
            assert doubt(held, batch) is None
            held = merge(held, batch)
            full = indexed(table.full().apps)
            assert (dict(held.apps), dict(held.by_client), dict(held.by_role)) == (
                dict(full.apps),
                dict(full.by_client),
                dict(full.by_role),
            )


def _unique(table: Table) -> None:
    clients: set[str] = set()
    roles: set[str] = set()
    for _, (_, record) in sorted(table.rows.items(), key=lambda row: -row[1][0]):  # newest keeps
        kept = tuple(c for c in record.clients if c not in clients)
        role = record.iam_role_id if record.iam_role_id not in roles else None
        clients.update(kept)
        roles.update([role] if role else [])
        if (kept, role) != (record.clients, record.iam_role_id):
            table.put(record._replace(clients=kept, iam_role_id=role))


def test_doubt_without_a_mark_asks_for_a_full_load() -> None:
    held = Index({}, {}, {})

    assert doubt(held, Batch({}, Mark("1", 1, 1, 0))) == "no watermark to refresh from"
    assert doubt(indexed({}, Mark("1", 1, 1, 0)), Batch({}, None)) == "no watermark to refresh from"


def test_merge_with_nothing_changed_only_moves_the_mark() -> None:
    held = indexed({"church": app("church")}, Mark("1", 10, 1, 1), full_at=5.0)

    moved = merge(held, Batch({}, Mark("2", 11, 1, 1)))

    assert moved.apps is held.apps
    assert moved.by_client is held.by_client
    assert (moved.mark, moved.full_at) == (Mark("2", 11, 1, 1), 5.0)
