-- The chats table of the service contract. The harness seeds it directly, so the column
-- names and types are part of the contract; IF NOT EXISTS lets a harness that created the
-- table itself still run chatd's migrations.

-- +goose Up
CREATE TABLE IF NOT EXISTS chats (
    id                      bigserial PRIMARY KEY,
    name                    text        NOT NULL,
    -- MAX group chat ids are negative; NULL means the chat is not linked to MAX.
    max_chat_id             bigint      UNIQUE,
    -- The last known good count: what the database fallback serves.
    participants_count      integer     NOT NULL DEFAULT 0,
    -- NULL until a count was ever observed.
    participants_updated_at timestamptz
);

-- +goose Down
DROP TABLE IF EXISTS chats;
