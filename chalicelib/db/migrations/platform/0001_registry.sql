-- The platform schema `integreat`: the app registry and the credentials of generated roles.
-- Runs as integreat_admin (owner of everything here).
CREATE TABLE apps (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('provisioning', 'active', 'removed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Passwords of the LOGIN roles Integreat creates (the runtime and each app's own role), for
-- `integreat db url`. Only integreat_admin can read it; production keeps a copy in Secrets Manager.
CREATE TABLE role_credentials (
    role_name   text PRIMARY KEY,
    password    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The runtime reads the registry (through a TTL cache) and nothing else here.
GRANT USAGE ON SCHEMA integreat TO integreat_runtime;
GRANT SELECT ON apps TO integreat_runtime;
