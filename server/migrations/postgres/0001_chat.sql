-- Chat rooms and their messages. Ids are numbered per room from 1; `last_id` is the room's
-- counter, bumped in the transaction that inserts the message (its row lock orders the
-- posts of one room across replicas). Times are microseconds since the Unix epoch (UTC),
-- the same integers on both engines.
CREATE TABLE chat_rooms (
    name TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    active_at_us BIGINT NOT NULL
);

CREATE INDEX chat_rooms_by_activity ON chat_rooms (active_at_us);

CREATE TABLE chat_messages (
    room TEXT NOT NULL REFERENCES chat_rooms (name) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    posted_at_us BIGINT NOT NULL,
    PRIMARY KEY (room, id)
);
