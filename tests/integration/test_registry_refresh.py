"""The registry's refresh on real Postgres (issue 16, platform migration 0010): a refresh reads
the apps changed since its last read and nothing else, whoever wrote them and in whatever order
their transactions committed; a restore or a row deleted outright makes it load in full."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg2.extensions
import pytest

from chalicelib.apps import SECTIONS, Database
from chalicelib.db.migrate import Target, load_migrations, migrate_target
from chalicelib.frontends.model import FrontendSpec
from chalicelib.frontends.section import FRONTEND
from chalicelib.tenancy.errors import AppRemovedError, UnknownAppError
from chalicelib.tenancy.manifest import AppSpec
from chalicelib.tenancy.register import activate_app, provision_app, record_identity, remove_app
from chalicelib.tenancy.registry import ACTIVE, PROVISIONING, Batch, Registry, Source
from chalicelib.tenancy.store import source
from tests.conftest import Platform


class Watched:
    """A runtime registry whose every read is recorded: ("full" | "since", the apps it returned)."""

    def __init__(self, db: Database) -> None:
        inner = source(db.platform, SECTIONS)
        since = inner.since
        assert since is not None
        self.reads: list[tuple[str, int]] = []
        self.registry = Registry(
            Source(lambda: self._noted("full", inner.full()), lambda mark: self._noted("since", since(mark))),
            ttl_seconds=3600.0,
            min_reload_seconds=0.0,
        )

    def _noted(self, kind: str, batch: Batch) -> Batch:
        self.reads.append((kind, len(batch.apps)))
        return batch

    def refresh(self) -> tuple[str, int]:
        """One refresh, as a TTL expiry makes; what it read."""
        self.registry.invalidate()
        self.registry.all()
        return self.reads[-1]


@pytest.fixture
def watched(platform: Platform) -> Iterator[Watched]:
    db = Database(platform.runtime_url)
    found = Watched(db)
    assert found.refresh()[0] == "full"  # the first load
    yield found
    db.close()


@pytest.fixture
def operator(platform: Platform) -> Iterator[psycopg2.extensions.connection]:
    conn = platform.connect()
    yield conn
    conn.close()


def run(conn: psycopg2.extensions.connection, sql: str, params: object = None) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, params)


def test_a_refresh_with_nothing_changed_reads_no_app_row(watched: Watched) -> None:
    assert watched.refresh() == ("since", 0)
    assert watched.refresh() == ("since", 0)


def test_each_change_to_an_app_is_seen_after_one_refresh_reading_that_app_alone(
    watched: Watched, operator: psycopg2.extensions.connection, unique_slug: str
) -> None:
    registry = watched.registry
    # Added (provisioning), then active
    provision_app(operator, AppSpec(unique_slug, "New", "invite", ("member",)))
    assert watched.refresh() == ("since", 1)
    assert registry.all()[unique_slug].status == PROVISIONING
    activate_app(operator, unique_slug)
    assert watched.refresh() == ("since", 1)
    assert registry.get_active(unique_slug).status == ACTIVE

    # Changed: its roles and a section
    origins = ("https://new.example.org",)
    provision_app(
        operator, AppSpec(unique_slug, "New", "invite", ("member", "editor"), frontend=FrontendSpec(origins))
    )
    assert watched.refresh() == ("since", 1)
    assert registry.get_active(unique_slug).roles == ("member", "editor")
    assert FRONTEND.of(registry.get_active(unique_slug)).origins == origins

    # Given a client and an IAM role (the client's row is in app_clients, the role on the app)
    client, role_id = f"client-{unique_slug}", f"AROA{unique_slug.upper()}"
    record_identity(operator, unique_slug, client, f"arn:aws:iam::123456789012:role/{unique_slug}", role_id)
    assert watched.refresh() == ("since", 1)
    assert getattr(registry.app_for_client(client), "slug", None) == unique_slug
    assert getattr(registry.app_for_role(role_id), "slug", None) == unique_slug

    # A client dropped, alone (as `integreat local` prunes clients the pool no longer has)
    run(operator, "DELETE FROM integreat.app_clients WHERE client_id = %s", (client,))
    assert watched.refresh() == ("since", 1)
    assert registry.app_for_client(client) is None

    # Removed
    remove_app(operator, unique_slug)
    assert watched.refresh() == ("since", 1)
    with pytest.raises(AppRemovedError):
        registry.get_active(unique_slug)
    assert [kind for kind, _ in watched.reads].count("full") == 1


def test_a_change_that_commits_after_a_later_version_is_not_missed(
    watched: Watched, platform: Platform, operator: psycopg2.extensions.connection
) -> None:
    # Given two apps, and a slow transaction that took the lower version of the next two
    slow, fast = f"t{secrets.token_hex(4)}", f"t{secrets.token_hex(4)}"
    run(operator, "INSERT INTO integreat.apps (slug, name, status) VALUES (%s, 'Slow', 'removed'), (%s, 'Fast', 'removed')", (slow, fast))  # fmt: skip
    watched.refresh()
    other = platform.connect()
    try:
        run(other, "BEGIN; UPDATE integreat.apps SET name = 'Slow, changed' WHERE slug = %s", (slow,))
        # When a fast one takes the higher version and commits first, and a refresh runs between
        run(operator, "UPDATE integreat.apps SET name = 'Fast, changed' WHERE slug = %s", (fast,))
        assert watched.refresh() == ("since", 1)
        run(other, "COMMIT")
    finally:
        other.close()

    # Then the next refresh still brings the slow change, though its version is below the highest held
    assert watched.refresh() == ("since", 1)
    assert watched.registry.all()[slow].name == "Slow, changed"


def test_a_restore_that_lowers_versions_loads_in_full(
    watched: Watched, operator: psycopg2.extensions.connection, unique_slug: str
) -> None:
    # Given an app the registry holds
    run(
        operator,
        "INSERT INTO integreat.apps (slug, name, status) VALUES (%s, 'Before', 'removed')",
        (unique_slug,),
    )
    assert watched.refresh() == ("since", 1)

    # When the table is restored from a copy taken earlier: older data, lower versions, and none
    # of it written through the trigger (as a restore with triggers disabled writes it)
    run(
        operator,
        "BEGIN; SET LOCAL ROLE integreat_admin;"
        " ALTER TABLE integreat.apps DISABLE TRIGGER apps_version;"
        " UPDATE integreat.apps SET name = 'Restored' WHERE slug = %(slug)s;"
        " UPDATE integreat.apps AS a SET version = n.rank"
        "   FROM (SELECT slug, row_number() OVER (ORDER BY version) AS rank FROM integreat.apps) AS n"
        "   WHERE a.slug = n.slug;"
        " SELECT setval('integreat.app_versions', (SELECT count(*) FROM integreat.apps));"
        " ALTER TABLE integreat.apps ENABLE TRIGGER apps_version; COMMIT",
        {"slug": unique_slug},
    )

    # Then the next refresh loads in full, and sees the restored row
    assert watched.refresh()[0] == "full"
    assert watched.registry.all()[unique_slug].name == "Restored"
    assert watched.refresh() == ("since", 0)  # and refreshes from the new mark after that


def test_a_row_deleted_outright_loads_in_full(
    watched: Watched, operator: psycopg2.extensions.connection, unique_slug: str
) -> None:
    run(
        operator,
        "INSERT INTO integreat.apps (slug, name, status) VALUES (%s, 'Doomed', 'removed')",
        (unique_slug,),
    )
    watched.refresh()

    run(operator, "DELETE FROM integreat.apps WHERE slug = %s", (unique_slug,))

    assert watched.refresh()[0] == "full"
    with pytest.raises(UnknownAppError):
        watched.registry.get_active(unique_slug)


def test_the_migration_numbers_the_rows_already_there(
    platform: Platform, operator: psycopg2.extensions.connection
) -> None:
    # Given a registry as the migrations before 0010 left it, in a schema of its own
    schema = f"mig_{secrets.token_hex(4)}"
    run(operator, f'CREATE SCHEMA "{schema}" AUTHORIZATION integreat_admin')
    target = Target(schema, "integreat_admin")
    migrate_target(operator, target, [m for m in load_migrations("platform") if m.version < 10])
    run(
        operator,
        f"INSERT INTO \"{schema}\".apps (slug, name, status) VALUES ('a', 'A', 'active'), ('b', 'B', 'active')",
    )
    try:
        # When 0010 runs
        assert 10 in migrate_target(operator, target, load_migrations("platform"))

        # Then each row has its own version, and a client written later bumps its app in that schema
        versions = _versions(operator, schema)
        assert len(set(versions.values())) == 2
        run(operator, f"INSERT INTO \"{schema}\".app_clients (client_id, slug, name) VALUES ('c', 'a', 'c')")
        bumped = _versions(operator, schema)
        assert bumped["a"] > max(versions.values())
        assert bumped["b"] == versions["b"]
    finally:
        run(operator, f'DROP SCHEMA "{schema}" CASCADE')


def _versions(conn: psycopg2.extensions.connection, schema: str) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(f'SELECT slug, version FROM "{schema}".apps')
        return {str(slug): int(version) for slug, version in cur.fetchall()}
