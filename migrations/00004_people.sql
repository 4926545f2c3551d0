-- People who sign in (issue 12): the user of an owner who made an upload,
-- and the sign-in links, browser sessions and embed tokens minted for them.
-- See 00001_uploads.sql for why the types are what they are.

-- +goose Up
ALTER TABLE uploads ADD COLUMN user_id TEXT NOT NULL DEFAULT '';

-- A user's uploads, newest first, paged by id.
CREATE INDEX uploads_owner_user_id ON uploads (owner, user_id, id DESC);

CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY, -- hex SHA-256 of the secret; the secret itself is never stored
    kind       TEXT   NOT NULL,    -- link (one use), browser (a cookie) or embed (a bearer)
    owner      TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    profiles   TEXT   NOT NULL DEFAULT '', -- comma-separated; empty = every profile
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0   -- links: when it was opened
);

-- Revocation: every session of one user of one owner.
CREATE INDEX sessions_owner_user ON sessions (owner, user_id);

-- Clean-up of lapsed rows.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
DROP INDEX uploads_owner_user_id;
ALTER TABLE uploads DROP COLUMN user_id;
