-- What the admin API reads. The runtime login role is never granted integreat_admin (a bug in a
-- route must not become full access), so it gets exactly two read paths instead:
-- the audit log (it already appends to it; rows hold no secrets), and per-app aggregate figures
-- through a SECURITY DEFINER function that returns counts only, never rows of an app.
GRANT SELECT ON audit TO integreat_runtime;

CREATE FUNCTION app_figures(slugs text[])
RETURNS TABLE (app text, files bigint, bytes bigint, inbox_depth bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY slugs LOOP
        -- The same shape the platform enforces for slugs; anything else never reaches format().
        IF s !~ '^[a-z][a-z0-9_]{0,39}$' THEN
            RAISE EXCEPTION 'invalid app slug %', s USING ERRCODE = '22023';
        END IF;
        RETURN QUERY EXECUTE format(
            'SELECT %L::text,'
            ' (SELECT count(*) FROM %I.files WHERE NOT deleted),'
            ' (SELECT coalesce(sum(size), 0)::bigint FROM %I.files WHERE NOT deleted),'
            ' (SELECT count(*) FROM %I.inbox WHERE acked_at IS NULL)',
            s, 'app_' || s, 'app_' || s, 'app_' || s);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION app_figures(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_figures(text[]) TO integreat_runtime;
