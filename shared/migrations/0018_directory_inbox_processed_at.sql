-- The directory's inbox names its time column as billing's does, so one helper (shared/messaging/inbox.py) keeps
-- both: the envelope ids a consumer has carried out, recorded in the effect's transaction.
ALTER TABLE directory.inbox RENAME COLUMN handled_at TO processed_at;
ALTER INDEX directory.inbox_handled_at_idx RENAME TO inbox_processed_at_idx;
