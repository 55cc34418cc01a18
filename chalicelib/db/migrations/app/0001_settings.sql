-- Applied to every app schema as the app's role (so the app role owns it).
-- A small key/value store every app gets: per-app configuration its backend and the platform share.
CREATE TABLE settings (
    key         text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
