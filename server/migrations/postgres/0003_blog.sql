-- The blog: authors and their posts. `state` is the proto enum's number (blog.v1.Post.State);
-- `publish_time_us` is NULL until the post is published (the proto's optional field);
-- `revision` counts the post's changes and is its etag. Times are microseconds since the
-- Unix epoch (UTC).
CREATE TABLE blog_authors (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    bio TEXT NOT NULL,
    create_time_us BIGINT NOT NULL
);

CREATE TABLE blog_posts (
    id TEXT PRIMARY KEY,
    author_id TEXT NOT NULL REFERENCES blog_authors (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    state BIGINT NOT NULL,
    create_time_us BIGINT NOT NULL,
    update_time_us BIGINT NOT NULL,
    publish_time_us BIGINT,
    revision BIGINT NOT NULL
);

CREATE INDEX blog_posts_newest ON blog_posts (create_time_us DESC, id DESC);
