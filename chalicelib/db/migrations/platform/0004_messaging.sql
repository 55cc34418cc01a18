-- What the runtime needs to route events without the manifest: each app's events section.
ALTER TABLE apps ADD COLUMN events jsonb NOT NULL DEFAULT '{}';
