//! REST calls as curl would make them (reqwest), each answer checked against the server's
//! own OpenAPI document: the status is one the operation declares, and the JSON body
//! validates against that response's schema (JSON Schema 2020-12, by the `jsonschema`
//! crate, an implementation independent of the server's). A test that gets an answer the
//! document does not describe fails, so the document cannot drift from what is served.

use http::{HeaderMap, StatusCode};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::TestServer;

/// A REST client of one server, with its OpenAPI document.
#[derive(Debug, Clone)]
pub struct Rest {
    pub client: reqwest::Client,
    base: String,
    document: Value,
}

/// One answer: status, headers, and the JSON body (`null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Rest {
    /// A client of `server`, with the document it serves at `/openapi.json`.
    pub async fn new(server: &TestServer) -> Self {
        let client = reqwest::Client::new();
        let base = server.url();
        let document = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("the document is served")
            .json()
            .await
            .expect("the document is JSON");
        Self {
            client,
            base,
            document,
        }
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// Sends `request`; the answer must be JSON and conform to the document.
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        let request = request.build().expect("a request");
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = self.client.execute(request).await.expect("answered");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{method} {path}: not JSON ({error}): {text}"))
        };
        if let Err(problem) = self.conforms(&method, &path, status, "application/json", &body) {
            panic!("{method} {path} -> {status}: {problem}\nbody: {body}");
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    /// One item of a server stream (`text/event-stream` or `application/x-ndjson`) must
    /// conform to the operation's `x-itemSchema`.
    pub fn check_item(&self, method: &Method, path: &str, media: &str, item: &Value) {
        if let Err(problem) = self.conforms(method, path, StatusCode::OK, media, item) {
            panic!("{method} {path} {media} item: {problem}\nitem: {item}");
        }
    }

    fn conforms(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        media: &str,
        body: &Value,
    ) -> Result<(), String> {
        let Some(operation) = self.operation(method, path) else {
            // Paths outside the document (a 404 for an unknown path, 405) answer with the
            // error schema.
            return if status.is_success() {
                Err("a success on a path the document does not have".into())
            } else {
                self.validate(
                    &json!({"$ref": "#/components/schemas/google.rpc.Status"}),
                    body,
                )
            };
        };
        let responses = &operation["responses"];
        let response = responses
            .get(status.as_str())
            .or_else(|| (!status.is_success()).then(|| &responses["default"]))
            .filter(|response| response.is_object())
            .ok_or_else(|| format!("status {status} is not declared"))?;
        let content = &response["content"][media];
        let schema = if media == "application/json" {
            &content["schema"]
        } else {
            &content["x-itemSchema"]
        };
        if schema.is_null() {
            return Err(format!("no schema for {media}"));
        }
        self.validate(schema, body)
    }

    fn validate(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|error| format!("the schema does not compile: {error}"))?;
        let problems: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The operation whose path template matches `path` (`{var}` is one segment, and may
    /// carry a `:verb` after it), the one with the most literal text when several do.
    fn operation(&self, method: &Method, path: &str) -> Option<&Value> {
        let verb = method.as_str().to_ascii_lowercase();
        let segments: Vec<&str> = path.split('/').collect();
        self.document["paths"]
            .as_object()?
            .iter()
            .filter(|(template, _)| matches(template, &segments))
            .filter_map(|(template, item)| Some((template, item.get(&verb)?)))
            .max_by_key(|(template, _)| template.replace(['{', '}'], "").len())
            .map(|(_, operation)| operation)
    }
}

fn matches(template: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = template.split('/').collect();
    parts.len() == segments.len()
        && parts.iter().zip(segments).all(|(part, segment)| {
            match part.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
                Some((_, suffix)) => segment.len() > suffix.len() && segment.ends_with(suffix),
                None => part == segment,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest() -> Rest {
        Rest {
            client: reqwest::Client::new(),
            base: String::new(),
            document: json!({
                "paths": {"/v1/hello/{name}": {"get": {"responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Hello"}}}},
                    "default": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}},
                }}}},
                "components": {"schemas": {
                    "Hello": {"type": "object", "properties": {"message": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}},
                    "google.rpc.Status": {"type": "object", "required": ["code", "message"]},
                }},
            }),
        }
    }

    #[test]
    fn answers_the_document_does_not_describe_are_refused() {
        let rest = rest();
        let get = |status: u16, body: Value| {
            rest.conforms(
                &Method::GET,
                "/v1/hello/ada",
                StatusCode::from_u16(status).expect("status"),
                "application/json",
                &body,
            )
        };
        get(200, json!({"message": "hi", "at": "2026-12-01T10:00:00Z"})).expect("conforms");
        assert!(get(200, json!({"message": 3})).is_err(), "a wrong type");
        assert!(
            get(200, json!({"at": "yesterday"})).is_err(),
            "a wrong format"
        );
        get(404, json!({"code": 5, "message": "no"})).expect("an error as declared");
        assert!(
            get(404, json!({"message": "no"})).is_err(),
            "an error without its code"
        );
        assert!(
            rest.conforms(
                &Method::GET,
                "/v2/other",
                StatusCode::OK,
                "application/json",
                &json!({})
            )
            .is_err(),
            "a success on an undocumented path"
        );
    }

    #[test]
    fn templates_match_by_segment() {
        let path = |p: &'static str| p.split('/').collect::<Vec<_>>();
        assert!(matches("/v1/posts/{id}", &path("/v1/posts/abc")));
        assert!(!matches("/v1/posts/{id}", &path("/v1/posts/abc/comments")));
        assert!(matches(
            "/v1/posts/{id}:publish",
            &path("/v1/posts/abc:publish")
        ));
        assert!(!matches("/v1/posts/{id}:publish", &path("/v1/posts/abc")));
        assert!(matches(
            "/v1/posts/{post_id}/comments",
            &path("/v1/posts/abc/comments")
        ));
    }
}
