-- Files in the database, so that every replica serves every upload. Content is kept in
-- chunks of at most 1 MiB (`file_chunks`, by content id and byte position). An upload in
-- progress has a row in `uploads`: the bytes committed so far (`received`, where a resumed
-- upload goes on), whether the client can resume it (`resumable`, 1 or 0), and the content
-- id its chunks are kept under, a server-made one (client-chosen upload ids may repeat).
-- It becomes a row of `files` in the one transaction that finishes it. Times are
-- microseconds since the Unix epoch (UTC).
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL,
    content_id TEXT NOT NULL,
    resumable INTEGER NOT NULL,
    touched_at_us INTEGER NOT NULL
);

CREATE INDEX uploads_by_touch ON uploads (touched_at_us);

CREATE TABLE files (
    name TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at_us INTEGER NOT NULL,
    content_id TEXT NOT NULL
);

CREATE TABLE file_chunks (
    content_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (content_id, position)
);
