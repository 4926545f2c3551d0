-- The same SQL runs on SQLite and Postgres: only TEXT, INTEGER and BIGINT
-- columns, and timestamps as BIGINT Unix milliseconds, because the two
-- databases share no timestamp type that round-trips through both drivers
-- alike. A zero time is stored as 0.

-- +goose Up
CREATE TABLE uploads (
    id             TEXT    PRIMARY KEY, -- upload.NewID: 26 characters, sorts by creation time
    profile        TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    filename       TEXT    NOT NULL DEFAULT '',
    declared_type  TEXT    NOT NULL DEFAULT '',
    declared_bytes BIGINT  NOT NULL DEFAULT 0,
    content_type   TEXT    NOT NULL DEFAULT '',
    bytes          BIGINT  NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL,
    error_code     TEXT    NOT NULL DEFAULT '',
    error_message  TEXT    NOT NULL DEFAULT '',
    width          INTEGER NOT NULL DEFAULT 0,
    height         INTEGER NOT NULL DEFAULT 0,
    blurhash       TEXT    NOT NULL DEFAULT '',
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL DEFAULT 0,
    processed_at   BIGINT
);

-- An owner's uploads, newest first, paged by id.
CREATE INDEX uploads_owner_id ON uploads (owner, id DESC);

-- The reconciler's scan for rows stuck in one status.
CREATE INDEX uploads_status_updated_at ON uploads (status, updated_at);

-- +goose Down
DROP TABLE uploads;
