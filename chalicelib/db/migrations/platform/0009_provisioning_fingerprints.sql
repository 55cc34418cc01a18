-- What `integreat apps sync` last applied (issue 16, 1,000 apps): per app and step, the digest of
-- the desired state it made true. A sync compares each app's desired digest with this one and
-- skips the step when they are equal, so an unchanged sync sends no DDL and no AWS write. A row is
-- written only once its step fully succeeded, so an interrupted sync resumes at the first app it
-- had not finished. `scope` is the app's slug, or '' for the platform's own step (bootstrap, the
-- admin group): '' is never a valid slug. Only the operator (integreat_admin) reads or writes it.
CREATE TABLE provisioning_fingerprints (
    scope        text NOT NULL,
    step         text NOT NULL CHECK (step IN ('database', 'identity')),
    fingerprint  text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, step)
);
