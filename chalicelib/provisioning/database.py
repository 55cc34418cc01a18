"""Apply the manifest's apps: Postgres (bootstrap, provision, migrate), then Cognito and IAM,
then activate.

An app becomes `active` in the registry only once its schema is fully migrated and its identity
is in place, so the runtime never serves a half-provisioned app; re-running after any failure
resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chalicelib.apps.manifest import AppSpec
from chalicelib.db.migrate import APP_SET, Migration, Target, load_migrations, migrate_many
from chalicelib.db.parallel import for_each
from chalicelib.db.pool import Connect, Connection
from chalicelib.db.provision import bootstrap
from chalicelib.provisioning.identity import IdentityProvisioner, IdentityProvisioningError
from chalicelib.tenancy.register import activate_app, provision_app, record_identity, registered
from chalicelib.tenancy.slugs import app_role, schema_name

Progress = Callable[[str, str], None]  # (phase, slug)


@dataclass
class SyncReport:
    active: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    migrations_applied: int = 0
    unmanaged: list[str] = field(default_factory=list)  # in the registry, not in the manifest

    @property
    def ok(self) -> bool:
        return not self.failed


def app_target(slug: str) -> Target:
    return Target(schema_name(slug), app_role(slug))


def sync_apps(
    connect: Connect,
    apps: Sequence[AppSpec],
    *,
    workers: int = 4,
    progress: Progress | None = None,
    migrations: Sequence[Migration] | None = None,
    identity: IdentityProvisioner | None = None,
) -> SyncReport:
    """Make Postgres match `apps`. Apps missing from the manifest are reported, never dropped."""
    notify = progress or (lambda phase, slug: None)
    conn = connect()
    try:
        bootstrap(conn)
        known = registered(conn)
    finally:
        conn.close()
    report = SyncReport(unmanaged=sorted(set(known) - {a.slug for a in apps}))

    def provision(c: Connection, app: AppSpec) -> None:
        provision_app(c, app)

    failed = for_each(
        connect, apps, provision, workers=workers, on_done=lambda a: notify("provision", a.slug)
    )
    report.failed.update({a.slug: f"provisioning: {msg}" for a, msg in failed.items()})

    ready = [a.slug for a in apps if a.slug not in report.failed]
    migrated = migrate_many(
        connect,
        [app_target(s) for s in ready],
        migrations if migrations is not None else load_migrations(APP_SET),
        workers=workers,
        on_done=lambda t: notify("migrate", t.schema.removeprefix("app_")),
    )
    report.migrations_applied = migrated.applied_count
    report.failed.update({s.removeprefix("app_"): f"migration: {m}" for s, m in migrated.failed.items()})

    conn = connect()
    try:
        if identity is not None:
            _sync_identity(conn, identity, [a for a in apps if a.slug in ready], report, notify)
        report.active = [s for s in ready if s not in report.failed]
        for slug in report.active:
            activate_app(conn, slug)
    finally:
        conn.close()
    return report


def _sync_identity(
    conn: Connection,
    identity: IdentityProvisioner,
    apps: Sequence[AppSpec],
    report: SyncReport,
    notify: Progress,
) -> None:
    """Cognito and IAM, one app at a time (their control-plane APIs are rate-limited)."""
    identity.ensure_platform()
    for app in apps:
        if app.slug in report.failed:
            continue
        try:
            made = identity.provision(app)
            record_identity(conn, app.slug, made.client_id, made.role_arn, made.role_id)
        except IdentityProvisioningError as exc:
            report.failed[app.slug] = f"identity: {exc}"
        notify("identity", app.slug)
