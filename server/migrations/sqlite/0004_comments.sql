-- The blog's comments. `blog_comment_counters.last_id` numbers each post's comments: the
-- row is updated in the transaction that adds one, so on PostgreSQL concurrent additions to
-- one post queue on it and ids commit in order (a follower reading by id misses nothing).
-- A post's comments go with it.
CREATE TABLE blog_comment_counters (
    post_id TEXT PRIMARY KEY NOT NULL REFERENCES blog_posts (id) ON DELETE CASCADE,
    last_id INTEGER NOT NULL
);

CREATE TABLE blog_comments (
    post_id TEXT NOT NULL REFERENCES blog_posts (id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    create_time_us INTEGER NOT NULL,
    PRIMARY KEY (post_id, id)
);
