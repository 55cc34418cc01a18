"""The attacks of the isolation matrix (tests/security/test_isolation_matrix.py, and across cells
tests/cells/test_isolation_across_cells.py): what an app must never do to another's data."""

from __future__ import annotations

import psycopg2.errors

# Each attack is one statement against the victim's schema or `public`; {v} is the victim.
ATTACKS = {
    "read": "SELECT * FROM app_{v}.settings",
    "write": "INSERT INTO app_{v}.settings (key, value) VALUES ('pwned', '1')",
    "update": "UPDATE app_{v}.settings SET value = '1'",
    "delete": "DELETE FROM app_{v}.settings",
    "create": "CREATE TABLE app_{v}.planted (x int)",
    "drop": "DROP TABLE app_{v}.settings",
    "alter": "ALTER TABLE app_{v}.settings ADD COLUMN x int",
    "truncate": "TRUNCATE app_{v}.settings",
    "grant": "GRANT SELECT ON app_{v}.settings TO PUBLIC",
    "drop_schema": "DROP SCHEMA app_{v} CASCADE",
    "create_in_public": "CREATE TABLE public.planted_{v} (x int)",
    "read_public": "SELECT * FROM public.platform_secret",
    "write_public": "INSERT INTO public.platform_secret VALUES ('x')",
    "read_registry": "SELECT * FROM integreat.role_credentials",
    "temp_table": "CREATE TEMP TABLE settings (key text, value jsonb)",
    "create_schema": "CREATE SCHEMA planted_{v}",
}
DENIED = (psycopg2.errors.InsufficientPrivilege,)
