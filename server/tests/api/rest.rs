//! The REST/JSON gateway: the annotated methods over plain HTTP with JSON (reqwest, as curl
//! would call them), the canonical JSON mapping, and every kind of bad request answered
//! with a 4xx and a `google.rpc.Status` body, never a 5xx.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use testkit::rest::Rest;

use crate::helpers::spawn_app;

/// `method path` with `body` as JSON; the answer is JSON, conforming to the document.
async fn call(
    rest: &Rest,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = rest.request(method, path);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let answer = rest.send(request).await;
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{path}"
    );
    (answer.status, answer.headers, answer.body)
}

/// A `google.rpc.Status` body: its code and message, checked for shape.
fn rpc_status(body: &Value) -> (i64, &str) {
    let code = body["code"].as_i64().expect("code");
    let message = body["message"].as_str().expect("message");
    assert!(body["details"].is_array(), "details: {body}");
    (code, message)
}

#[tokio::test]
async fn say_hello_over_rest_by_body_and_by_path() {
    let app = spawn_app().await;
    let rest = Rest::new(&app).await;
    let (status, headers, body) = call(
        &rest,
        Method::POST,
        "/v1/greeter/hello",
        Some(r#"{"name": "Ada"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"message": "Hello, Ada!"}));
    assert!(
        headers.contains_key("x-request-id"),
        "the call's request id"
    );

    let (status, _, body) = call(&rest, Method::GET, "/v1/greeter/hello/Grace%20H", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"message": "Hello, Grace H!"}));

    // Counted under the gRPC method, as any call.
    let metrics = reqwest::get(&app.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("grpc_server_handled_total")
                && line.contains(r#"method="/Greeter/SayHello""#)
                && line.contains(r#"code="OK""#)
                && line.ends_with(" 2")),
        "{metrics}"
    );
}

#[tokio::test]
async fn weather_over_rest_in_the_canonical_json_mapping() {
    let app = spawn_app().await;
    let rest = Rest::new(&app).await;
    let (status, _, body) = call(&rest, Method::GET, "/v1/cities?query=oslo&limit=1", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let city = &body["cities"][0];
    assert_eq!(city["id"], "oslo-no");
    // lowerCamelCase names, 64-bit integers as strings.
    assert_eq!(city["countryCode"], "NO");
    assert!(city["population"].is_string(), "{city}");
    assert!(city["timeZone"].is_string(), "{city}");

    let (status, _, body) = call(&rest, Method::GET, "/v1/cities/oslo-no/forecast", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["city"]["id"], "oslo-no");
    assert!(
        body["hourly"]
            .as_array()
            .is_some_and(|hours| hours.len() == 48),
        "{body}"
    );
    assert!(
        body["daily"].as_array().is_some_and(|days| days.len() == 7),
        "{body}"
    );
    // Enums by name.
    assert!(
        body["daily"][0]["sky"]
            .as_str()
            .is_some_and(|sky| sky.starts_with("SKY_")),
        "{body}"
    );

    let (status, _, body) = call(&rest, Method::GET, "/v1/cities/oslo-no/conditions", None).await;
    assert_eq!(status, StatusCode::OK);
    // A Timestamp is an RFC 3339 string.
    assert!(
        body["observedAt"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{body}"
    );

    let (status, _, body) = call(
        &rest,
        Method::GET,
        "/v1/cities/atlantis-xx/conditions",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (code, message) = rpc_status(&body);
    assert_eq!(code, 5);
    assert!(message.contains("atlantis-xx"), "{message}");
    assert_eq!(
        body["details"][0]["@type"],
        "type.googleapis.com/google.rpc.ResourceInfo"
    );
}

#[tokio::test]
async fn bad_rest_requests_get_a_4xx_with_a_status_body() {
    let app = spawn_app().await;
    let rest = Rest::new(&app).await;
    let hello = "/v1/greeter/hello";
    for (method, path, body, expected, names) in [
        (
            Method::POST,
            hello,
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::POST,
            hello,
            Some(r#"{"nmae": "Ada"}"#),
            StatusCode::BAD_REQUEST,
            "nmae",
        ),
        (
            Method::POST,
            hello,
            Some(r#"{"name": 5}"#),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::POST,
            hello,
            Some(r#"{"name": ""}"#),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            Method::POST,
            hello,
            Some(r#"{"name": "a"} trailing"#),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::GET,
            "/v1/cities?limit=lots",
            None,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/cities?bogus=1",
            None,
            StatusCode::BAD_REQUEST,
            "bogus",
        ),
        (
            Method::GET,
            "/v1/cities?limit=500",
            None,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/cities/oslo-no/forecast?city_id=x",
            None,
            StatusCode::BAD_REQUEST,
            "city_id",
        ),
        (
            Method::GET,
            "/v1/cities//forecast",
            None,
            StatusCode::NOT_FOUND,
            "/v1/cities//forecast",
        ),
        (
            Method::GET,
            "/v1/nothing/here",
            None,
            StatusCode::NOT_FOUND,
            "/v1/nothing/here",
        ),
        (
            Method::DELETE,
            hello,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "DELETE",
        ),
        (
            Method::GET,
            "/v1/cities",
            Some("{}"),
            StatusCode::BAD_REQUEST,
            "body",
        ),
    ] {
        let (status, _, reply) = call(&rest, method.clone(), path, body).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {reply}");
        let (_, message) = rpc_status(&reply);
        assert!(
            message.contains(names),
            "{method} {path}: '{message}' names {names}"
        );
    }
    // The proto field name is accepted as well as the JSON one.
    let (status, _, _) = call(&rest, Method::GET, "/v1/cities?query=par&limit=2", None).await;
    assert_eq!(status, StatusCode::OK);

    // A body over the message limit: 413, read no further.
    let huge = format!(r#"{{"name": "{}"}}"#, "a".repeat(5 << 20));
    let (status, _, reply) = call(&rest, Method::POST, hello, Some(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rpc_status(&reply).0, 8);
}

/// Reads a streaming response chunk by chunk until `events` complete events (separated by
/// `separator`) have arrived; each with the moment it was complete.
async fn read_events(
    response: &mut reqwest::Response,
    separator: &str,
    events: usize,
) -> Vec<(String, std::time::Instant)> {
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < events {
        let chunk = tokio::time::timeout(testkit::PATIENCE, response.chunk())
            .await
            .expect("the next event within the test's patience")
            .expect("readable")
            .expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = text.find(separator) {
            let event: String = text.drain(..end + separator.len()).collect();
            if !event.trim().is_empty() && !event.starts_with(':') {
                out.push((event.trim().to_owned(), std::time::Instant::now()));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_server_stream_over_rest_arrives_event_by_event_as_sse_and_ndjson() {
    let app = spawn_app().await;
    let rest = Rest::new(&app).await;
    let client = &rest.client;
    let url = format!(
        "{}/v1/greeter/hello/Ada:stream?count=3&intervalMs=300",
        app.url()
    );
    let mut response = client.get(&url).send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = read_events(&mut response, "\n\n", 3).await;
    for (n, (event, _)) in events.iter().enumerate() {
        assert_eq!(
            event,
            &format!(r#"data: {{"message":"Hello, Ada! ({}/3)"}}"#, n + 1)
        );
        let item = serde_json::from_str(event.trim_start_matches("data: ")).expect("JSON");
        rest.check_item(
            &Method::GET,
            "/v1/greeter/hello/Ada:stream",
            "text/event-stream",
            &item,
        );
    }
    // Each one when the server sent it, not all at the end.
    assert!(
        events[1].1 - events[0].1 >= std::time::Duration::from_millis(200),
        "{events:?}"
    );
    assert!(
        events[2].1 - events[1].1 >= std::time::Duration::from_millis(200),
        "{events:?}"
    );
    assert!(
        response.chunk().await.expect("readable").is_none(),
        "then the end"
    );

    let mut response = client
        .get(format!(
            "{}/v1/greeter/hello/Grace:stream?count=2",
            app.url()
        ))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines = read_events(&mut response, "\n", 2).await;
    for (n, (line, _)) in lines.iter().enumerate() {
        assert_eq!(
            line,
            &format!(
                r#"{{"result":{{"message":"Hello, Grace! ({}/2)"}}}}"#,
                n + 1
            )
        );
        let item = serde_json::from_str(line).expect("JSON");
        rest.check_item(
            &Method::GET,
            "/v1/greeter/hello/Grace:stream",
            "application/x-ndjson",
            &item,
        );
    }

    // Refused before its first message: an ordinary REST error.
    let (status, _, body) = call(
        &rest,
        Method::GET,
        "/v1/greeter/hello/Ada:stream?count=0",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rpc_status(&body).1.contains("count"), "{body}");
}

#[tokio::test]
async fn a_client_leaving_a_rest_stream_cancels_the_call() {
    let app = spawn_app().await;
    let client = Client::new();
    let mut response = client
        .get(format!("{}/v1/cities/oslo-no/conditions:watch", app.url()))
        .send()
        .await
        .expect("answered");
    let first = read_events(&mut response, "\n\n", 1).await;
    assert!(first[0].0.starts_with("data: {"), "{first:?}");
    assert!(first[0].0.contains(r#""observedAt""#), "{first:?}");
    assert_eq!(
        *app.hub.producers().borrow(),
        1,
        "the city's live producer runs"
    );
    drop(response);
    // The call is cancelled: the city's producer stops with its last subscriber.
    app.wait_for_no_producers().await;
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    out.push(value.as_str().expect("a string").to_owned());
                } else {
                    refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_rest_operation() {
    let app = spawn_app().await;
    let rest = Rest::new(&app).await;
    let document = rest.document();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = &document["paths"];
    for (path, verb) in [
        ("/v1/greeter/hello", "post"),
        ("/v1/greeter/hello/{name}", "get"),
        ("/v1/greeter/hello/{name}:stream", "get"),
        ("/v1/cities", "get"),
        ("/v1/cities/{city_id}/conditions", "get"),
        ("/v1/cities/{city_id}/conditions:watch", "get"),
        ("/v1/cities/{city_id}/forecast", "get"),
    ] {
        let operation = &paths[path][verb];
        assert!(operation.is_object(), "{verb} {path} in {paths}");
        assert!(operation["operationId"].is_string());
        assert_eq!(
            operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/google.rpc.Status"
        );
    }
    // Parameters, bodies and comments come from the protos.
    let forecast = &paths["/v1/cities/{city_id}/forecast"]["get"];
    assert_eq!(forecast["parameters"][0]["name"], "city_id");
    assert_eq!(forecast["parameters"][0]["in"], "path");
    assert_eq!(forecast["parameters"][0]["required"], true);
    assert!(
        forecast["summary"]
            .as_str()
            .is_some_and(|s| s.contains("48 hours")),
        "{forecast}"
    );
    let search: Vec<&str> = paths["/v1/cities"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(search, ["query", "limit"]);
    assert_eq!(
        paths["/v1/greeter/hello"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/HelloRequest"
    );
    assert!(paths["/v1/cities/{city_id}/conditions:watch"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    // The JSON mapping's types.
    let city = &document["components"]["schemas"]["weather.v1.City"]["properties"];
    assert_eq!(city["population"]["type"], "string", "uint64 as a string");
    assert_eq!(
        city["countryCode"]["type"], "string",
        "lowerCamelCase names"
    );
    let conditions =
        &document["components"]["schemas"]["weather.v1.CurrentConditions"]["properties"];
    assert_eq!(conditions["observedAt"]["format"], "date-time");
    // Every reference resolves.
    let mut found = Vec::new();
    refs(document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{reference} resolves"
        );
    }
}
