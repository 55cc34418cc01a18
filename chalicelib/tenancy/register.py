"""Writing the registry's rows (`integreat.apps`, `integreat.app_clients`), for provisioning:
an app's row travels in the same transaction as its roles and schema (`chalicelib.db.provision`),
so a crash leaves either both or neither. Its sections go in as one JSON document, each encoded
by its own section (`Sections.document`). `chalicelib.tenancy.store` reads them back.
"""

from __future__ import annotations

import json

import psycopg2

from chalicelib.db.errors import ProvisioningError
from chalicelib.db.pool import Connection
from chalicelib.db.provision import app_roles_sql, drop_app_sql, ensure_credentials
from chalicelib.db.tenant import PLATFORM_SCHEMA
from chalicelib.tenancy.model import AppSpec
from chalicelib.tenancy.registry import ACTIVE
from chalicelib.tenancy.slugs import login_role

_UPSERT = (
    f"INSERT INTO {PLATFORM_SCHEMA}.apps (slug, name, enrollment, roles, sections, status)"
    " VALUES (%s, %s, %s, %s, %s, 'provisioning')"
    " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, enrollment = EXCLUDED.enrollment,"
    " roles = EXCLUDED.roles, sections = EXCLUDED.sections, updated_at = now(),"
    " status = CASE WHEN apps.status = 'active' THEN 'active' ELSE 'provisioning' END"
)


def provision_app(conn: Connection, app: AppSpec) -> None:
    """Roles, schema, grants and the registry row (status `provisioning`) of one app, in one
    transaction; then its LOGIN role's password."""
    params = (app.slug, app.name, app.enrollment, list(app.roles), json.dumps(app.sections.document()))
    with conn.cursor() as cur:
        try:
            cur.execute("BEGIN;" + app_roles_sql(app.slug))
            cur.execute(_UPSERT + "; COMMIT", params)
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            raise ProvisioningError(f"app {app.slug!r}: {exc}".strip()) from exc
    ensure_credentials(conn, login_role(app.slug))


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
    removed = (
        f"UPDATE {PLATFORM_SCHEMA}.apps SET status = 'removed', updated_at = now() WHERE slug = %(slug)s;"
    )
    with conn.cursor() as cur:
        try:
            cur.execute(drop_app_sql(slug, first=removed), {"slug": slug, "login": login_role(slug)})
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            raise ProvisioningError(f"removing app {slug!r}: {exc}".strip()) from exc


def registered(conn: Connection) -> dict[str, str]:
    """Every app the registry holds that is not removed, with its status."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT slug, status FROM {PLATFORM_SCHEMA}.apps WHERE status <> 'removed'")
        return {str(slug): str(status) for slug, status in cur.fetchall()}
