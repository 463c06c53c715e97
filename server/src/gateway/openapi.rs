//! The OpenAPI 3.1 document of the REST gateway, made from the same descriptors as its
//! routes (compiled from `proto/` at build time, comments included), once at start: every
//! REST operation with its parameters, request and response schemas in the protobuf JSON
//! mapping's types, its error response (`google.rpc.Status`), and the bearer token on the
//! operations that change state. Served at `/openapi.json` and `/openapi.yaml`.

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use serde_json::{Map, Value, json};

use super::rules::Route;

/// The document for `routes`; `needs_token` says which gRPC paths need the bearer token.
pub fn document(routes: &[Route], needs_token: impl Fn(&str) -> bool) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut schemas = Schemas::default();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for route in routes {
        let method = &route.method;
        let base = format!("{}_{}", method.parent_service().name(), method.name());
        let seen = ids.entry(base.clone()).or_default();
        *seen += 1;
        let operation_id = if *seen == 1 {
            base
        } else {
            format!("{base}{seen}")
        };
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(operation_id));
        operation.insert("tags".into(), json!([method.parent_service().full_name()]));
        let comment = comment_of_method(method);
        if let Some(summary) = comment.lines().next().filter(|line| !line.is_empty()) {
            operation.insert("summary".into(), json!(summary));
            operation.insert("description".into(), json!(comment));
        }
        let input = method.input();
        let path_fields: Vec<&str> = route.template.fields().collect();
        let mut parameters: Vec<Value> = path_fields
            .iter()
            .map(|field| {
                let descriptor = super::rules::field_path(&input, field)
                    .and_then(|path| path.last().cloned());
                json!({
                    "name": field,
                    "in": "path",
                    "required": true,
                    "schema": descriptor.as_ref().map_or(json!({"type": "string"}), |d| schemas.field(d)),
                    "description": descriptor.as_ref().map(comment_of_field).unwrap_or_default(),
                })
            })
            .collect();
        if route.body != "*" {
            for field in input.fields() {
                if path_fields.contains(&field.name())
                    || field.name() == route.body
                    || matches!(field.kind(), Kind::Message(_))
                {
                    continue;
                }
                parameters.push(json!({
                    "name": field.json_name(),
                    "in": "query",
                    "required": false,
                    "schema": schemas.field(&field),
                    "description": comment_of_field(&field),
                }));
            }
        }
        operation.insert("parameters".into(), Value::Array(parameters));
        let body_schema = match route.body.as_str() {
            "" => None,
            "*" => Some(schemas.message(&input)),
            field => input.get_field_by_name(field).map(|f| schemas.field(&f)),
        };
        if let Some(schema) = body_schema {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let output = method.output();
        let reply = if route.response_body.is_empty() {
            schemas.message(&output)
        } else {
            output
                .get_field_by_name(&route.response_body)
                .map_or(json!({}), |f| schemas.field(&f))
        };
        // A stream's items are described by `x-itemSchema`: OpenAPI 3.2's `itemSchema`, as
        // an extension, since 3.1's media types have no field for it.
        let content = if method.is_server_streaming() {
            json!({
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-Sent Events: `data: <message>` per message, `event: error` with a google.rpc.Status at a failed end",
                    },
                    "x-itemSchema": reply,
                },
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "One `{\"result\": <message>}` per line, `{\"error\": <google.rpc.Status>}` last on failure",
                    },
                    "x-itemSchema": {"type": "object", "properties": {"result": reply, "error": {"$ref": "#/components/schemas/google.rpc.Status"}}},
                },
            })
        } else {
            json!({"application/json": {"schema": reply}})
        };
        operation.insert(
            "responses".into(),
            json!({
                "200": {"description": "OK", "content": content},
                "default": {
                    "description": "An error: the gRPC status as google.rpc.Status, with the HTTP status of its code",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}},
                },
            }),
        );
        if needs_token(&route.grpc_path()) {
            operation.insert("security".into(), json!([{"bearerAuth": []}]));
        }
        paths.entry(openapi_path(&route.path)).or_default().insert(
            route.http_method.as_str().to_ascii_lowercase(),
            Value::Object(operation),
        );
    }
    let mut components = schemas.into_map();
    components.insert("google.rpc.Status".into(), json!({
        "type": "object",
        "description": "An error: the gRPC code (google.rpc.Code), a message for people, and typed details.",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "properties": {"@type": {"type": "string"}},
                "required": ["@type"],
                "additionalProperties": true,
            }},
        },
        "required": ["code", "message", "details"],
    }));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "grpc-browser REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The gRPC services' methods with a google.api.http binding, over HTTP and JSON (the protobuf JSON mapping). Generated from the protos.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The server's --auth-token, for the methods that change state."},
            },
        },
    })
}

/// `/v1/{name=rooms/*}:verb` as OpenAPI writes it: `/v1/{name}:verb`.
fn openapi_path(template: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '{' {
            for inner in chars.by_ref() {
                if inner == '=' {
                    for rest in chars.by_ref() {
                        if rest == '}' {
                            break;
                        }
                    }
                    out.push('}');
                    break;
                }
                out.push(inner);
                if inner == '}' {
                    break;
                }
            }
        }
    }
    out
}

/// The messages' schemas, by full name, made as they are referred to.
#[derive(Default)]
struct Schemas(BTreeMap<String, Value>);

impl Schemas {
    fn into_map(self) -> Map<String, Value> {
        self.0.into_iter().collect()
    }

    /// A reference to the message's schema (or the well-known type's inline form).
    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(known) = well_known(message.full_name()) {
            return known;
        }
        let name = message.full_name().to_owned();
        if !self.0.contains_key(&name) {
            self.0.insert(name.clone(), json!({}));
            let mut properties = Map::new();
            let mut required = Vec::new();
            for field in message.fields() {
                let mut schema = self.field(&field);
                let behavior = behavior_of(&field);
                if let Value::Object(object) = &mut schema {
                    let comment = comment_of_field(&field);
                    if !comment.is_empty() {
                        object.insert("description".into(), json!(comment));
                    }
                    if behavior.contains(&OUTPUT_ONLY) {
                        object.insert("readOnly".into(), json!(true));
                    }
                }
                if behavior.contains(&REQUIRED) {
                    required.push(json!(field.json_name()));
                }
                properties.insert(field.json_name().to_owned(), schema);
            }
            let mut schema = json!({"type": "object", "properties": properties});
            if !required.is_empty() {
                schema["required"] = Value::Array(required);
            }
            let comment = comment_of(message.parent_file_descriptor_proto(), message.path());
            if !comment.is_empty() {
                schema["description"] = json!(comment);
            }
            self.0.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// A field's schema in the JSON mapping.
    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({"type": "object"});
            };
            let value = entry.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": self.single(&value)});
        }
        let single = self.single(field);
        if field.is_list() {
            json!({"type": "array", "items": single})
        } else {
            single
        }
    }

    fn single(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0})
            }
            // 64-bit integers are strings in the JSON mapping (numbers are accepted too).
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Enum(descriptor) => json!({
                "type": "string",
                "enum": descriptor.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
            }),
            Kind::Message(message) => self.message(&message),
        }
    }
}

/// The well-known types' JSON forms.
fn well_known(name: &str) -> Option<Value> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated lowerCamelCase field paths"})
        }
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.StringValue" => json!({"type": ["string", "null"]}),
        "google.protobuf.BoolValue" => json!({"type": ["boolean", "null"]}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": ["integer", "null"]})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": ["string", "null"]})
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({"type": ["number", "null"]})
        }
        _ => return None,
    })
}

/// `google.api.FieldBehavior` numbers the document uses.
const REQUIRED: i32 = 2;
const OUTPUT_ONLY: i32 = 3;

/// The field's `google.api.field_behavior` values, by number.
fn behavior_of(field: &FieldDescriptor) -> Vec<i32> {
    let Some(extension) = field
        .parent_pool()
        .get_extension_by_name("google.api.field_behavior")
    else {
        return Vec::new();
    };
    let options = field.options();
    if !options.has_extension(&extension) {
        return Vec::new();
    }
    match &*options.get_extension(&extension) {
        prost_reflect::Value::List(values) => values
            .iter()
            .filter_map(prost_reflect::Value::as_enum_number)
            .collect(),
        _ => Vec::new(),
    }
}

fn comment_of_method(method: &MethodDescriptor) -> String {
    comment_of(method.parent_file().file_descriptor_proto(), method.path())
}

fn comment_of_field(field: &FieldDescriptor) -> String {
    comment_of(field.parent_file().file_descriptor_proto(), field.path())
}

/// The leading comment at `path` in `file`'s source info, trimmed.
fn comment_of(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|location| location.path == path))
        .and_then(|location| location.leading_comments.as_deref())
        .map(|comment| {
            comment
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_become_openapi_paths() {
        assert_eq!(
            openapi_path("/v1/cities/{city_id}/forecast"),
            "/v1/cities/{city_id}/forecast"
        );
        assert_eq!(openapi_path("/v1/{name=rooms/*}:watch"), "/v1/{name}:watch");
    }
}
