-- S3 multipart uploads: the UploadId S3 gave the upload, and the size of
-- its parts. Both empty for an upload sent as one POST.

-- +goose Up
ALTER TABLE uploads ADD COLUMN multipart_id TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN part_size BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE uploads DROP COLUMN part_size;
ALTER TABLE uploads DROP COLUMN multipart_id;
