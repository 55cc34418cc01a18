"""Writing the registry's rows (`integreat.apps`, `integreat.app_clients`), for provisioning:
an app's row travels in the same transaction as its roles and schema (`chalicelib.db.provision`),
so a crash leaves either both or neither. Its sections go in as one JSON document, each encoded
by its own section (`Sections.document`). `chalicelib.tenancy.store` reads them back.

Also what provisioning last applied (`integreat.provisioning_fingerprints`, platform migration
0009): one digest per app and step, compared by `chalicelib.provisioning.database.sync_apps`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg2

from chalicelib.db.errors import ProvisioningError
from chalicelib.db.pool import Connection
from chalicelib.db.provision import app_roles_sql, drop_app_sql, ensure_credentials
from chalicelib.db.tenant import PLATFORM_SCHEMA
from chalicelib.tenancy.model import AppSpec
from chalicelib.tenancy.registry import ACTIVE
from chalicelib.tenancy.slugs import login_role

# The cell is written by the first provisioning only: sticky, `integreat apps move` changes it.
_UPSERT = (
    f"INSERT INTO {PLATFORM_SCHEMA}.apps (slug, name, enrollment, roles, sections, cell, status)"
    " VALUES (%s, %s, %s, %s, %s, %s, 'provisioning')"
    " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, enrollment = EXCLUDED.enrollment,"
    " roles = EXCLUDED.roles, sections = EXCLUDED.sections, updated_at = now(),"
    " status = CASE WHEN apps.status = 'active' THEN 'active' ELSE 'provisioning' END"
)


def provision_statements(app: AppSpec, cell: str | None = None) -> tuple[str, str, tuple[Any, ...]]:
    """What `provision_app` sends: the roles and schema, the registry upsert and its parameters
    (hashed whole into the app's database fingerprint, so the two cannot drift apart). `cell`:
    the registry's name of the app's cell, None for the home cell."""
    sections = json.dumps(app.sections.document())
    params = (app.slug, app.name, app.enrollment, list(app.roles), sections, cell)
    return "BEGIN;" + app_roles_sql(app.slug), _UPSERT + "; COMMIT", params


def provision_app(conn: Connection, app: AppSpec) -> None:
    """Roles, schema, grants and the registry row (status `provisioning`) of one app of the home
    cell, in one transaction; then its LOGIN role's password."""
    roles, upsert, params = provision_statements(app)
    with conn.cursor() as cur:
        try:
            cur.execute(roles)
            cur.execute(upsert, params)
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            raise ProvisioningError(f"app {app.slug!r}: {exc}".strip()) from exc
    ensure_credentials(conn, login_role(app.slug))


def provision_in_cell(conn: Connection, app: AppSpec) -> None:
    """The roles, schema and grants of one app in a cell other than home (`conn`, that cell's
    operator), in one transaction, and its LOGIN role's password (kept in that cell). Its registry
    row follows in the home cell (`register_app`): a crash between the two leaves roles no
    registry names, which the next sync provisions again (every statement is idempotent)."""
    roles, _upsert, _params = provision_statements(app)
    with conn.cursor() as cur:
        try:
            cur.execute(roles + "COMMIT")
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            raise ProvisioningError(f"app {app.slug!r}: {exc}".strip()) from exc
    ensure_credentials(conn, login_role(app.slug))


def register_app(conn: Connection, app: AppSpec, cell: str | None) -> None:
    """The app's registry row (status `provisioning`, in `cell`), in the home cell."""
    _roles, upsert, params = provision_statements(app, cell)
    with conn.cursor() as cur:
        cur.execute("BEGIN; " + upsert, params)


def registered_cells(conn: Connection) -> dict[str, str | None]:
    """Every app the registry holds that is not removed, with its cell (None: home)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT slug, cell FROM {PLATFORM_SCHEMA}.apps WHERE status <> 'removed'")
        return {str(slug): cell for slug, cell in cur.fetchall()}


def record_identity(
    conn: Connection, slug: str, client_id: str, iam_role_arn: str, iam_role_id: str | None = None
) -> None:
    """Store the app's Cognito client and IAM role in the registry (client id -> app mapping)."""
    with conn.cursor() as cur:
        cur.execute(
            f"BEGIN; UPDATE {PLATFORM_SCHEMA}.apps SET iam_role_arn = %(arn)s, iam_role_id = %(role_id)s,"
            " updated_at = now() WHERE slug = %(slug)s"
            " AND (iam_role_arn, iam_role_id) IS DISTINCT FROM (%(arn)s, %(role_id)s);"
            f" INSERT INTO {PLATFORM_SCHEMA}.app_clients (client_id, slug, name) VALUES (%(client)s, %(slug)s, %(name)s)"
            " ON CONFLICT (client_id) DO NOTHING; COMMIT",
            {
                "slug": slug,
                "arn": iam_role_arn,
                "role_id": iam_role_id,
                "client": client_id,
                "name": f"integreat-{slug}",
            },
        )


def activate_app(conn: Connection, slug: str) -> None:
    """Mark the app active: the runtime serves it from the next registry refresh."""
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE {PLATFORM_SCHEMA}.apps SET status = {ACTIVE!r}, updated_at = now()"
            f" WHERE slug = %s AND status <> {ACTIVE!r}",
            (slug,),
        )


def remove_app(conn: Connection, slug: str) -> None:
    """Mark the app removed and drop its schema and roles, in one transaction."""
    # Its fingerprints go too: brought back (`apps restore`, or the manifest again), it is
    # provisioned afresh rather than skipped as unchanged.
    removed = (
        f"UPDATE {PLATFORM_SCHEMA}.apps SET status = 'removed', updated_at = now() WHERE slug = %(slug)s;"
        f" DELETE FROM {PLATFORM_SCHEMA}.provisioning_fingerprints WHERE scope = %(slug)s;"
    )
    with conn.cursor() as cur:
        try:
            cur.execute(drop_app_sql(slug, first=removed), {"slug": slug, "login": login_role(slug)})
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            raise ProvisioningError(f"removing app {slug!r}: {exc}".strip()) from exc


def remove_from_cell(home: Connection, cell: Connection, slug: str) -> None:
    """`remove_app` for an app of another cell: the registry row (home) and the drop (its cell)
    are two databases, so the registry's change is held open, uncommitted, while the cell drops
    the schema and roles in its own transaction; a failed drop rolls the registry back (the app
    stays active and whole). Only a lost home connection between the two commits could leave the
    registry naming an app whose schema is gone; the error then says so."""
    with home.cursor() as cur:
        cur.execute(
            f"BEGIN; SELECT pg_advisory_xact_lock(hashtext('integreat:app:{slug}'));"
            f" UPDATE {PLATFORM_SCHEMA}.apps SET status = 'removed', updated_at = now() WHERE slug = %(slug)s;"
            f" DELETE FROM {PLATFORM_SCHEMA}.provisioning_fingerprints WHERE scope = %(slug)s;",
            {"slug": slug},
        )
        try:
            with cell.cursor() as drop:
                drop.execute(drop_app_sql(slug), {"login": login_role(slug)})
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            with cell.cursor() as drop:
                drop.execute("ROLLBACK")
            raise ProvisioningError(f"removing app {slug!r} from its cell: {exc}".strip()) from exc
        try:
            cur.execute("COMMIT")
        except psycopg2.Error as exc:
            raise ProvisioningError(
                f"app {slug!r}: its schema and roles were dropped from its cell, but the registry"
                f" could not be marked (run `integreat apps remove {slug} --force` again): {exc}"
            ) from exc


def app_cell(conn: Connection, slug: str) -> tuple[bool, str | None]:
    """(whether the registry holds the app, whatever its status; its cell, None for home)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT cell FROM {PLATFORM_SCHEMA}.apps WHERE slug = %s", (slug,))
        row = cur.fetchone()
    return (row is not None, None if row is None or row[0] is None else str(row[0]))


def registered(conn: Connection) -> dict[str, str]:
    """Every app the registry holds that is not removed, with its status."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT slug, status FROM {PLATFORM_SCHEMA}.apps WHERE status <> 'removed'")
        return {str(slug): str(status) for slug, status in cur.fetchall()}


# --- what provisioning last applied (platform migration 0009) -----------------------------------

#: The steps that keep a fingerprint; `PLATFORM_SCOPE` is the platform's own (never a valid slug).
DATABASE_STEP = "database"
IDENTITY_STEP = "identity"
PLATFORM_SCOPE = ""

Fingerprints = dict[tuple[str, str], str]  # (scope, step) -> fingerprint


def fingerprint(document: Any) -> str:
    """The digest of a JSON-able description of desired state (key order does not matter).

    >>> fingerprint({"b": 1, "a": [2]}) == fingerprint({"a": [2], "b": 1})
    True
    """
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def applied_fingerprints(conn: Connection) -> Fingerprints:
    """Every recorded fingerprint; none before the platform's first bootstrap (no table yet)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT to_regclass('{PLATFORM_SCHEMA}.provisioning_fingerprints') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return {}
        cur.execute(f"SELECT scope, step, fingerprint FROM {PLATFORM_SCHEMA}.provisioning_fingerprints")
        return {(str(scope), str(step)): str(fp) for scope, step, fp in cur.fetchall()}


def record_fingerprint(conn: Connection, scope: str, step: str, digest: str) -> None:
    """Remember that `step` of `scope` now matches `digest`; call only once the step succeeded."""
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {PLATFORM_SCHEMA}.provisioning_fingerprints (scope, step, fingerprint)"
            " VALUES (%s, %s, %s) ON CONFLICT (scope, step)"
            " DO UPDATE SET fingerprint = EXCLUDED.fingerprint, applied_at = now()",
            (scope, step, digest),
        )


def recorded_identities(conn: Connection) -> dict[str, tuple[str | None, str | None]]:
    """slug -> (its provisioned client id, its IAM role's id), as `record_identity` left them:
    what the provisioner looks resources up by. Only the client named `integreat-<slug>` counts
    (an app may hold other clients); the newest, if the pool was ever re-created."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.slug, c.client_id, a.iam_role_id"
            f" FROM {PLATFORM_SCHEMA}.apps a LEFT JOIN LATERAL ("
            f" SELECT client_id FROM {PLATFORM_SCHEMA}.app_clients"
            " WHERE slug = a.slug AND name = 'integreat-' || a.slug ORDER BY created_at DESC LIMIT 1"
            ") c ON true WHERE a.status <> 'removed'"
        )
        return {str(slug): (client, role_id) for slug, client, role_id in cur.fetchall()}
