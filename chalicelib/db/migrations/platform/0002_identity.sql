-- Identity: what the runtime needs to map a Cognito app client to its app, and to scope tokens,
-- without a network call on the warm path (it is all in the registry cache).
ALTER TABLE apps
    ADD COLUMN enrollment   text NOT NULL DEFAULT 'invite' CHECK (enrollment IN ('open', 'invite')),
    ADD COLUMN roles        text[] NOT NULL DEFAULT ARRAY['member'],
    ADD COLUMN iam_role_arn text;

-- An app may have several clients (web, mobile); a client belongs to exactly one app.
CREATE TABLE app_clients (
    client_id   text PRIMARY KEY,
    slug        text NOT NULL REFERENCES apps (slug) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_clients_slug ON app_clients (slug);

-- The trustworthy record of which client a user signed up through: written by the platform's
-- own triggers from Cognito's callerContext (never from anything the user can write), read by
-- `integreat users reconcile` to repair users the post-confirmation trigger missed.
CREATE TABLE signups (
    username        text NOT NULL,
    client_id       text NOT NULL,
    trigger_source  text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, client_id)
);

GRANT SELECT ON app_clients TO integreat_runtime;
GRANT SELECT, INSERT ON signups TO integreat_runtime;

-- Users an app admin removed from an open app: the pre-token trigger does not re-enrol them at
-- their next sign-in (a refresh through GetTokensFromRefreshToken arrives as
-- TokenGeneration_Authentication, so "never on refresh" alone would not make removal stick).
CREATE TABLE app_exclusions (
    slug         text NOT NULL REFERENCES apps (slug) ON DELETE CASCADE,
    username     text NOT NULL,
    excluded_by  text NOT NULL,
    excluded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (slug, username)
);
GRANT SELECT, INSERT, DELETE ON app_exclusions TO integreat_runtime;
