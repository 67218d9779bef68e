-- Whether events of the application arrived ahead of their predecessor and may wait in
-- deferred_events: set (under the process's lock) when one is deferred, so the steps of the
-- other processes do not look for any.
ALTER TABLE processes ADD COLUMN early_events boolean NOT NULL DEFAULT false;
UPDATE processes SET early_events = true
WHERE application_id IN (SELECT application_id FROM deferred_events);
