-- Third-party integrations: what the proxy may call (written by provisioning from the manifest),
-- and per-app call counts for the rate limit. The runtime reads the specs and counts calls only
-- through take_integration_call(): it can neither change a spec nor reset a counter.
CREATE TABLE integrations (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON integrations TO integreat_runtime;

CREATE TABLE integration_calls (
    app           text NOT NULL,
    integration   text NOT NULL,
    window_start  timestamptz NOT NULL,
    calls         integer NOT NULL,
    PRIMARY KEY (app, integration, window_start)
);

-- One round trip: count this call in the current one-minute window and answer 0 (admitted) or
-- the seconds until the window ends (refused). A fixed window shared by every Lambda instance:
-- an in-memory limit would multiply by the number of warm instances.
CREATE FUNCTION take_integration_call(p_app text, p_integration text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    w timestamptz := date_trunc('minute', clock_timestamp());
    n integer;
BEGIN
    INSERT INTO integreat.integration_calls AS c (app, integration, window_start, calls)
    VALUES (p_app, p_integration, w, 1)
    ON CONFLICT (app, integration, window_start) DO UPDATE SET calls = c.calls + 1
    RETURNING calls INTO n;
    IF n = 1 THEN  -- first call of a window: forget the app's earlier windows of this integration
        DELETE FROM integreat.integration_calls
        WHERE app = p_app AND integration = p_integration AND window_start < w;
    END IF;
    IF n <= p_limit THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM (w + interval '1 minute' - clock_timestamp())))::integer);
END
$$;
REVOKE ALL ON FUNCTION take_integration_call(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION take_integration_call(text, text, integer) TO integreat_runtime;
