-- Usage per app (issue 19): daily counters, and this minute's API requests for the rate limit.
--
-- Nothing here is written per request. Each runtime instance counts in memory
-- (chalicelib/usage/meter.py) and hands its counts over every few seconds in one call of
-- record_usage(), which is idempotent by the flush's id: a flush re-sent after a lost answer
-- counts once. The runtime can only add through that function; it can read the counters, never
-- rewrite or reset them.
CREATE TABLE usage_daily (
    app     text   NOT NULL,
    day     date   NOT NULL,
    figure  text   NOT NULL CHECK (figure ~ '^[a-z][a-z0-9_]{0,39}$'),
    value   bigint NOT NULL,
    PRIMARY KEY (app, day, figure)
);
-- The admin listing pages by (day, app) across apps.
CREATE INDEX usage_daily_day ON usage_daily (day, app);
GRANT SELECT ON usage_daily TO integreat_runtime;

-- API requests per app and minute, summed over every instance: what each instance learns back
-- from its flush, so that an app's limit holds across instances (to within one flush interval).
CREATE TABLE usage_minutes (
    app       text        NOT NULL,
    minute    timestamptz NOT NULL,
    requests  bigint      NOT NULL,
    PRIMARY KEY (app, minute)
);

CREATE TABLE usage_flushes (
    id  uuid        PRIMARY KEY,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_flushes_at ON usage_flushes (at);

CREATE FUNCTION record_usage(
    p_id uuid, p_apps text[], p_days date[], p_figures text[], p_values bigint[],
    p_minute timestamptz, p_minute_apps text[], p_minute_counts bigint[]
)
RETURNS TABLE (out_app text, out_requests bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO integreat.usage_flushes (id) VALUES (p_id) ON CONFLICT DO NOTHING;
    IF FOUND THEN  -- a flush seen before adds nothing; it still learns this minute's totals
        INSERT INTO integreat.usage_daily AS u (app, day, figure, value)
        SELECT * FROM unnest(p_apps, p_days, p_figures, p_values)
        ON CONFLICT ON CONSTRAINT usage_daily_pkey DO UPDATE SET value = u.value + EXCLUDED.value;
        INSERT INTO integreat.usage_minutes AS m (app, minute, requests)
        SELECT a, p_minute, n FROM unnest(p_minute_apps, p_minute_counts) AS t (a, n)
        ON CONFLICT ON CONSTRAINT usage_minutes_pkey DO UPDATE SET requests = m.requests + EXCLUDED.requests;
        IF random() < 0.01 THEN  -- housekeeping, about once per hundred flushes
            DELETE FROM integreat.usage_minutes WHERE minute < p_minute - interval '10 minutes';
            DELETE FROM integreat.usage_flushes WHERE at < now() - interval '1 day';
        END IF;
    END IF;
    RETURN QUERY SELECT m.app, m.requests FROM integreat.usage_minutes m
        WHERE m.minute = p_minute AND m.app = ANY (p_minute_apps);
END
$$;
REVOKE ALL ON FUNCTION record_usage(uuid, text[], date[], text[], bigint[], timestamptz, text[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_usage(uuid, text[], date[], text[], bigint[], timestamptz, text[], bigint[])
    TO integreat_runtime;

-- Per-app current figures for the usage API: members are the users who signed up through the
-- app's clients (the platform's own record, `signups`), less those the app's admins removed.
CREATE FUNCTION app_members(p_app text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(DISTINCT s.username) FROM integreat.signups s
    JOIN integreat.app_clients c ON c.client_id = s.client_id
    WHERE c.slug = p_app AND NOT EXISTS (
        SELECT 1 FROM integreat.app_exclusions x WHERE x.slug = p_app AND x.username = s.username)
$$;
REVOKE ALL ON FUNCTION app_members(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_members(text) TO integreat_runtime;
