//! The blog's author and post services on both engines, over native gRPC and over REST:
//! the post service checking and naming authors through the author service, pagination,
//! field-mask updates, optimistic concurrency, publishing, deleting.

use proto::blog::v1::{
    Author, CreateAuthorRequest, CreatePostRequest, DeletePostRequest, GetPostRequest,
    ListPostsRequest, Post, PublishPostRequest, UpdatePostRequest,
    author_service_client::AuthorServiceClient, post, post_service_client::PostServiceClient,
};
use serde_json::{Value, json};
use tonic::{Code, transport::Channel};

use crate::{Database, on_both_engines};

on_both_engines!(
    posts_are_written_edited_published_and_deleted_with_their_author,
    posts_page_newest_first_and_filter,
    the_blog_over_rest,
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
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", app.url());
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("answered");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        (status, body)
    };
    // Writing needs the token.
    let (status, body) = send(
        client
            .post(url("/v1/authors"))
            .json(&json!({"displayName": "Ada"})),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, author) = send(
        client
            .post(url("/v1/authors"))
            .bearer_auth("blog-rest-token")
            .json(&json!({"displayName": "Ada"})),
    )
    .await;
    assert_eq!(status, 200, "{author}");
    let (status, post) = send(
        client
            .post(url("/v1/posts"))
            .bearer_auth("blog-rest-token")
            .json(&json!({"authorId": author["id"], "title": "Over REST", "body": "text"})),
    )
    .await;
    assert_eq!(status, 200, "{post}");
    assert_eq!(post["state"], "DRAFT");
    assert_eq!(post["authorDisplayName"], "Ada");
    let id = post["id"].as_str().expect("id").to_owned();

    // PATCH with the mask in the query and the etag in the body.
    let (status, edited) = send(
        client
            .patch(url(&format!("/v1/posts/{id}?updateMask=title")))
            .bearer_auth("blog-rest-token")
            .json(&json!({"title": "Over REST, edited", "etag": post["etag"]})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["title"], "Over REST, edited");
    let (status, conflict) = send(
        client
            .patch(url(&format!("/v1/posts/{id}?updateMask=body")))
            .bearer_auth("blog-rest-token")
            .json(&json!({"body": "late", "etag": post["etag"]})),
    )
    .await;
    assert_eq!(status, 409, "ABORTED is 409: {conflict}");
    assert_eq!(conflict["code"], 10);

    let (status, published) = send(
        client
            .post(url(&format!("/v1/posts/{id}:publish")))
            .bearer_auth("blog-rest-token")
            .json(&json!({"etag": edited["etag"]})),
    )
    .await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["state"], "PUBLISHED");
    assert!(
        published["publishTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let (status, listed) = send(client.get(url("/v1/posts?state=PUBLISHED&pageSize=5"))).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["posts"][0]["id"], id.as_str());
    let (status, _) = send(client.get(url("/v1/posts/nope"))).await;
    assert_eq!(status, 404);
    let (status, deleted) = send(
        client
            .delete(url(&format!(
                "/v1/posts/{id}?etag={}",
                published["etag"].as_str().expect("etag")
            )))
            .bearer_auth("blog-rest-token"),
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted, json!({}));
}
