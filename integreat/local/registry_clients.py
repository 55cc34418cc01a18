"""Registry hygiene after moto came back without some app clients (issue 14: after a crash the
registry kept dead Cognito client ids, which the CLI and the demo picked first)."""

from __future__ import annotations

from typing import Any

from chalicelib.db.pool import connector

_RECORDED = "SELECT client_id FROM integreat.app_clients"
_DROP = "DELETE FROM integreat.app_clients WHERE client_id = ANY(%s)"


def prune_clients(operator_url: str, identity: Any) -> int:
    """Drop the recorded client ids `identity` (an IdentityProvisioner) finds dead; provisioning
    has just recorded each app's live client, so every app keeps one. Returns how many went."""
    conn = connector(operator_url)()
    try:
        with conn.cursor() as cur:
            cur.execute(_RECORDED)
            stale = sorted(identity.stale_clients(str(row[0]) for row in cur.fetchall()))
            if stale:
                cur.execute(_DROP, (stale,))
    finally:
        conn.close()
    return len(stale)
