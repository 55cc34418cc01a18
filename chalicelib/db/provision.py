"""Provisioning of the Postgres side of the tenant boundary: roles, schemas, grants, credentials,
removal. Idempotent and crash-safe. The registry's rows are `chalicelib.tenancy.store`'s, which
sends them in the same transactions as the statements built here.

Runs with the operator's connection (a role allowed to CREATE ROLE: the superuser locally, the
database owner on Neon). Each app is provisioned in one transaction, so a crash leaves either
nothing or everything of that app's step; every statement is guarded so a re-run is a no-op.

Roles (model: PostgREST's authenticator):
- `integreat_admin`   NOLOGIN; owns schema `integreat`; member of every app role (full access).
- `integreat_runtime` LOGIN NOINHERIT; member of every app role, so it can only reach app data
                      after `SET LOCAL ROLE app_<slug>` (chalicelib/db/tenant.py).
- `app_<slug>`        NOLOGIN; owns schema `app_<slug>` and nothing else.
- `app_<slug>__login` LOGIN; the app team's own backend; member of `app_<slug>` only.
"""

from __future__ import annotations

import psycopg2.extensions

from chalicelib.db.credentials import new_password, scram_verifier
from chalicelib.db.migrate import PLATFORM_SET, Target, load_migrations, migrate_target
from chalicelib.db.tenant import ADMIN_ROLE, LOGIN_SEARCH_PATH, PLATFORM_SCHEMA, RUNTIME_ROLE
from chalicelib.tenancy.slugs import app_role, login_role, schema_name

Connection = psycopg2.extensions.connection

# Identifiers below are constants or come from chalicelib.tenancy.slugs (validated), never input.
BOOTSTRAP_SQL = f"""
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('integreat:bootstrap'));
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ADMIN_ROLE}') THEN
    CREATE ROLE {ADMIN_ROLE} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN
    CREATE ROLE {RUNTIME_ROLE} LOGIN NOINHERIT;
  END IF;
  -- Temporary tables would shadow app tables for the next tenant on a pooled session
  -- (pg_temp is searched first unless named), so only the admin may create them.
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO {ADMIN_ROLE}', current_database());
END $$;
ALTER ROLE {RUNTIME_ROLE} NOINHERIT;
-- The schema follows the role: after SET LOCAL ROLE app_<slug>, $user is app_<slug>.
ALTER ROLE {RUNTIME_ROLE} SET search_path = {LOGIN_SEARCH_PATH};
GRANT {ADMIN_ROLE} TO CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS {PLATFORM_SCHEMA} AUTHORIZATION {ADMIN_ROLE};
REVOKE ALL ON SCHEMA {PLATFORM_SCHEMA} FROM PUBLIC;
COMMIT;
"""


def bootstrap(conn: Connection) -> None:
    """Platform roles, the `integreat` schema, hardening of `public`, platform migrations."""
    with conn.cursor() as cur:
        cur.execute(BOOTSTRAP_SQL)
    migrate_target(conn, Target(PLATFORM_SCHEMA, ADMIN_ROLE), load_migrations(PLATFORM_SET))
    ensure_credentials(conn, RUNTIME_ROLE)


def ensure_credentials(conn: Connection, role: str) -> None:
    """Give `role` a generated password once, storing it for `integreat db url`, atomically."""
    with conn.cursor() as cur:
        cur.execute(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext(%s));"
            f" SELECT 1 FROM {PLATFORM_SCHEMA}.role_credentials WHERE role_name = %s",
            (f"integreat:credentials:{role}", role),
        )
        if cur.fetchone() is None:
            password = new_password()
            cur.execute(f'ALTER ROLE "{role}" PASSWORD %s', (scram_verifier(password),))
            cur.execute(
                f"INSERT INTO {PLATFORM_SCHEMA}.role_credentials (role_name, password) VALUES (%s, %s)",
                (role, password),
            )
        cur.execute("COMMIT")


def app_roles_sql(slug: str) -> str:
    """The statements (inside the caller's transaction) that create the app's roles and schema,
    idempotently; `chalicelib.tenancy.store.provision_app` adds the registry row to them."""
    role, login, schema = app_role(slug), login_role(slug), schema_name(slug)
    return f"""
SELECT pg_advisory_xact_lock(hashtext('integreat:app:{slug}'));
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE "{role}" NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{login}') THEN
    CREATE ROLE "{login}" LOGIN INHERIT CONNECTION LIMIT 20;
  END IF;
END $$;
GRANT "{role}" TO "{login}";
GRANT "{role}" TO {RUNTIME_ROLE};
GRANT "{role}" TO {ADMIN_ROLE};
CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}";
REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC;
-- Objects the team's backend creates as its LOGIN role stay usable by the app role (and so by
-- the runtime after the switch, and the admin through membership), by no one else.
ALTER DEFAULT PRIVILEGES FOR ROLE "{login}" IN SCHEMA "{schema}" GRANT ALL ON TABLES TO "{role}";
ALTER DEFAULT PRIVILEGES FOR ROLE "{login}" IN SCHEMA "{schema}" GRANT ALL ON SEQUENCES TO "{role}";
ALTER DEFAULT PRIVILEGES FOR ROLE "{login}" IN SCHEMA "{schema}" GRANT EXECUTE ON FUNCTIONS TO "{role}";
ALTER ROLE "{login}" SET search_path = "{schema}", pg_temp;
"""


def drop_app_sql(slug: str, *, first: str = "", begin: bool = True) -> str:
    """One transaction that drops the app's schema and both its roles and their credentials,
    after `first` (the registry's own change, `chalicelib.tenancy.store.remove_app`). Parameters:
    `%(login)s`, and whatever `first` names. `begin=False`: inside a transaction already open
    (`integreat apps move` drops the source under the locks it took)."""
    role, login, schema = app_role(slug), login_role(slug), schema_name(slug)
    return f"""
{"BEGIN;" if begin else ""}
SELECT pg_advisory_xact_lock(hashtext('integreat:app:{slug}'));
{first}
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(login)s;
DROP SCHEMA IF EXISTS "{schema}" CASCADE;
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{login}') THEN DROP OWNED BY "{login}"; END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN DROP OWNED BY "{role}"; END IF;
END $$;
DROP ROLE IF EXISTS "{login}";
DROP ROLE IF EXISTS "{role}";
DELETE FROM {PLATFORM_SCHEMA}.role_credentials WHERE role_name = %(login)s;
COMMIT;
"""


def role_password(conn: Connection, role: str) -> str | None:
    """The stored password of a generated LOGIN role (operator connection only)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT password FROM {PLATFORM_SCHEMA}.role_credentials WHERE role_name = %s", (role,))
        row = cur.fetchone()
    return None if row is None else str(row[0])
