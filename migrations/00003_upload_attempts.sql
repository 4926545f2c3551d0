-- Counts the processing runs of an upload, so that complete can re-queue
-- a transient failure a bounded number of times (upload.MaxAttempts).
-- Rows from before this migration count as having had one run, which is
-- at least what they had.

-- +goose Up
ALTER TABLE uploads ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
UPDATE uploads SET attempts = 1 WHERE status <> 'pending';

-- +goose Down
ALTER TABLE uploads DROP COLUMN attempts;
