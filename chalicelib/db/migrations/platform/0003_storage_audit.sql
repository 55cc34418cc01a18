-- The platform audit log: rejected uploads (quarantine), later rejected events and integration
-- calls. Append-only for the runtime; one row per distinct (kind, subject) occurrence, so a
-- redelivered event never logs twice.
CREATE TABLE audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,          -- e.g. 'storage.quarantined'
    app         text,                   -- NULL when the subject lies outside every app
    subject     text NOT NULL,          -- e.g. the S3 key
    reason      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    dedupe_key  text NOT NULL UNIQUE
);
CREATE INDEX audit_app_kind ON audit (app, kind, id);
GRANT INSERT ON audit TO integreat_runtime;
GRANT USAGE ON SEQUENCE audit_id_seq TO integreat_runtime;

-- What the runtime needs to decide storage events without the manifest file: each app's folder
-- rules (as JSON, written by provisioning from the manifest) and its IAM role's unique id
-- (S3 events and SQS name the caller by that id, never by the role's name).
ALTER TABLE apps
    ADD COLUMN storage     jsonb NOT NULL DEFAULT '{"folders": []}',
    ADD COLUMN iam_role_id text;
