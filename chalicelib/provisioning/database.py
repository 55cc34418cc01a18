"""Apply the manifest's apps: Postgres (bootstrap, provision, migrate), then Cognito and IAM,
then activate.

An app becomes `active` in the registry only once its schema is fully migrated and its identity
is in place, so the runtime never serves a half-provisioned app; re-running after any failure
resumes where it stopped.

Incremental (issue 16, 1,000 apps): each step of each app has a fingerprint, the digest of what
the step would do (the statements and migrations of its database step; the desired Cognito and
IAM state of its identity step), recorded in `integreat.provisioning_fingerprints` only once the
step fully succeeded. A step whose fingerprint is unchanged is skipped, so an unchanged sync sends
no DDL and no AWS write, a change to one app touches that app only, and an interrupted sync
resumes at the first app it had not finished. What a fingerprint cannot see (a group edited, a
grant revoked by hand) is converged by `full=True` (`integreat apps sync --full`), which reads
every resource and writes only what differs.

Cells (issue 16): an app's schema and roles live in its cell, one Postgres database of at most a
few hundred apps; the registry, the fingerprints and the activation stay in the home cell (the
`connect` given). `cells` is the manifest's `[cells]` and `cell_connects` the operator connection
factory of every other cell by name. Each cell is bootstrapped once (its own `integreat_runtime`
and `integreat_admin`, fingerprint scope `cell:<name>`); a new app is placed by
`chalicelib.cells.model.place` and a registered one stays where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg2

from chalicelib.apps.manifest import AppSpec
from chalicelib.cells.model import CellsSpec, place
from chalicelib.db import provision as db_provision
from chalicelib.db.errors import DatabaseError, ProvisioningError
from chalicelib.db.migrate import APP_SET, PLATFORM_SET, Migration, Target, load_migrations, migrate_target
from chalicelib.db.parallel import for_each
from chalicelib.db.pool import Connect, Connection
from chalicelib.db.provision import bootstrap
from chalicelib.provisioning.identity import IdentityProvisioner, IdentityProvisioningError
from chalicelib.tenancy.register import (
    DATABASE_STEP,
    IDENTITY_STEP,
    PLATFORM_SCOPE,
    Fingerprints,
    activate_app,
    applied_fingerprints,
    fingerprint,
    provision_app,
    provision_in_cell,
    provision_statements,
    record_fingerprint,
    record_identity,
    recorded_identities,
    register_app,
    registered,
    registered_cells,
)
from chalicelib.tenancy.registry import ACTIVE
from chalicelib.tenancy.slugs import app_role, schema_name

Progress = Callable[[str, str], None]  # (phase, slug)


@dataclass
class SyncReport:
    active: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    migrations_applied: int = 0
    unmanaged: list[str] = field(default_factory=list)  # in the registry, not in the manifest
    #: step ("database", "identity") -> the apps whose step ran; the others matched their fingerprint
    applied: dict[str, list[str]] = field(default_factory=dict)
    #: slug -> the registry's name of its cell (None: home)
    cells: dict[str, str | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def app_target(slug: str) -> Target:
    return Target(schema_name(slug), app_role(slug))


def platform_fingerprint() -> str:
    """What `bootstrap` would do: its statements and the platform migrations."""
    migrations = [[m.version, m.checksum] for m in load_migrations(PLATFORM_SET)]
    # The statements themselves, so an edit of them re-runs bootstrap once (they are private to
    # chalicelib/db/provision.py, which has no public name for them yet).
    return fingerprint({"bootstrap": db_provision.BOOTSTRAP_SQL, "migrations": migrations})


def database_fingerprint(app: AppSpec, migrations: Sequence[Migration], cell: str | None = None) -> str:
    """What the app's database step would do: `provision_app`'s statements (in its cell), then the
    migrations."""
    return fingerprint(
        {
            "provision": provision_statements(app, cell),
            "migrations": [[m.version, m.checksum] for m in migrations],
        }
    )


def cell_scope(cell: str) -> str:
    """The fingerprint scope of a cell's bootstrap (never a valid slug)."""
    return f"cell:{cell}"


def sync_apps(
    connect: Connect,
    apps: Sequence[AppSpec],
    *,
    workers: int = 4,
    progress: Progress | None = None,
    migrations: Sequence[Migration] | None = None,
    identity: IdentityProvisioner | None = None,
    full: bool = False,
    cells: CellsSpec | None = None,
    cell_connects: Mapping[str, Connect] | None = None,
) -> SyncReport:
    """Make Postgres (and, with `identity`, Cognito and IAM) match `apps`, skipping every step
    whose fingerprint is unchanged unless `full`. Apps missing from the manifest are reported,
    never dropped."""
    notify = progress or (lambda phase, slug: None)
    app_migrations = tuple(migrations) if migrations is not None else load_migrations(APP_SET)
    conn = connect()
    try:
        applied = {} if full else applied_fingerprints(conn)
        _bootstrap(conn, applied)
        known = registered(conn)
        current = registered_cells(conn)
    finally:
        conn.close()
    report = SyncReport(unmanaged=sorted(set(known) - {a.slug for a in apps}))
    placement = place(
        cells or CellsSpec(), [a.slug for a in apps], {a.slug: a.cell or "" for a in apps}, current
    )
    report.cells = placement.cells
    report.failed.update({slug: f"placement: {why}" for slug, why in placement.problems.items()})
    placed = [a for a in apps if a.slug in placement.cells and a.slug not in report.failed]
    cells_of = _Cells(connect, cell_connects or {}, placement.cells)
    _sync_database(
        cells_of,
        placed,
        app_migrations,
        applied,
        known,
        report,
        notify,
        workers,
    )
    ready = [a for a in apps if a.slug not in report.failed]
    conn = connect()
    try:
        if identity is not None:
            _sync_identity(conn, identity, ready, applied, report, notify)
        report.active = [a.slug for a in ready if a.slug not in report.failed]
        for slug in report.active:
            if known.get(slug) != ACTIVE:
                activate_app(conn, slug)
    finally:
        conn.close()
    _announce(cells_of, apps, report, known)
    return report


def _announce(cells: _Cells, apps: Sequence[AppSpec], report: SyncReport, known: Mapping[str, str]) -> None:
    """`integreat.app.created` for each app active for the first time, `.updated` for each whose
    database step changed (chalicelib/provisioning/lifecycle.py)."""
    from chalicelib.provisioning.lifecycle import announce_changes, operator_delivery

    active = set(report.active)
    created = [slug for slug in report.active if slug not in known]
    updated = [s for s in report.applied.get(DATABASE_STEP, []) if s in active and s in known]
    if created or updated:
        specs = {a.slug: a.events for a in apps if a.slug in active}
        deliver = operator_delivery(lambda slug: cells.connect(cells.of.get(slug)))
        announce_changes(specs, deliver, created, updated, {a.slug: a.name for a in apps})


def _bootstrap(conn: Connection, applied: Fingerprints) -> None:
    wanted = platform_fingerprint()
    if applied.get((PLATFORM_SCOPE, DATABASE_STEP)) != wanted:
        bootstrap(conn)
        record_fingerprint(conn, PLATFORM_SCOPE, DATABASE_STEP, wanted)


@dataclass
class _Cells:
    """The home cell's operator connections, every other cell's, and where each app lives."""

    home: Connect
    others: Mapping[str, Connect]
    of: Mapping[str, str | None]  # slug -> cell (None: home)

    def connect(self, cell: str | None) -> Connect:
        if cell is None:
            return self.home
        try:
            return self.others[cell]
        except KeyError:
            raise ProvisioningError(f"cell {cell!r}: no operator URL given (its `url_env`)") from None


def _sync_database(
    cells: _Cells,
    apps: Sequence[AppSpec],
    migrations: Sequence[Migration],
    applied: Fingerprints,
    known: dict[str, str],
    report: SyncReport,
    notify: Progress,
    workers: int,
) -> None:
    """Provision, then migrate, every app whose database fingerprint changed (or that the registry
    lacks), cell by cell; each app's fingerprint is recorded as soon as its migrations are in."""
    wanted = {a.slug: database_fingerprint(a, migrations, cells.of[a.slug]) for a in apps}
    todo = [a for a in apps if a.slug not in known or applied.get((a.slug, DATABASE_STEP)) != wanted[a.slug]]
    report.applied[DATABASE_STEP] = [a.slug for a in todo]
    for slug in wanted.keys() - set(report.applied[DATABASE_STEP]):
        notify("provision", slug)
        notify("migrate", slug)
    by_cell: dict[str | None, list[AppSpec]] = {}
    for app in todo:
        by_cell.setdefault(cells.of[app.slug], []).append(app)
    counts: dict[str, int] = {}
    for cell, members in by_cell.items():
        try:
            _sync_cell(cells, cell, members, migrations, applied, wanted, report, notify, workers, counts)
        except (DatabaseError, psycopg2.Error) as exc:
            report.failed.update({a.slug: f"cell {cell!r}: {exc}".strip() for a in members})
    report.migrations_applied = sum(counts.values())


def _sync_cell(
    cells: _Cells,
    cell: str | None,
    apps: Sequence[AppSpec],
    migrations: Sequence[Migration],
    applied: Fingerprints,
    wanted: dict[str, str],
    report: SyncReport,
    notify: Progress,
    workers: int,
    counts: dict[str, int],
) -> None:
    connect = cells.connect(cell)
    if cell is not None:
        _bootstrap_cell(cells.home, connect, cell, applied)
    step = provision_app if cell is None else provision_in_cell
    failed = for_each(connect, apps, step, workers=workers, on_done=lambda a: notify("provision", a.slug))
    report.failed.update({a.slug: f"provisioning: {msg}" for a, msg in failed.items()})
    provisioned = [a for a in apps if a.slug not in report.failed]
    if cell is not None:  # the registry rows, in the home cell, once the roles exist
        failed = for_each(cells.home, provisioned, lambda c, a: register_app(c, a, cell), workers=1)
        report.failed.update({a.slug: f"registry: {msg}" for a, msg in failed.items()})
        provisioned = [a for a in provisioned if a.slug not in report.failed]

    def migrate(c: Connection, app: AppSpec) -> None:
        counts[app.slug] = len(migrate_target(c, app_target(app.slug), migrations))
        if cell is None:
            record_fingerprint(c, app.slug, DATABASE_STEP, wanted[app.slug])

    failed = for_each(
        connect, provisioned, migrate, workers=workers, on_done=lambda a: notify("migrate", a.slug)
    )
    report.failed.update({a.slug: f"migration: {msg}" for a, msg in failed.items()})
    if cell is not None:
        done = [a for a in provisioned if a.slug not in report.failed]
        for_each(
            cells.home,
            done,
            lambda c, a: record_fingerprint(c, a.slug, DATABASE_STEP, wanted[a.slug]),
            workers=1,
        )


def _bootstrap_cell(home: Connect, connect: Connect, cell: str, applied: Fingerprints) -> None:
    """A cell's own platform roles and hardening (and a platform schema holding its roles'
    credentials), once per change of the bootstrap; the fingerprint is the home cell's."""
    wanted = platform_fingerprint()
    if applied.get((cell_scope(cell), DATABASE_STEP)) == wanted:
        return
    conn = connect()
    try:
        bootstrap(conn)
    finally:
        conn.close()
    conn = home()
    try:
        record_fingerprint(conn, cell_scope(cell), DATABASE_STEP, wanted)
    finally:
        conn.close()


def _sync_identity(
    conn: Connection,
    identity: IdentityProvisioner,
    apps: Sequence[AppSpec],
    applied: Fingerprints,
    report: SyncReport,
    notify: Progress,
) -> None:
    """Cognito and IAM, one app at a time (their control-plane APIs are rate-limited); an app
    whose identity fingerprint is unchanged, and whose ids the registry holds, costs no call."""
    wanted = identity.platform_fingerprint()
    if applied.get((PLATFORM_SCOPE, IDENTITY_STEP)) != wanted:
        identity.ensure_platform()
        record_fingerprint(conn, PLATFORM_SCOPE, IDENTITY_STEP, wanted)
    stored = recorded_identities(conn)
    trusted = _iam_intact(identity, apps, applied, stored)
    report.applied[IDENTITY_STEP] = []
    for app in apps:
        digest = identity.fingerprint(app)
        client_id, role_id = stored.get(app.slug, (None, None))
        if trusted and client_id and role_id and applied.get((app.slug, IDENTITY_STEP)) == digest:
            notify("identity", app.slug)
            continue
        report.applied[IDENTITY_STEP].append(app.slug)
        try:
            made = identity.provision(app, client_id)
            record_identity(conn, app.slug, made.client_id, made.role_arn, made.role_id)
            record_fingerprint(conn, app.slug, IDENTITY_STEP, digest)
        except IdentityProvisioningError as exc:
            report.failed[app.slug] = f"identity: {exc}"
        notify("identity", app.slug)


def _iam_intact(
    identity: IdentityProvisioner,
    apps: Sequence[AppSpec],
    applied: Fingerprints,
    stored: dict[str, tuple[str | None, str | None]],
) -> bool:
    """One GetRole: whether the first already-applied app's role still has the id the registry
    holds. If not, IAM was reset under a registry that remembers it (the local platform restarts
    moto with its user pools restored but IAM empty), and every app's identity is applied again."""
    for app in apps:
        role_id = stored.get(app.slug, (None, None))[1]
        if role_id and (app.slug, IDENTITY_STEP) in applied:
            return identity.role_is(app.slug, role_id)
    return True
