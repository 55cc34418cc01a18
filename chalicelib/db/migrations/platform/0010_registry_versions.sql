-- The registry's change watermark (issue 16, "Scale: 1,000 apps"): a runtime refresh reads only
-- the apps changed since its last read instead of all of them (chalicelib/tenancy/store.py).
--
-- `version` orders the changes: one sequence, bumped by a trigger on every write of an app's row,
-- and of its rows in app_clients (the registry record carries the clients). A sequence hands out
-- numbers in call order, not commit order: a slow transaction can commit version 7 after a fast
-- one committed 8, so "version > the highest held" alone would skip it for good. `version_xact`,
-- the transaction that wrote the version, closes that gap: a refresh asks for the rows whose
-- transaction its previous read's snapshot could not see (pg_visible_in_snapshot, PostgreSQL 13+),
-- and keeps `version` to notice a restore (the highest version going backwards).
CREATE SEQUENCE app_versions;
ALTER TABLE apps
    ADD COLUMN version bigint NOT NULL DEFAULT nextval('app_versions'),
    ADD COLUMN version_xact xid8 NOT NULL DEFAULT pg_current_xact_id();
-- The defaults number the rows already there; from now on the trigger writes both columns.
ALTER TABLE apps ALTER COLUMN version DROP DEFAULT, ALTER COLUMN version_xact DROP DEFAULT;
ALTER SEQUENCE app_versions OWNED BY apps.version;
CREATE INDEX apps_version ON apps (version);
CREATE INDEX apps_version_xact ON apps (version_xact);

-- The functions resolve names in the schema they are created in (the migration's search_path,
-- pg_temp last), whoever writes and whatever their search_path.
CREATE FUNCTION bump_app_version() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.version_xact := pg_current_xact_id();
    NEW.version := nextval('app_versions');
    RETURN NEW;
END
$$;
CREATE TRIGGER apps_version BEFORE INSERT OR UPDATE ON apps
    FOR EACH ROW EXECUTE FUNCTION bump_app_version();

-- A client added, moved or dropped changes its app's record: touch the app's row, whose own
-- trigger bumps it. (A client dropped by the cascade of a deleted app touches nothing.)
CREATE FUNCTION bump_client_app_version() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE apps SET version = version WHERE slug = OLD.slug;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.slug IS DISTINCT FROM OLD.slug) THEN
        UPDATE apps SET version = version WHERE slug = NEW.slug;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER app_clients_version AFTER INSERT OR UPDATE OR DELETE ON app_clients
    FOR EACH ROW EXECUTE FUNCTION bump_client_app_version();
