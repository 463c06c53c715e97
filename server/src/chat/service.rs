//! `chat.v1.ChatService`: post, subscribe, and both at once over one bidi stream.

use std::sync::Arc;

use futures_util::{
    Stream, StreamExt,
    stream::{self, PollNext},
};
use proto::chat::v1::{
    self as pb, ChatEvent, JoinRequest, JoinRoom, PostRequest, SubscribeRequest, chat_event,
    chat_service_server, join_request,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    chat::rooms::{Event, Rooms, Subscription},
    error::ApiError,
    layers::call_limits::ChangeBudget,
    ops::shutdown::{ResponseStream, until_shutdown},
};

#[derive(Debug)]
pub struct ChatService {
    rooms: Arc<Rooms>,
    shutdown: CancellationToken,
}

impl ChatService {
    pub fn new(rooms: Arc<Rooms>, shutdown: CancellationToken) -> Self {
        Self { rooms, shutdown }
    }
}

#[tonic::async_trait]
impl chat_service_server::ChatService for ChatService {
    async fn post(
        &self,
        request: Request<PostRequest>,
    ) -> Result<Response<pb::ChatMessage>, Status> {
        let PostRequest { room, author, text } = request.into_inner();
        let message = self.rooms.post(&room, &author, &text).await?;
        Ok(Response::new(pb::ChatMessage::clone(&message)))
    }

    type SubscribeStream = ResponseStream<ChatEvent>;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let SubscribeRequest {
            room,
            history,
            after_id,
        } = request.into_inner();
        let subscription = self.rooms.subscribe(&room, history, after_id).await?;
        Ok(Response::new(until_shutdown(
            events(subscription),
            self.shutdown.clone(),
        )))
    }

    type JoinStream = ResponseStream<ChatEvent>;

    async fn join(
        &self,
        request: Request<Streaming<JoinRequest>>,
    ) -> Result<Response<Self::JoinStream>, Status> {
        // Each message posted takes from the client's change budget, as a Post would.
        let budget = request.extensions().get::<ChangeBudget>().cloned();
        let mut incoming = request.into_inner();
        let JoinRoom {
            room,
            author,
            history,
            after_id,
        } = match incoming.message().await? {
            Some(JoinRequest {
                action: Some(join_request::Action::Join(join)),
            }) => join,
            _ => {
                return Err(ApiError::invalid(
                    "join",
                    "the first message must join a room (`join`), before any `text`",
                )
                .into());
            }
        };
        let subscription = self.rooms.subscribe(&room, history, after_id).await?;
        let session = Session {
            incoming,
            rooms: Arc::clone(&self.rooms),
            room,
            author,
            posted: 0,
            budget,
        };
        // The room's events, while the client's messages are posted as they come; the call
        // ends when the client closes its side (or a message is refused). Events first: what
        // the room already has (the client's own earlier posts too) goes out before an end.
        let events = stream::select_with_strategy(
            events(subscription).map(Step::Event),
            session.posts(),
            |(): &mut ()| PollNext::Left,
        )
        .take_while(|step| std::future::ready(!matches!(step, Step::End)))
        .filter_map(|step| {
            std::future::ready(match step {
                Step::Event(event) => Some(event),
                Step::Posted | Step::End => None,
            })
        });
        Ok(Response::new(until_shutdown(events, self.shutdown.clone())))
    }
}

/// What happens next in a Join call.
enum Step {
    /// Something for the client.
    Event(Result<ChatEvent, Status>),
    /// One of the client's messages went to the room (and comes back as an event).
    Posted,
    /// The call is over.
    End,
}

/// The client's side of a Join call.
struct Session {
    incoming: Streaming<JoinRequest>,
    rooms: Arc<Rooms>,
    room: String,
    author: String,
    posted: u32,
    budget: Option<ChangeBudget>,
}

impl Session {
    /// Posts each text the client sends, one [`Step::Posted`] each; a refused message (or
    /// one over the client's change budget) is an error for the client, then the end; so is
    /// an error on the request stream (a message too large, one that does not decode),
    /// while the client closing its side is a normal end.
    fn posts(self) -> impl Stream<Item = Step> + Send {
        let posts = stream::unfold(Some(self), |session| async move {
            let mut session = session?;
            let refused = match session.incoming.message().await {
                Ok(Some(JoinRequest {
                    action: Some(join_request::Action::Text(text)),
                })) => {
                    if let Some(Err(status)) = session.budget.as_ref().map(ChangeBudget::spend) {
                        return Some((Step::Event(Err(status)), None));
                    }
                    session.posted += 1;
                    match session
                        .rooms
                        .post(&session.room, &session.author, &text)
                        .await
                    {
                        Ok(_) => return Some((Step::Posted, Some(session))),
                        Err(ApiError::InvalidArgument { field, description }) => ApiError::invalid(
                            field,
                            format!("{description} (message {})", session.posted + 1),
                        ),
                        Err(error) => error,
                    }
                }
                Ok(Some(_)) => ApiError::invalid(
                    "text",
                    format!(
                        "after joining, every message must be `text` (message {})",
                        session.posted + 2
                    ),
                ),
                // The client closed its side: leave the room.
                Ok(None) => return None,
                // The request stream failed: the call ends with its status, never OK.
                Err(status) => return Some((Step::Event(Err(status)), None)),
            };
            Some((Step::Event(Err(refused.into())), None))
        });
        posts.chain(stream::once(std::future::ready(Step::End)))
    }
}

/// A subscription as the stream of events a client receives.
fn events(subscription: Subscription) -> impl Stream<Item = Result<ChatEvent, Status>> + Send {
    subscription.events().map(|event| {
        Ok(ChatEvent {
            event: Some(match event? {
                Event::Message(message) => {
                    chat_event::Event::Message(pb::ChatMessage::clone(&message))
                }
                Event::Skipped(skipped) => chat_event::Event::Skipped(skipped),
            }),
        })
    })
}
