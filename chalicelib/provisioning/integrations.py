"""Apply the manifest's integrations to `integreat.integrations`, in one transaction.

Integrations are configuration, not data: one the manifest no longer declares is removed, and
the proxy refuses it from the next registry refresh on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from chalicelib.db.pool import Connect
from chalicelib.db.provision import bootstrap
from chalicelib.integrations.model import IntegrationSpec, to_json


class IntegrationSync(NamedTuple):
    applied: tuple[str, ...]
    removed: tuple[str, ...]


def sync_integrations(connect: Connect, specs: Sequence[IntegrationSpec]) -> IntegrationSync:
    conn = connect()
    try:
        bootstrap(conn)
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            for spec in specs:
                cur.execute(
                    "INSERT INTO integreat.integrations (name, spec) VALUES (%s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()"
                    " WHERE integrations.spec IS DISTINCT FROM EXCLUDED.spec",
                    (spec.name, to_json(spec)),
                )
            cur.execute(
                "DELETE FROM integreat.integrations WHERE NOT (name = ANY(%s)) RETURNING name",
                ([s.name for s in specs],),
            )
            removed = tuple(sorted(str(row[0]) for row in cur.fetchall()))
            cur.execute("COMMIT")
    finally:
        conn.close()
    return IntegrationSync(tuple(s.name for s in specs), removed)
