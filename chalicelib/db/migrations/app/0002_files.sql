-- The app's file index, written by the storage-events consumer (issue: storage).
-- One row per key. Removals keep the row as a tombstone (deleted = true) carrying the removal's
-- sequencer, so a creation event that arrives late (S3 does not order notifications) can never
-- resurrect a removed file: a row is only ever overwritten by an event with a greater sequencer.
CREATE TABLE files (
    key           text PRIMARY KEY,           -- the full, decoded S3 key: "<slug>/<folder>/<name>"
    size          bigint NOT NULL DEFAULT 0,
    etag          text,
    content_type  text,
    uploader      text,                       -- Cognito sub, or the IAM principal for app backends
    sequencer     text NOT NULL,              -- S3's event sequencer, left-padded for comparison
    event_time    timestamptz NOT NULL,
    deleted       boolean NOT NULL DEFAULT false,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
-- Folder listings are prefix scans in key order (keyset pagination).
CREATE INDEX files_live_keys ON files (key text_pattern_ops) WHERE NOT deleted;
