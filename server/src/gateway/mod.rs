//! The REST/JSON gateway: every method with a `google.api.http` option is also reached over
//! plain HTTP with JSON, on the same port. Nothing here is per method: the routes come from
//! the descriptors compiled from `proto/` ([`rules`]), requests and responses are converted
//! with prost-reflect's canonical protobuf JSON mapping (lowerCamelCase, 64-bit integers as
//! strings, enums by name, well-known types as specified; both field spellings accepted,
//! unknown fields refused), and the call itself is a real gRPC call made in-process through
//! the server's own gRPC router, so it passes the same layers as any other: token, limits,
//! deadline, access log and metrics (under the gRPC method's name).
//!
//! The OpenAPI 3.1 document of all of it is served at `/openapi.json` and `/openapi.yaml`
//! ([`openapi`]).
//!
//! Errors are `google.rpc.Status` as JSON (`code`, `message`, `details` with `@type`), with
//! the HTTP status Google's APIs and grpc-gateway use for each gRPC code ([`status`]).
//!
//! Server streaming methods stream too ([`stream`]): as Server-Sent Events, or as NDJSON
//! when the client asks for `application/x-ndjson`, with heartbeats; the client going away
//! cancels the gRPC call. Client streaming has no REST form (501).

mod openapi;
pub mod rules;
mod status;
mod stream;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, ReflectMessage,
    SerializeOptions, Value,
};
use tower::ServiceExt;

use self::{rules::Route, status::RestError};

/// The gateway's state: its routes and the gRPC router the calls go to.
#[derive(Clone)]
pub struct Gateway {
    routes: Arc<Vec<Route>>,
    grpc: Router,
    max_body: usize,
    /// The OpenAPI document, made once, as JSON and as YAML.
    openapi: Bytes,
    openapi_yaml: Bytes,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The routes of `descriptors` (an encoded FileDescriptorSet), calling into `grpc`;
    /// request bodies of at most `max_body` bytes.
    pub fn new(
        descriptors: &[u8],
        services: &[&str],
        grpc: Router,
        max_body: usize,
    ) -> Result<Self, String> {
        let pool = DescriptorPool::decode(descriptors).map_err(|error| error.to_string())?;
        let mut routes = rules::routes(&pool)?;
        // Only the services this server runs (`--services`).
        routes.retain(|route| services.contains(&route.method.parent_service().full_name()));
        let openapi = openapi::document(&routes, crate::layers::auth::changes_state);
        let yaml = serde_norway::to_string(&openapi).map_err(|error| error.to_string())?;
        Ok(Self {
            openapi: Bytes::from(openapi.to_string()),
            openapi_yaml: Bytes::from(yaml),
            routes: Arc::new(routes),
            grpc,
            max_body,
        })
    }

    /// The paths the gateway answers under (`/v1/...`), as an axum router.
    pub fn router(self) -> Router {
        let prefixes: std::collections::BTreeSet<String> = self
            .routes
            .iter()
            .filter_map(|route| route.path.split('/').nth(1).map(str::to_owned))
            .collect();
        let mut router = Router::new()
            .route(
                "/openapi.json",
                axum::routing::get(|State(gateway): State<Gateway>| async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        gateway.openapi,
                    )
                }),
            )
            .route(
                "/openapi.yaml",
                axum::routing::get(|State(gateway): State<Gateway>| async move {
                    (
                        [(header::CONTENT_TYPE, "application/yaml")],
                        gateway.openapi_yaml,
                    )
                }),
            );
        for prefix in prefixes {
            router = router.route(&format!("/{prefix}/{{*rest}}"), axum::routing::any(handle));
        }
        router.with_state(self)
    }

    fn find(&self, method: &http::Method, path: &str) -> Result<(&Route, rules::Bound), RestError> {
        let mut path_matched = false;
        for route in self.routes.iter() {
            if let Some(bound) = route.template.matches(path) {
                if route.http_method == method {
                    return Ok((route, bound));
                }
                path_matched = true;
            }
        }
        Err(if path_matched {
            RestError::method_not_allowed(method, path)
        } else {
            RestError::no_route(method, path)
        })
    }
}

async fn handle(State(gateway): State<Gateway>, request: Request) -> Response {
    match transcode(&gateway, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn transcode(gateway: &Gateway, request: Request) -> Result<Response, RestError> {
    let (parts, body) = request.into_parts();
    let (route, bound) = gateway.find(&parts.method, parts.uri.path())?;
    if route.method.is_client_streaming() {
        return Err(RestError::unimplemented(format!(
            "{} takes a stream of requests, which REST cannot send",
            route.method.full_name()
        )));
    }
    let format = stream::Format::asked(&parts.headers);
    let body = Limited::new(body, gateway.max_body)
        .collect()
        .await
        .map_err(|_| RestError::too_large(gateway.max_body))?
        .to_bytes();
    let message = request_message(route, &bound, parts.uri.query(), &body)?;

    // The gRPC call, in-process, through every layer of the gRPC router.
    let mut call = http::Request::builder()
        .method(http::Method::POST)
        .uri(route.grpc_path())
        .version(http::Version::HTTP_2)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::TE, "trailers")
        .body(Body::from(frame(&message.encode_to_vec())))
        .map_err(|error| RestError::internal(error.to_string()))?;
    *call.extensions_mut() = parts.extensions;
    copy_headers(&parts.headers, call.headers_mut());
    let response = gateway
        .grpc
        .clone()
        .oneshot(call)
        .await
        .map_err(|never| match never {})?;
    let (head, body) = response.into_parts();
    if route.method.is_server_streaming() {
        // Refused before its first message (trailers-only): an ordinary error response.
        if let Some(error) = status::from_grpc(&head.headers, &HeaderMap::new()) {
            return Ok(error.into_response());
        }
        let mut response = stream::response(body, route.method.output(), format);
        if let Some(id) = head.headers.get("x-request-id") {
            response.headers_mut().insert("x-request-id", id.clone());
        }
        return Ok(response);
    }
    let collected = body
        .collect()
        .await
        .map_err(|error| RestError::internal(format!("the call's response failed: {error}")))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();
    let outcome = status::from_grpc(&head.headers, &trailers);
    let mut response = match outcome {
        Some(error) => error.into_response(),
        None => {
            let reply = unframe(data).ok_or_else(|| {
                RestError::internal("the call's response is not one gRPC message".into())
            })?;
            let reply = DynamicMessage::decode(route.method.output(), reply).map_err(|error| {
                RestError::internal(format!("the response does not decode: {error}"))
            })?;
            json_response(route, &reply)?
        }
    };
    if let Some(id) = head.headers.get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    Ok(response)
}

/// Headers the gRPC call takes from the REST request: the token, the request id, the
/// client's address as proxies gave it, and the deadline (`grpc-timeout`, or
/// `X-Request-Timeout` in seconds or with a unit, e.g. `2.5` or `500ms`).
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in [
        header::AUTHORIZATION,
        header::HeaderName::from_static("x-request-id"),
        header::HeaderName::from_static("x-forwarded-for"),
        header::FORWARDED,
        header::HeaderName::from_static("grpc-timeout"),
        header::USER_AGENT,
    ] {
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
    if !to.contains_key("grpc-timeout")
        && let Some(timeout) = from
            .get("x-request-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_timeout)
        && let Ok(value) = HeaderValue::from_str(&format!("{}m", timeout.as_millis().max(1)))
    {
        to.insert("grpc-timeout", value);
    }
}

fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map(Duration::from_secs_f64)
        .or_else(|| humantime::parse_duration(text).ok())
}

/// The request message: the JSON body (all of it, or one field), the path's variables,
/// and the query string for the fields neither sets.
fn request_message(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    body: &Bytes,
) -> Result<DynamicMessage, RestError> {
    let input = route.method.input();
    let mut message = match route.body.as_str() {
        "*" => parse_json(input.clone(), body)?,
        "" => {
            if !body.is_empty() {
                return Err(RestError::invalid(
                    "body",
                    format!("{} {} takes no body", route.http_method, route.path),
                ));
            }
            DynamicMessage::new(input.clone())
        }
        field => {
            let mut message = DynamicMessage::new(input.clone());
            let descriptor = input
                .get_field_by_name(field)
                .ok_or_else(|| RestError::internal(format!("no body field {field}")))?;
            let Kind::Message(kind) = descriptor.kind() else {
                return Err(RestError::internal(format!(
                    "body field {field} is not a message"
                )));
            };
            message.set_field(&descriptor, Value::Message(parse_json(kind, body)?));
            message
        }
    };
    for (field, value) in bound {
        set_text(&mut message, field, value)?;
    }
    if route.body != "*"
        && let Some(query) = query
    {
        for (name, value) in form_urlencoded(query) {
            if bound.iter().any(|(field, _)| *field == name) {
                return Err(RestError::invalid_field(
                    &name,
                    "is set by the path; it cannot be given in the query too",
                ));
            }
            set_text(&mut message, &name, &value)?;
        }
    }
    Ok(message)
}

fn parse_json(
    descriptor: prost_reflect::MessageDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, RestError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        &mut deserializer,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|error| RestError::invalid("body", format!("not a valid JSON request: {error}")))?;
    deserializer.end().map_err(|error| {
        RestError::invalid("body", format!("not a valid JSON request: {error}"))
    })?;
    Ok(message)
}

/// Sets the field at `path` (dotted, proto or JSON names) from its text form.
fn set_text(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), RestError> {
    let mut names = path.split('.').peekable();
    let mut current = message;
    while let Some(name) = names.next() {
        let descriptor = current
            .descriptor()
            .get_field_by_name(name)
            .or_else(|| current.descriptor().get_field_by_json_name(name))
            .ok_or_else(|| RestError::invalid_field(path, "is not a field of this request"))?;
        if names.peek().is_some() {
            let Value::Message(next) = current.get_field_mut(&descriptor) else {
                return Err(RestError::invalid_field(path, "is not a message field"));
            };
            current = next;
            continue;
        }
        let value =
            scalar(&descriptor, text).map_err(|why| RestError::invalid_field(path, &why))?;
        if descriptor.is_list() {
            if let Value::List(list) = current.get_field_mut(&descriptor) {
                list.push(value);
            }
        } else {
            current.set_field(&descriptor, value);
        }
    }
    Ok(())
}

/// A scalar field's value from text (a path variable or query parameter).
fn scalar(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("'{text}' is not {what}");
    Ok(match field.kind() {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(text.parse().map_err(|_| bad("true or false"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| bad("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| bad("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| bad("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| bad("an unsigned 64-bit integer"))?,
        ),
        Kind::Float => Value::F32(text.parse().map_err(|_| bad("a number"))?),
        Kind::Double => Value::F64(text.parse().map_err(|_| bad("a number"))?),
        Kind::Bytes => return Err("bytes cannot be given in a path or query".into()),
        Kind::Enum(descriptor) => Value::EnumNumber(
            descriptor
                .get_value_by_name(text)
                .map(|value| value.number())
                .or_else(|| text.parse().ok())
                .ok_or_else(|| bad(&format!("a value of {}", descriptor.name())))?,
        ),
        // A field mask is text in JSON too: `updateMask=title,body`.
        Kind::Message(message) if message.full_name() == "google.protobuf.FieldMask" => {
            let json = serde_json::to_string(text).map_err(|error| error.to_string())?;
            let mut deserializer = serde_json::Deserializer::from_str(&json);
            Value::Message(
                DynamicMessage::deserialize(message, &mut deserializer)
                    .map_err(|error| format!("'{text}' is not a field mask: {error}"))?,
            )
        }
        Kind::Message(_) => return Err("a message cannot be given in a path or query".into()),
    })
}

/// `a=1&b=x%20y` as pairs, `+` as space.
fn form_urlencoded(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn json_response(route: &Route, reply: &DynamicMessage) -> Result<Response, RestError> {
    let options = SerializeOptions::new();
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    let written = if route.response_body.is_empty() {
        reply.serialize_with_options(&mut serializer, &options)
    } else {
        match reply.get_field_by_name(&route.response_body).as_deref() {
            Some(Value::Message(field)) => field.serialize_with_options(&mut serializer, &options),
            _ => {
                return Err(RestError::internal(
                    "the response body field is not a message".into(),
                ));
            }
        }
    };
    written.map_err(|error| RestError::internal(format!("cannot write JSON: {error}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

/// A message in the canonical JSON mapping.
fn to_json(message: &DynamicMessage) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    message.serialize_with_options(
        &mut serde_json::Serializer::new(&mut out),
        &SerializeOptions::new(),
    )?;
    Ok(out)
}

/// One gRPC message frame: uncompressed flag, length, message.
fn frame(message: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0);
    framed.put_u32(message.len() as u32);
    framed.put_slice(message);
    framed.freeze()
}

/// The one message of a unary response body.
fn unframe(mut data: Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    data.advance(1);
    let length = data.get_u32() as usize;
    (data.len() == length).then_some(data)
}
