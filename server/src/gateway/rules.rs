//! The REST routes, read from the `google.api.http` options in the server's own descriptor
//! set (compiled from `proto/` at build time): one [`Route`] per binding, additional
//! bindings included, with its path template parsed.
//!
//! Templates follow google/api/http.proto: literal segments, `{field}` (one segment),
//! `{field=pattern}` with `*` (one segment) and `**` (the rest), and an optional `:verb`.

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

/// The request fields a path binds, with their (percent-decoded) values.
pub type Bound = Vec<(String, String)>;

/// One REST binding of a gRPC method.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: MethodDescriptor,
    pub http_method: http::Method,
    pub template: Template,
    /// The original template text, for errors and documents.
    pub path: String,
    /// `""` (no body: query parameters), `"*"` (the whole request) or a field name.
    pub body: String,
    /// `""` (the whole response) or the field sent as the body.
    pub response_body: String,
}

impl Route {
    /// `/package.Service/Method`, the gRPC path the call goes to.
    pub fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.method.parent_service().full_name(),
            self.method.name()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    verb: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A field path (`a.b`) and how many segments it takes (`None`: the rest).
    Variable {
        field: String,
        length: Option<usize>,
    },
}

impl Template {
    pub fn parse(path: &str) -> Result<Self, String> {
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| format!("'{path}' does not start with /"))?;
        let (rest, verb) = match rest.rsplit_once(':') {
            Some((before, verb)) if !verb.contains('}') && !verb.contains('/') => {
                (before, Some(verb.to_owned()))
            }
            _ => (rest, None),
        };
        let mut segments = Vec::new();
        let mut parts = rest.split('/').peekable();
        while let Some(part) = parts.next() {
            if let Some(inner) = part.strip_prefix('{') {
                // A variable may span segments: `{name=rooms/*}`.
                let mut text = inner.to_owned();
                while !text.ends_with('}') {
                    let next = parts
                        .next()
                        .ok_or_else(|| format!("unclosed variable in '{path}'"))?;
                    text.push('/');
                    text.push_str(next);
                }
                text.pop();
                let (field, pattern) = text.split_once('=').unwrap_or((&text, "*"));
                let length = if pattern.split('/').any(|p| p == "**") {
                    None
                } else {
                    Some(pattern.split('/').count())
                };
                segments.push(Segment::Variable {
                    field: field.to_owned(),
                    length,
                });
            } else if part.is_empty() {
                return Err(format!("empty segment in '{path}'"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(Self { segments, verb })
    }

    /// The field values a request path binds, if it matches; values are percent-decoded.
    pub fn matches(&self, path: &str) -> Option<Bound> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut at = 0;
        let mut bound = Vec::new();
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if parts.get(at) != Some(&literal.as_str()) {
                        return None;
                    }
                    at += 1;
                }
                Segment::Variable { field, length } => {
                    let take = match length {
                        Some(length) => *length,
                        // `**` takes what the segments after it leave.
                        None => parts
                            .len()
                            .checked_sub(at + self.segments.len() - index - 1)?,
                    };
                    let taken = parts.get(at..at + take)?;
                    if taken.iter().any(|part| part.is_empty()) {
                        return None;
                    }
                    let value = taken.join("/");
                    let decoded = percent_decode(&value)?;
                    bound.push((field.clone(), decoded));
                    at += take;
                }
            }
        }
        (at == parts.len()).then_some(bound)
    }

    /// Whether the template ends in a `:verb`.
    pub fn has_verb(&self) -> bool {
        self.verb.is_some()
    }

    /// The fields the path binds.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Variable { field, .. } => Some(field.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Every binding of every method in `pool` that has a `google.api.http` option.
pub fn routes(pool: &DescriptorPool) -> Result<Vec<Route>, String> {
    let Some(extension) = pool.get_extension_by_name("google.api.http") else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                continue;
            };
            add(&method, &rule, &mut routes, true)?;
        }
    }
    // `/x/{name}:verb` before `/x/{name}`, which would otherwise take `Ada:verb` as a name.
    routes.sort_by_key(|route| !route.template.has_verb());
    Ok(routes)
}

fn add(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    routes: &mut Vec<Route>,
    top: bool,
) -> Result<(), String> {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let pattern = [
        ("get", http::Method::GET),
        ("put", http::Method::PUT),
        ("post", http::Method::POST),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ]
    .into_iter()
    .find(|(name, _)| rule.has_field_by_name(name))
    .map(|(name, verb)| (verb, text(name)));
    let (http_method, path) = match pattern {
        Some(found) => found,
        None => match rule.get_field_by_name("custom").as_deref() {
            Some(Value::Message(custom)) => {
                let kind = custom
                    .get_field_by_name("kind")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let path = custom
                    .get_field_by_name("path")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (
                    http::Method::from_bytes(kind.as_bytes())
                        .map_err(|_| format!("bad custom method '{kind}'"))?,
                    path,
                )
            }
            _ => {
                return Err(format!(
                    "{}: an http rule without a path",
                    method.full_name()
                ));
            }
        },
    };
    let template =
        Template::parse(&path).map_err(|error| format!("{}: {error}", method.full_name()))?;
    let route = Route {
        method: method.clone(),
        http_method,
        template,
        path,
        body: text("body"),
        response_body: text("response_body"),
    };
    for field in route.template.fields() {
        if field_path(&method.input(), field).is_none() {
            return Err(format!(
                "{}: path variable {{{field}}} is not a field of {}",
                method.full_name(),
                method.input().full_name()
            ));
        }
    }
    routes.push(route);
    if top && let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref()
    {
        for binding in more {
            if let Value::Message(binding) = binding {
                add(method, binding, routes, false)?;
            }
        }
    }
    Ok(())
}

/// The field descriptors along a dotted path (`a.b`) from `message`.
pub fn field_path(
    message: &prost_reflect::MessageDescriptor,
    path: &str,
) -> Option<Vec<prost_reflect::FieldDescriptor>> {
    let mut current = message.clone();
    let mut fields = Vec::new();
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = current.get_field_by_name(name)?;
        if names.peek().is_some() {
            match field.kind() {
                prost_reflect::Kind::Message(next) => current = next,
                _ => return None,
            }
        }
        fields.push(field);
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_bind_variables_and_reject_what_does_not_fit() {
        let template = Template::parse("/v1/cities/{city_id}/forecast").expect("parses");
        assert_eq!(
            template.matches("/v1/cities/oslo-no/forecast"),
            Some(vec![("city_id".into(), "oslo-no".into())])
        );
        assert_eq!(template.matches("/v1/cities//forecast"), None);
        assert_eq!(template.matches("/v1/cities/oslo-no"), None);
        assert_eq!(template.matches("/v1/cities/a/b/forecast"), None);
        assert_eq!(
            template.matches("/v1/cities/s%C3%A3o-paulo/forecast"),
            Some(vec![("city_id".into(), "são-paulo".into())])
        );

        let rest = Template::parse("/v1/{name=files/**}:download").expect("parses");
        assert_eq!(
            rest.matches("/v1/files/a/b.txt:download"),
            Some(vec![("name".into(), "files/a/b.txt".into())])
        );
        assert_eq!(rest.matches("/v1/files/a/b.txt"), None);
        assert!(Template::parse("v1/x").is_err());
        assert!(Template::parse("/v1/{open").is_err());
    }

    #[test]
    fn the_servers_protos_have_their_routes() {
        let pool = DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let routes = routes(&pool).expect("valid rules");
        let found: Vec<_> = routes
            .iter()
            .map(|route| {
                format!(
                    "{} {} -> {}",
                    route.http_method,
                    route.path,
                    route.grpc_path()
                )
            })
            .collect();
        for expected in [
            "POST /v1/greeter/hello -> /Greeter/SayHello",
            "GET /v1/greeter/hello/{name} -> /Greeter/SayHello",
            "GET /v1/cities/{city_id}/forecast -> /weather.v1.WeatherService/GetForecast",
        ] {
            assert!(
                found.iter().any(|route| route == expected),
                "{expected} in {found:?}"
            );
        }
    }
}
