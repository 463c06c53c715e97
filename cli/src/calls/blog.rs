//! The blog commands: authors, posts and comments, one call each (`comments --watch`: a
//! server stream).

use proto::blog::v1::{
    AddCommentRequest, Author, Comment, CreateAuthorRequest, CreatePostRequest, DeletePostRequest,
    GetAuthorRequest, GetPostRequest, ListCommentsRequest, ListPostsRequest, Post,
    PublishPostRequest, UpdatePostRequest, WatchCommentsRequest,
    author_service_client::AuthorServiceClient, comment_service_client::CommentServiceClient,
    post_service_client::PostServiceClient,
};
use tokio::io::AsyncReadExt;
use tonic::Status;

use super::{Calls, GZIP};
use crate::args::BlogCommand;

impl Calls {
    pub(super) async fn blog(&self, command: BlogCommand) -> Result<(), Status> {
        let mut authors = AuthorServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        let mut posts = PostServiceClient::new(self.transport.clone()).accept_compressed(GZIP);
        let post = match command {
            BlogCommand::NewAuthor { display_name, bio } => {
                let author = Author {
                    display_name,
                    bio,
                    ..Default::default()
                };
                let request = CreateAuthorRequest {
                    author: Some(author),
                };
                return self.author(self.unary(authors.create_author(request).await?));
            }
            BlogCommand::Author { id } => {
                return self.author(self.unary(authors.get_author(GetAuthorRequest { id }).await?));
            }
            BlogCommand::NewPost {
                author_id,
                title,
                body_file,
            } => {
                let body = read_body(body_file.as_deref()).await?;
                let post = Post {
                    author_id,
                    title,
                    body,
                    ..Default::default()
                };
                let request = CreatePostRequest { post: Some(post) };
                self.unary(posts.create_post(request).await?)
            }
            BlogCommand::Post { id } => self.unary(posts.get_post(GetPostRequest { id }).await?),
            BlogCommand::Posts {
                author,
                page_size,
                page_token,
            } => {
                let request = ListPostsRequest {
                    page_size,
                    page_token,
                    author_id: author.unwrap_or_default(),
                    ..Default::default()
                };
                let page = self.unary(posts.list_posts(request).await?);
                self.printer
                    .reply("blog.v1.ListPostsResponse", &page, |page| {
                        let mut lines: Vec<String> = page.posts.iter().map(summary).collect();
                        if !page.next_page_token.is_empty() {
                            lines.push(format!("next page: --page-token {}", page.next_page_token));
                        }
                        lines.join("\n")
                    });
                return Ok(());
            }
            BlogCommand::Retitle { id, etag, title } => {
                let request = UpdatePostRequest {
                    post: Some(Post {
                        id,
                        etag,
                        title,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["title".into()],
                    }),
                };
                self.unary(posts.update_post(request).await?)
            }
            BlogCommand::Publish { id, etag } => {
                self.unary(posts.publish_post(PublishPostRequest { id, etag }).await?)
            }
            BlogCommand::Delete { id, etag } => {
                self.unary(posts.delete_post(DeletePostRequest { id, etag }).await?);
                eprintln!("deleted");
                return Ok(());
            }
            BlogCommand::Comment {
                post_id,
                text,
                author,
            } => {
                let request = AddCommentRequest {
                    post_id,
                    comment: Some(Comment {
                        author,
                        text,
                        ..Default::default()
                    }),
                };
                let comment = self.unary(self.comments().add_comment(request).await?);
                self.printer
                    .reply("blog.v1.Comment", &comment, comment_line);
                return Ok(());
            }
            BlogCommand::Comments {
                post_id,
                watch,
                after,
            } => return self.comments_of(post_id, watch, after).await,
        };
        self.printer.reply("blog.v1.Post", &post, summary);
        Ok(())
    }

    fn comments(&self) -> CommentServiceClient<super::Transport> {
        CommentServiceClient::new(self.transport.clone()).accept_compressed(GZIP)
    }

    /// Every comment after `after`, a page at a time; with `watch`, the stream instead,
    /// which sends those and then each new one.
    async fn comments_of(&self, post_id: String, watch: bool, after: i64) -> Result<(), Status> {
        let mut comments = self.comments();
        if watch {
            let request = WatchCommentsRequest {
                post_id,
                after_id: after,
            };
            let mut stream = self.streaming(comments.watch_comments(request).await?);
            while let Some(comment) = stream.message().await? {
                self.printer
                    .reply("blog.v1.Comment", &comment, comment_line);
            }
            return self.finished(&mut stream).await;
        }
        let mut page_token = String::new();
        loop {
            let request = ListCommentsRequest {
                post_id: post_id.clone(),
                page_size: 100,
                page_token,
            };
            let page = self.unary(comments.list_comments(request).await?);
            for comment in page.comments.iter().filter(|comment| comment.id > after) {
                self.printer.reply("blog.v1.Comment", comment, comment_line);
            }
            if page.next_page_token.is_empty() {
                return Ok(());
            }
            page_token = page.next_page_token;
        }
    }

    fn author(&self, author: Author) -> Result<(), Status> {
        self.printer.reply("blog.v1.Author", &author, |a| {
            format!("{}  {}", a.id, a.display_name)
        });
        Ok(())
    }
}

/// `ID  ETAG  STATE  TITLE (by AUTHOR)`.
fn summary(post: &Post) -> String {
    format!(
        "{}  {}  {}  {} (by {})",
        post.id,
        post.etag,
        post.state().as_str_name(),
        post.title,
        post.author_display_name
    )
}

/// `ID  AUTHOR: TEXT`.
fn comment_line(comment: &Comment) -> String {
    format!("{}  {}: {}", comment.id, comment.author, comment.text)
}

async fn read_body(file: Option<&std::path::Path>) -> Result<String, Status> {
    let mut body = String::new();
    let read = match file {
        Some(path) => tokio::fs::read_to_string(path)
            .await
            .map(|text| body = text),
        None => tokio::io::stdin().read_to_string(&mut body).await.map(drop),
    };
    read.map_err(|error| Status::invalid_argument(format!("cannot read the body: {error}")))?;
    Ok(body)
}
