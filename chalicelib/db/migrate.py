"""Per-schema migrations: tracked in each schema, resumable, parallel across schemas.

Why our own runner (about 150 lines) rather than yoyo or Alembic: both keep their state per
connection/database and switch schema with a session-level search_path, which decision 1
forbids; neither runs one migration set into 1,000 schemas as each schema's own role. Here every
migration runs in its own transaction that begins with the same SET LOCAL ROLE/search_path as
any tenant transaction, so objects are owned by the app role; `schema_migrations` in the schema
records version, name and checksum; an edited applied migration is refused; a crash leaves
earlier migrations applied and the next run resumes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources

import psycopg2

from chalicelib.db.errors import MigrationError
from chalicelib.db.parallel import for_each
from chalicelib.db.pool import Connect
from chalicelib.db.tenant import switch_sql

_FILENAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

PLATFORM_SET = "platform"
APP_SET = "app"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Target:
    """Where a migration set is applied: a schema, as the role that will own its objects."""

    schema: str
    role: str


@dataclass
class MigrationReport:
    applied: dict[str, list[int]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def applied_count(self) -> int:
        return sum(len(v) for v in self.applied.values())


def load_migrations(set_name: str) -> tuple[Migration, ...]:
    """The migrations shipped in `chalicelib/db/migrations/<set_name>/NNNN_name.sql`, in order."""
    folder = resources.files("chalicelib.db") / "migrations" / set_name
    found = []
    for entry in folder.iterdir():
        match = _FILENAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {set_name}: {sorted(versions)}")
    return tuple(sorted(found, key=lambda m: m.version))


# The lock comes first: two runners racing on CREATE TABLE IF NOT EXISTS would otherwise collide.
_TRACKING = """SELECT pg_advisory_xact_lock(hashtext(current_schema()));
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now());
SELECT version, checksum FROM schema_migrations ORDER BY version"""


def pending(applied: dict[int, str], migrations: Sequence[Migration], schema: str) -> list[Migration]:
    """Migrations not yet applied; refuses if an applied one was edited since."""
    for m in migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(
                f"{schema}: migration {m.version:04d}_{m.name} was edited after it was applied"
            )
    return [m for m in migrations if m.version not in applied]


def migrate_target(
    conn: psycopg2.extensions.connection, target: Target, migrations: Sequence[Migration]
) -> list[int]:
    """Apply what is pending to one schema, one transaction per migration. Returns versions applied."""
    done: list[int] = []
    with conn.cursor() as cur:
        while True:
            cur.execute(switch_sql(target.role, target.schema, begin=True) + _TRACKING)
            todo = pending(dict(cur.fetchall()), migrations, target.schema)
            if not todo:
                cur.execute("COMMIT")
                return done
            step = todo[0]
            try:
                cur.execute(step.sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s); COMMIT",
                    (step.version, step.name, step.checksum),
                )
            except psycopg2.Error as exc:
                cur.execute("ROLLBACK")
                raise MigrationError(
                    f"{target.schema}: {step.version:04d}_{step.name} failed: {exc}".strip()
                ) from exc
            done.append(step.version)


def migrate_many(
    connect: Connect,
    targets: Sequence[Target],
    migrations: Sequence[Migration],
    *,
    workers: int = 4,
    on_done: Callable[[Target], None] | None = None,
) -> MigrationReport:
    """Migrate every target with at most `workers` connections; one failure does not stop the rest."""
    report = MigrationReport()

    def step(conn: psycopg2.extensions.connection, target: Target) -> None:
        report.applied[target.schema] = migrate_target(conn, target, migrations)

    failures = for_each(connect, targets, step, workers=workers, on_done=on_done)
    report.failed = {target.schema: message for target, message in failures.items()}
    return report
