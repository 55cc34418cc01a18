-- What the runtime needs to serve shared datasets without the manifest: each app's datasets
-- (view, key column, reader apps), written by provisioning from the manifest.
ALTER TABLE apps ADD COLUMN datasets jsonb NOT NULL DEFAULT '[]';
