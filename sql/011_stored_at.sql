-- payhook 011: webhook_events.stored_at, when the row was written.
--
-- stored_at - received_at is how long a delivery took from its receipt by
-- the handler to the insert of its row (the commit excluded), which
-- `payhook tail` shows as "ms". A delivery that waited in the spool while
-- the database was down shows its time there: received_at is the time the
-- handler first received it, stored_at the time the replay wrote it.
--
-- Added without a default first, so that PostgreSQL records NULL for the
-- existing rows without rewriting the table (rows from before this
-- migration have no stored_at); then the default for the rows to come.
-- clock_timestamp(), not now(): now() is the start of the transaction.
-- payhook.event_insert names the columns it fills and leaves this one to
-- its default; `payhook rebuild` writes no webhook_events row.

ALTER TABLE payhook.webhook_events ADD COLUMN stored_at timestamptz;
ALTER TABLE payhook.webhook_events ALTER COLUMN stored_at SET DEFAULT clock_timestamp();

COMMENT ON COLUMN payhook.webhook_events.stored_at IS
    'When the row was written (clock_timestamp() at the insert); NULL before migration 011.';
