//! The comment service on both engines: comments under published posts only (the post
//! checked through the post service, its errors passed on with their codes), pages oldest
//! first, a live follower that misses nothing and repeats nothing, and a post's comments
//! going with it. Across replicas on PostgreSQL: a comment added on one reaches a follower
//! on another.

use std::time::Duration;

use proto::blog::v1::{
    AddCommentRequest, Author, Comment, CreateAuthorRequest, CreatePostRequest, DeletePostRequest,
    ListCommentsRequest, Post, PublishPostRequest, WatchCommentsRequest,
    author_service_client::AuthorServiceClient, comment_service_client::CommentServiceClient,
    post_service_client::PostServiceClient,
};
use testkit::PATIENCE;
use tonic::{Code, Streaming, transport::Channel};

use crate::{Database, on_both_engines};

on_both_engines!(
    comments_go_under_published_posts_and_page_oldest_first,
    a_follower_gets_what_was_there_then_what_comes_and_resumes_by_id,
);

/// A published post by a new author, and a draft.
pub async fn published_and_draft(channel: &Channel) -> (Post, Post) {
    let author = AuthorServiceClient::new(channel.clone())
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                display_name: "Grace Hopper".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("author")
        .into_inner();
    let mut posts = PostServiceClient::new(channel.clone());
    let mut drafts = Vec::new();
    for title in ["Published", "Draft"] {
        drafts.push(
            posts
                .create_post(CreatePostRequest {
                    post: Some(Post {
                        author_id: author.id.clone(),
                        title: title.into(),
                        body: "text".into(),
                        ..Default::default()
                    }),
                })
                .await
                .expect("create")
                .into_inner(),
        );
    }
    let draft = drafts.pop().expect("draft");
    let published = posts
        .publish_post(PublishPostRequest {
            id: drafts[0].id.clone(),
            etag: drafts[0].etag.clone(),
        })
        .await
        .expect("publish")
        .into_inner();
    (published, draft)
}

pub fn comment(post_id: &str, author: &str, text: &str) -> AddCommentRequest {
    AddCommentRequest {
        post_id: post_id.into(),
        comment: Some(Comment {
            author: author.into(),
            text: text.into(),
            ..Default::default()
        }),
    }
}

async fn next(stream: &mut Streaming<Comment>) -> Comment {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("a comment in time")
        .expect("no error")
        .expect("the stream goes on")
}

async fn quiet(stream: &mut Streaming<Comment>) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
        panic!("expected nothing more, got {item:?}");
    }
}

async fn comments_go_under_published_posts_and_page_oldest_first(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let (published, draft) = published_and_draft(&channel).await;
    let mut comments = CommentServiceClient::new(channel.clone());

    let first = comments
        .add_comment(comment(&published.id, "  Ada ", "First!"))
        .await
        .expect("add")
        .into_inner();
    assert_eq!(
        (first.post_id.as_str(), first.id, first.author.as_str()),
        (published.id.as_str(), 1, "Ada"),
        "numbered from 1, the name trimmed"
    );
    assert!(first.create_time.is_some());

    let refused = comments
        .add_comment(comment(&draft.id, "Ada", "early"))
        .await
        .expect_err("a draft takes no comments");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let missing = comments
        .add_comment(comment("no-such-post", "Ada", "hello"))
        .await
        .expect_err("no post");
    assert_eq!(missing.code(), Code::NotFound, "the post service's code");
    assert!(
        missing.message().starts_with("the post service: "),
        "{}",
        missing.message()
    );
    for (request, field) in [
        (comment(&published.id, " ", "text"), "comment.author"),
        (
            comment(&published.id, &"a".repeat(41), "text"),
            "comment.author",
        ),
        (comment(&published.id, "Ada", "  "), "comment.text"),
        (
            comment(&published.id, "Ada", &"b".repeat(2001)),
            "comment.text",
        ),
    ] {
        let status = comments.add_comment(request).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with(field), "{}", status.message());
    }

    for n in 2..=5 {
        comments
            .add_comment(comment(&published.id, "Ada", &format!("comment {n}")))
            .await
            .expect("add");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = comments
            .list_comments(ListCommentsRequest {
                post_id: published.id.clone(),
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.comments.iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5], "oldest first, each once");
    let bad = comments
        .list_comments(ListCommentsRequest {
            post_id: published.id.clone(),
            page_size: 2,
            page_token: "forged".into(),
        })
        .await
        .expect_err("a forged token");
    assert_eq!(bad.code(), Code::InvalidArgument);

    // The post's comments go with it.
    PostServiceClient::new(channel.clone())
        .delete_post(DeletePostRequest {
            id: published.id.clone(),
            etag: published.etag.clone(),
        })
        .await
        .expect("delete");
    let gone = comments
        .list_comments(ListCommentsRequest {
            post_id: published.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no post");
    assert_eq!(gone.code(), Code::NotFound);
    let rows: i64 = sqlx_count(&database, &published.id).await;
    assert_eq!(rows, 0, "no comment rows left behind");
}

/// Comment rows of `post_id` left in the database.
async fn sqlx_count(database: &Database, post_id: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&database.url)
        .await
        .expect("connect");
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM blog_comments WHERE post_id = $1")
        .bind(post_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    count
}

async fn a_follower_gets_what_was_there_then_what_comes_and_resumes_by_id(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let (published, _) = published_and_draft(&channel).await;
    let mut comments = CommentServiceClient::new(channel.clone());
    for text in ["one", "two"] {
        comments
            .add_comment(comment(&published.id, "Ada", text))
            .await
            .expect("add");
    }
    let watch = |after_id| WatchCommentsRequest {
        post_id: published.id.clone(),
        after_id,
    };
    let mut follower = comments
        .watch_comments(watch(0))
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(next(&mut follower).await.text, "one");
    assert_eq!(next(&mut follower).await.text, "two");
    quiet(&mut follower).await;

    // Added while following, from several callers at once: each arrives once, in id order.
    let mut adds = Vec::new();
    for n in 3..=8 {
        let mut client = comments.clone();
        let post_id = published.id.clone();
        adds.push(tokio::spawn(async move {
            client
                .add_comment(comment(&post_id, "Ada", &format!("live {n}")))
                .await
                .expect("add")
        }));
    }
    for add in adds {
        add.await.expect("joined");
    }
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for _ in 3..=8 {
            ids.push(next(&mut follower).await.id);
        }
        ids
    };
    assert_eq!(ids, [3, 4, 5, 6, 7, 8]);
    quiet(&mut follower).await;
    drop(follower);

    let mut resumed = comments
        .watch_comments(watch(6))
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        next(&mut resumed).await.id,
        7,
        "resumes after the id it was given"
    );
    assert_eq!(next(&mut resumed).await.id, 8);
    quiet(&mut resumed).await;

    let missing = comments
        .watch_comments(WatchCommentsRequest {
            post_id: "no-such-post".into(),
            after_id: 0,
        })
        .await
        .expect_err("no post");
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn a_comment_added_on_one_replica_reaches_a_follower_on_another() {
    let database = Database::postgres();
    let (a, b) = (database.server().await, database.server().await);
    let on_a = a.native_channel().await;
    let (published, _) = published_and_draft(&on_a).await;
    let mut follower = CommentServiceClient::new(b.native_channel().await)
        .watch_comments(WatchCommentsRequest {
            post_id: published.id.clone(),
            after_id: 0,
        })
        .await
        .expect("watch on b")
        .into_inner();
    quiet(&mut follower).await;
    CommentServiceClient::new(on_a)
        .add_comment(comment(&published.id, "Ada", "from a"))
        .await
        .expect("add on a");
    assert_eq!(next(&mut follower).await.text, "from a");
}
