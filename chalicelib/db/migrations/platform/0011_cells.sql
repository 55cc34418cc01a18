-- Cells (issue 16): apps spread over several Postgres databases, one cell each. Neon allows 500
-- roles per branch and every app has two, so one database holds at most ~249 apps.
--
-- `cell` names the database that holds the app's schema and roles; NULL is the home cell, the one
-- holding this schema (so every app registered before cells existed stays where it is, and a
-- manifest that declares no cell never writes one). Sticky: only `integreat apps move` changes it.
-- `moving`: the app is being copied to another cell; the runtime serves its reads from the source
-- and refuses its writes (503 + Retry-After) until the registry names the new cell.
ALTER TABLE apps ADD COLUMN cell text;
ALTER TABLE apps DROP CONSTRAINT apps_status_check;
ALTER TABLE apps ADD CONSTRAINT apps_status_check
    CHECK (status IN ('provisioning', 'active', 'moving', 'removed'));
CREATE INDEX apps_cell ON apps (cell) WHERE status <> 'removed';
