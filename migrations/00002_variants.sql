-- See 00001_uploads.sql for why the types are what they are.

-- +goose Up
CREATE TABLE variants (
    upload_id      TEXT    NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    object_key     TEXT    NOT NULL,
    content_type   TEXT    NOT NULL,
    width          INTEGER NOT NULL DEFAULT 0,
    height         INTEGER NOT NULL DEFAULT 0,
    bytes          BIGINT  NOT NULL DEFAULT 0,
    original_bytes BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (upload_id, name)
);

-- +goose Down
DROP TABLE variants;
