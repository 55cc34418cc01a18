-- The app's inbox: cross-app events delivered to it (issue: messaging). Exactly once per event:
-- a CloudEvent is identified by (source, id), so a redelivered event inserts nothing.
-- The app's own LOGIN role reads it directly; the API serves it oldest first by `seq`.
CREATE TABLE inbox (
    seq              bigserial PRIMARY KEY,       -- delivery order: the pagination cursor
    event_id         text NOT NULL,
    source           text NOT NULL,               -- /apps/<producer>, stamped by the platform
    type             text NOT NULL,
    time             timestamptz NOT NULL,
    subject          text,
    datacontenttype  text,
    data             jsonb,
    envelope         jsonb NOT NULL,              -- the whole CloudEvent, as published
    received_at      timestamptz NOT NULL DEFAULT now(),
    acked_at         timestamptz,
    UNIQUE (source, event_id)
);
CREATE INDEX inbox_unacked ON inbox (seq) WHERE acked_at IS NULL;
