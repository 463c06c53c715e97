//! The blog's services on both engines, over native gRPC, gRPC-Web and REST (every method
//! on each): the post service checking and naming authors through the author service,
//! pagination, field-mask updates, optimistic concurrency, publishing, deleting, comments
//! followed live (a gRPC stream, Server-Sent Events). Every REST answer is checked against
//! the server's OpenAPI document.

use proto::blog::v1::{
    Author, CreateAuthorRequest, CreatePostRequest, DeletePostRequest, GetAuthorRequest,
    GetPostRequest, ListCommentsRequest, ListPostsRequest, Post, PublishPostRequest,
    UpdatePostRequest, WatchCommentsRequest, author_service_client::AuthorServiceClient,
    comment_service_client::CommentServiceClient, post, post_service_client::PostServiceClient,
};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::{PATIENCE, rest::Rest};
use tonic::{Code, transport::Channel};

use crate::{Database, comments::comment, on_both_engines};

on_both_engines!(
    posts_are_written_edited_published_and_deleted_with_their_author,
    posts_page_newest_first_and_filter,
    the_blog_over_rest,
    the_blog_over_grpc_web,
);

async fn author(channel: &Channel, name: &str) -> Author {
    AuthorServiceClient::new(channel.clone())
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                display_name: name.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("author")
        .into_inner()
}

async fn draft(posts: &mut PostServiceClient<Channel>, author_id: &str, title: &str) -> Post {
    posts
        .create_post(CreatePostRequest {
            post: Some(Post {
                author_id: author_id.into(),
                title: title.into(),
                body: "# Hello\n\nSome *markdown*.".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create")
        .into_inner()
}

async fn posts_are_written_edited_published_and_deleted_with_their_author(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let ada = author(&channel, "Ada Lovelace").await;
    assert_eq!(ada.id.len(), 32, "server-assigned");
    assert!(ada.create_time.is_some());
    let mut posts = PostServiceClient::new(channel.clone());

    let created = draft(&mut posts, &ada.id, "First").await;
    assert_eq!(
        created.author_display_name, "Ada Lovelace",
        "named by the author service"
    );
    assert_eq!(created.state(), post::State::Draft);
    assert_eq!(created.publish_time, None);
    assert_eq!(created.etag, "r1");

    // An unknown author: refused, naming the field and the service that said so.
    let refused = posts
        .create_post(CreatePostRequest {
            post: Some(Post {
                author_id: "nobody".into(),
                title: "x".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("unknown author");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .starts_with("post.author_id: no author 'nobody'"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("the author service"),
        "{}",
        refused.message()
    );

    // A field-mask update changes only what it names, and moves the etag on.
    let update = |post: Post, paths: &[&str]| UpdatePostRequest {
        post: Some(post),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let edited = posts
        .update_post(update(
            Post {
                id: created.id.clone(),
                etag: created.etag.clone(),
                title: "First, edited".into(),
                body: "ignored: not in the mask".into(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(edited.title, "First, edited");
    assert_eq!(edited.body, created.body);
    assert_eq!(edited.etag, "r2");
    // Someone editing from the old etag is told, not overwritten.
    let stale = posts
        .update_post(update(
            Post {
                id: created.id.clone(),
                etag: created.etag.clone(),
                body: "lost?".into(),
                ..Default::default()
            },
            &["body"],
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    assert!(
        stale.message().contains("r1") && stale.message().contains("r2"),
        "{}",
        stale.message()
    );
    for (mask, field) in [(vec![], "update_mask"), (vec!["state"], "update_mask")] {
        let refused = posts
            .update_post(update(
                Post {
                    id: created.id.clone(),
                    etag: edited.etag.clone(),
                    ..Default::default()
                },
                &mask,
            ))
            .await
            .expect_err("bad mask");
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }

    let published = posts
        .publish_post(PublishPostRequest {
            id: created.id.clone(),
            etag: edited.etag.clone(),
        })
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(published.state(), post::State::Published);
    assert!(published.publish_time.is_some());
    let again = posts
        .publish_post(PublishPostRequest {
            id: created.id.clone(),
            etag: published.etag.clone(),
        })
        .await
        .expect_err("published already");
    assert_eq!(again.code(), Code::FailedPrecondition);

    let got = posts
        .get_post(GetPostRequest {
            id: created.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, published);

    let stale = posts
        .delete_post(DeletePostRequest {
            id: created.id.clone(),
            etag: "r1".into(),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    posts
        .delete_post(DeletePostRequest {
            id: created.id.clone(),
            etag: published.etag.clone(),
        })
        .await
        .expect("delete");
    let gone = posts
        .get_post(GetPostRequest { id: created.id })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
}

async fn posts_page_newest_first_and_filter(database: Database) {
    let app = database.server().await;
    let channel = app.native_channel().await;
    let (ada, grace) = (
        author(&channel, "Ada").await,
        author(&channel, "Grace").await,
    );
    let mut posts = PostServiceClient::new(channel.clone());
    let mut made = Vec::new();
    for n in 0..25 {
        let by = if n % 5 == 0 { &grace } else { &ada };
        made.push(draft(&mut posts, &by.id, &format!("post {n}")).await.id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = posts
            .list_posts(ListPostsRequest {
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        pages += 1;
        seen.extend(page.posts.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    made.reverse();
    assert_eq!(seen, made, "every post once, newest first");

    let by_grace = posts
        .list_posts(ListPostsRequest {
            author_id: grace.id.clone(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(by_grace.posts.len(), 5);
    assert!(
        by_grace
            .posts
            .iter()
            .all(|p| p.author_display_name == "Grace")
    );
    let published = posts
        .list_posts(ListPostsRequest {
            state: post::State::Published.into(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert!(published.posts.is_empty());

    for (request, field) in [
        (
            ListPostsRequest {
                page_size: 101,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListPostsRequest {
                page_token: "garbage!".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let refused = posts.list_posts(request).await.expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
}

async fn the_blog_over_rest(database: Database) {
    let app = database
        .server_with(|config| config.auth_token = Some("blog-rest-token".into()))
        .await;
    let rest = Rest::new(&app).await;
    let send = |request| rest.send(request);
    const TOKEN: &str = "blog-rest-token";
    // Writing needs the token.
    let refused = send(
        rest.post("/v1/authors")
            .json(&json!({"displayName": "Ada"})),
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let author = send(
        rest.post("/v1/authors")
            .bearer_auth(TOKEN)
            .json(&json!({"displayName": "Ada"})),
    )
    .await;
    assert_eq!(author.status, 200, "{}", author.body);
    let author = author.body;
    let got = send(rest.get(&format!(
        "/v1/authors/{}",
        author["id"].as_str().expect("id")
    )))
    .await;
    assert_eq!((got.status.as_u16(), &got.body), (200, &author));

    let post = send(
        rest.post("/v1/posts")
            .bearer_auth(TOKEN)
            .json(&json!({"authorId": author["id"], "title": "Over REST", "body": "text"})),
    )
    .await;
    assert_eq!(post.status, 200, "{}", post.body);
    let post = post.body;
    assert_eq!(post["state"], "DRAFT");
    assert_eq!(post["authorDisplayName"], "Ada");
    let id = post["id"].as_str().expect("id").to_owned();
    let got = send(rest.get(&format!("/v1/posts/{id}"))).await;
    assert_eq!((got.status.as_u16(), &got.body), (200, &post));

    // PATCH with the mask in the query and the etag in the body.
    let edited = send(
        rest.patch(&format!("/v1/posts/{id}?updateMask=title"))
            .bearer_auth(TOKEN)
            .json(&json!({"title": "Over REST, edited", "etag": post["etag"]})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let edited = edited.body;
    assert_eq!(edited["title"], "Over REST, edited");
    let conflict = send(
        rest.patch(&format!("/v1/posts/{id}?updateMask=body"))
            .bearer_auth(TOKEN)
            .json(&json!({"body": "late", "etag": post["etag"]})),
    )
    .await;
    assert_eq!(conflict.status, 409, "ABORTED is 409: {}", conflict.body);
    assert_eq!(conflict.body["code"], 10);

    // A draft takes no comments: FAILED_PRECONDITION is 400.
    let early = send(
        rest.post(&format!("/v1/posts/{id}/comments"))
            .bearer_auth(TOKEN)
            .json(&json!({"author": "Grace", "text": "early"})),
    )
    .await;
    assert_eq!(early.status, 400, "{}", early.body);
    assert_eq!(early.body["code"], 9);

    let published = send(
        rest.post(&format!("/v1/posts/{id}:publish"))
            .bearer_auth(TOKEN)
            .json(&json!({"etag": edited["etag"]})),
    )
    .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let published = published.body;
    assert_eq!(published["state"], "PUBLISHED");
    assert!(
        published["publishTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let listed = send(rest.get("/v1/posts?state=PUBLISHED&pageSize=5")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["posts"][0]["id"], id.as_str());
    assert_eq!(send(rest.get("/v1/posts/nope")).await.status, 404);

    // Comments: one followed live over Server-Sent Events, added and listed over REST.
    let watch_path = format!("/v1/posts/{id}/comments:watch");
    let mut events = rest.get(&watch_path).send().await.expect("answered");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    for text in ["first", "second"] {
        let added = send(
            rest.post(&format!("/v1/posts/{id}/comments"))
                .bearer_auth(TOKEN)
                .json(&json!({"author": "Grace", "text": text})),
        )
        .await;
        assert_eq!(added.status, 200, "{}", added.body);
        assert_eq!(added.body["text"], text);
    }
    let mut received = Vec::new();
    let mut buffer = String::new();
    while received.len() < 2 {
        let chunk = tokio::time::timeout(PATIENCE, events.chunk())
            .await
            .expect("an event in time")
            .expect("readable")
            .expect("the stream goes on");
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.trim().strip_prefix("data: ") {
                let item: Value = serde_json::from_str(data).expect("JSON");
                rest.check_item(&Method::GET, &watch_path, "text/event-stream", &item);
                received.push(item);
            }
        }
    }
    assert_eq!(
        received
            .iter()
            .map(|c| (c["id"].clone(), c["text"].clone()))
            .collect::<Vec<_>>(),
        [(json!("1"), json!("first")), (json!("2"), json!("second"))],
        "int64 ids as strings, in order"
    );
    drop(events);
    let page = send(rest.get(&format!("/v1/posts/{id}/comments?pageSize=1"))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["comments"][0]["text"], "first");
    let token = page.body["nextPageToken"].as_str().expect("another page");
    let page = send(rest.get(&format!(
        "/v1/posts/{id}/comments?pageSize=1&pageToken={token}"
    )))
    .await;
    assert_eq!(page.body["comments"][0]["text"], "second");
    assert!(
        page.body.get("nextPageToken").is_none(),
        "the last page: {}",
        page.body
    );

    let deleted = send(
        rest.delete(&format!(
            "/v1/posts/{id}?etag={}",
            published["etag"].as_str().expect("etag")
        ))
        .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body, json!({}));
    let gone = send(rest.get(&format!("/v1/posts/{id}/comments"))).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
}

/// Every blog method over gRPC-Web (HTTP/1.1, as a browser sends it), with the token.
async fn the_blog_over_grpc_web(database: Database) {
    use tonic::{Request, service::interceptor::InterceptedService};

    let app = database
        .server_with(|config| config.auth_token = Some("blog-web-token".into()))
        .await;
    let authorized = |mut request: Request<()>| {
        request.metadata_mut().insert(
            "authorization",
            "Bearer blog-web-token".parse().expect("ascii"),
        );
        Ok(request)
    };
    let web = InterceptedService::new(app.grpc_web_channel(), authorized);
    let mut authors = AuthorServiceClient::with_origin(web.clone(), app.uri());
    let mut posts = PostServiceClient::with_origin(web.clone(), app.uri());
    let mut comments = CommentServiceClient::with_origin(web, app.uri());

    let author = authors
        .create_author(CreateAuthorRequest {
            author: Some(Author {
                display_name: "Web".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create author")
        .into_inner();
    let got = authors
        .get_author(GetAuthorRequest {
            id: author.id.clone(),
        })
        .await
        .expect("get author")
        .into_inner();
    assert_eq!(got, author);
    let draft = posts
        .create_post(CreatePostRequest {
            post: Some(Post {
                author_id: author.id.clone(),
                title: "Over gRPC-Web".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create post")
        .into_inner();
    let edited = posts
        .update_post(UpdatePostRequest {
            post: Some(Post {
                id: draft.id.clone(),
                body: "edited".into(),
                etag: draft.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["body".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(edited.body, "edited");
    let stale = posts
        .update_post(UpdatePostRequest {
            post: Some(Post {
                id: draft.id.clone(),
                body: "stale".into(),
                etag: draft.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["body".into()],
            }),
        })
        .await
        .expect_err("an old etag");
    assert_eq!(stale.code(), Code::Aborted);
    let published = posts
        .publish_post(PublishPostRequest {
            id: draft.id.clone(),
            etag: edited.etag,
        })
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(
        posts
            .get_post(GetPostRequest {
                id: draft.id.clone()
            })
            .await
            .expect("get")
            .into_inner(),
        published
    );
    let listed = posts
        .list_posts(ListPostsRequest {
            author_id: author.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.posts, std::slice::from_ref(&published));

    let mut follower = comments
        .watch_comments(WatchCommentsRequest {
            post_id: published.id.clone(),
            after_id: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    let added = comments
        .add_comment(comment(&published.id, "Web", "live over gRPC-Web"))
        .await
        .expect("add")
        .into_inner();
    let live = tokio::time::timeout(PATIENCE, follower.message())
        .await
        .expect("in time")
        .expect("no error")
        .expect("a comment");
    assert_eq!(live, added);
    let page = comments
        .list_comments(ListCommentsRequest {
            post_id: published.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list comments")
        .into_inner();
    assert_eq!(page.comments, [added]);
    drop(follower);
    posts
        .delete_post(DeletePostRequest {
            id: published.id.clone(),
            etag: published.etag,
        })
        .await
        .expect("delete");
    let gone = posts
        .get_post(GetPostRequest { id: published.id })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
}
