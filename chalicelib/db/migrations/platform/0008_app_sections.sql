-- Each app's sections as one JSON document keyed by section name (storage, events, datasets,
-- and whatever a later feature adds), so adding a section needs no column and no migration.
-- The rows written before keep their data: the three columns become the document's keys.
ALTER TABLE apps ADD COLUMN sections jsonb NOT NULL DEFAULT '{}';
UPDATE apps SET sections = jsonb_build_object('storage', storage, 'events', events, 'datasets', datasets);
ALTER TABLE apps DROP COLUMN storage, DROP COLUMN events, DROP COLUMN datasets;
