//! Any JSON endpoint: templated body, JSON pointers into the response.
//!
//! For a team's own service (a RAG API, a gateway with its own shape). The request body is
//! the configured JSON value with every string leaf rendered as a handlebars template
//! against the case:
//!
//! | variable   | value                                                        |
//! |------------|--------------------------------------------------------------|
//! | `prompt`   | the last user message                                        |
//! | `system`   | the system messages, joined with a blank line (`""` if none) |
//! | `messages` | `[{role, content}]`, every message of the case               |
//! | `vars`     | the case's variables                                         |
//! | `context`  | the case's context passages (strings)                        |
//! | `case_id`  | the case id                                                  |
//! | `model`    | the target's `model`                                         |
//! | `params`   | the target's `params`                                        |
//!
//! A leaf that is exactly one `{{json X}}` expression is replaced by the JSON value it
//! renders, so `"history": "{{json messages}}"` sends an array, not a string holding one.
//! The answer is read from the response with RFC 6901 JSON pointers (`response.text` and
//! friends); the endpoint is never streamed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::classify::json_type;
use super::transport::{Address, Meta, Transport, check_url};
use super::{ChatRequest, ErrorClass, Failure, ProviderError, Reply};
use crate::config::{HttpResponseMap, HttpSpec, Secret, Target};
use crate::golden::Role;
use crate::golden::template::Renderer;

#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// Behind an `Arc`: the spec and renderer are large, and `Provider` is cloned per task.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    address: Address,
    spec: HttpSpec,
    model: String,
    params: Map<String, Value>,
    renderer: Renderer,
}

impl HttpEndpoint {
    /// `hide`: more values its messages must not show (the probe's secrets, such as a
    /// `${VAR}` in the URL's path), besides the key and header values.
    pub fn new(target: &Target, timeout: Duration, hide: &[Secret]) -> Result<Self, ProviderError> {
        let build = |message: String| ProviderError::Build {
            target: target.name.clone(),
            message,
        };
        let Some(spec) = target.http.clone() else {
            return Err(build(
                "the http provider needs an `http:` section (method, url, body, response)".into(),
            ));
        };
        let address = check_url(target, &spec.url)?;
        // Template syntax is checked now, so a typo fails `probity validate`-time building
        // rather than every request; undefined variables can only be found per case.
        check_templates(&spec.body, &mut String::new()).map_err(build)?;
        check_pointers(&spec.response).map_err(build)?;
        // A key, when given, is sent the usual way; a service with another scheme sets its
        // header under `headers`, which replaces this one.
        let auth = target
            .api_key
            .as_ref()
            .filter(|k| !k.expose().is_empty())
            .map(|k| ("authorization", format!("Bearer {}", k.expose())));
        Ok(HttpEndpoint {
            inner: Arc::new(Inner {
                transport: Transport::new(target, timeout, auth)?.also_hide(hide),
                address,
                spec,
                model: target.model.clone(),
                params: target.params.clone(),
                renderer: Renderer::default(),
            }),
        })
    }

    pub async fn chat(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        self.inner
            .chat(request)
            .await
            .map_err(|f| self.inner.transport.scrub(f))
    }
}

impl Inner {
    async fn chat(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        let data = self.template_data(request);
        let body = render_value(&self.renderer, &self.spec.body, &data, &mut String::new())
            .map_err(|e| {
                // The request cannot be built, so it was never sent: a client-side error,
                // and one a retry would only repeat.
                Failure::new(
                    ErrorClass::Http4xx,
                    format!(
                        "cannot build the request body for case `{}`: {e}",
                        request.case_id
                    ),
                )
            })?;
        let mut builder = self
            .transport
            .request(self.spec.method.clone(), &self.address)
            .headers(request.headers.clone());
        if !body.is_null() {
            builder = builder.json(&body);
        }
        let sent = self.transport.send(builder, &self.address).await?;
        let (value, meta) = self.transport.read_json(sent).await?;
        extract(&value, &self.spec.response, &meta)
    }

    fn template_data(&self, request: &ChatRequest<'_>) -> Value {
        let joined = |role: Role| -> Vec<&str> {
            request
                .messages
                .iter()
                .filter(|m| m.role == role)
                .map(|m| m.content.as_str())
                .collect()
        };
        let prompt = joined(Role::User).last().copied().unwrap_or_default();
        json!({
            "prompt": prompt,
            "system": joined(Role::System).join("\n\n"),
            "messages": request
                .messages
                .iter()
                .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
                .collect::<Vec<_>>(),
            "vars": request.vars,
            "context": request.context,
            "case_id": request.case_id,
            "model": self.model,
            "params": self.params,
        })
    }
}

/// Appends one RFC 6901 reference token to a pointer, escaped.
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// Where in the body a template sits, for messages (`/` for the root).
fn location(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

fn check_templates(value: &Value, at: &mut String) -> Result<(), String> {
    match value {
        Value::String(s) => handlebars::Template::compile(s).map(|_| ()).map_err(|e| {
            format!(
                "http.body at `{}`: template syntax: {}",
                location(at),
                e.reason()
            )
        }),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = at.len();
            push_token(at, &i.to_string());
            let result = check_templates(item, at);
            at.truncate(len);
            result
        }),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            let len = at.len();
            push_token(at, key);
            let result = check_templates(item, at);
            at.truncate(len);
            result
        }),
        _ => Ok(()),
    }
}

fn check_pointers(map: &HttpResponseMap) -> Result<(), String> {
    let all = [
        ("text", Some(&map.text)),
        ("context", map.context.as_ref()),
        ("context_item", map.context_item.as_ref()),
        ("input_tokens", map.input_tokens.as_ref()),
        ("output_tokens", map.output_tokens.as_ref()),
        ("finish_reason", map.finish_reason.as_ref()),
        ("model", map.model.as_ref()),
    ];
    let timings = map.timings.values().map(|p| ("timings", Some(p)));
    for (name, pointer) in all.into_iter().chain(timings) {
        if let Some(pointer) = pointer {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(format!(
                    "http.response.{name}: `{pointer}` is not a JSON pointer; it must start \
                     with `/` (e.g. `/{pointer}`)"
                ));
            }
        }
    }
    Ok(())
}

/// `response.timings` (issue 13): each pointer's milliseconds become a server component of
/// the attempt's timings, replacing a `Server-Timing` figure of the same name. A missing
/// value or `null` is no component; anything but a non-negative number is malformed, as for
/// the other pointers.
fn server_components(
    value: &Value,
    timings: &BTreeMap<String, String>,
    fail: impl Fn(&str, &str, String) -> Failure,
) -> Result<(), Failure> {
    for (name, pointer) in timings {
        match value.pointer(pointer) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_f64().is_some_and(|ms| ms >= 0.0) => {
                crate::runner::timings::server_component(name, n.as_f64().unwrap_or(0.0));
            }
            Some(other) => {
                return Err(fail(
                    &format!("timings.{name}"),
                    pointer,
                    format!(
                        "found {}, expected milliseconds (a number ≥ 0)",
                        json_type(other)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The argument `X` of a leaf that is a single `{{json X}}` expression (whitespace around
/// it allowed), or `None` for any other template.
fn single_json_argument(template: &str) -> Option<&str> {
    let inner = template
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    let rest = inner.trim_start().strip_prefix("json")?;
    rest.starts_with(char::is_whitespace).then(|| rest.trim())
}

/// A plain variable path (`vars.tags`, `messages.[0]`), not a literal or sub-expression.
fn is_plain_path(argument: &str) -> bool {
    argument.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '@')
        && argument
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.@/[]".contains(c))
        && !matches!(argument, "true" | "false" | "null" | "undefined")
}

/// Renders every string leaf of `template`; `at` tracks the pointer for messages.
fn render_value(
    renderer: &Renderer,
    template: &Value,
    data: &Value,
    at: &mut String,
) -> Result<Value, String> {
    match template {
        Value::String(s) => {
            let argument = single_json_argument(s);
            if let Some(path) = argument.filter(|a| is_plain_path(a)) {
                // Strict mode does not reach helper arguments: `{{json vars.typo}}` would
                // send `null`. Rendering the bare path makes a missing variable an error.
                renderer
                    .render(&format!("{{{{{path}}}}}"), data)
                    .map_err(|e| format!("http.body at `{}`: {e}", location(at)))?;
            }
            let rendered = renderer
                .render(s, data)
                .map_err(|e| format!("http.body at `{}`: {e}", location(at)))?;
            if argument.is_some() {
                serde_json::from_str(&rendered).map_err(|e| {
                    format!(
                        "http.body at `{}`: `{{{{json …}}}}` did not give JSON ({e})",
                        location(at)
                    )
                })
            } else {
                Ok(Value::String(rendered))
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                push_token(at, &i.to_string());
                out.push(render_value(renderer, item, data, at)?);
                at.truncate(len);
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let len = at.len();
                push_token(at, key);
                out.insert(key.clone(), render_value(renderer, item, data, at)?);
                at.truncate(len);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Why a pointer found nothing: the deepest part of it that does resolve and what is there
/// (its type only: the response may hold anything).
fn unresolved(value: &Value, pointer: &str) -> String {
    let mut prefix = String::new();
    let mut current = value;
    for token in pointer.split('/').skip(1) {
        let mut next = prefix.clone();
        next.push('/');
        next.push_str(token);
        match value.pointer(&next) {
            Some(found) => {
                prefix = next;
                current = found;
            }
            None => {
                let shown = token.replace("~1", "/").replace("~0", "~");
                let what = match current {
                    Value::Object(_) => format!("an object without `{shown}`"),
                    Value::Array(items) if items.len() == 1 => {
                        format!("an array of 1 item, no index `{shown}`")
                    }
                    Value::Array(items) => {
                        format!("an array of {} items, no index `{shown}`", items.len())
                    }
                    other => json_type(other).to_owned(),
                };
                return format!("`{}` is {what}", location(&prefix));
            }
        }
    }
    "it resolves".into()
}

/// The configured pointers, applied to the response.
fn extract(value: &Value, map: &HttpResponseMap, meta: &Meta) -> Result<Reply, Failure> {
    let fail = |name: &str, pointer: &str, problem: String| {
        meta.failure(
            ErrorClass::MalformedResponse,
            format!(
                "response from {}: pointer `{pointer}` (response.{name}) {problem}",
                meta.url
            ),
        )
    };
    let text = match value.pointer(&map.text) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(fail(
                "text",
                &map.text,
                format!("found {}, expected a string", json_type(other)),
            ));
        }
        None => {
            return Err(fail(
                "text",
                &map.text,
                format!("does not resolve: {}", unresolved(value, &map.text)),
            ));
        }
    };
    let mut context = Vec::new();
    if let Some(pointer) = &map.context {
        let items = match value.pointer(pointer) {
            Some(Value::Array(items)) => items.as_slice(),
            // No passages retrieved.
            Some(Value::Null) => &[],
            Some(other) => {
                return Err(fail(
                    "context",
                    pointer,
                    format!("found {}, expected an array", json_type(other)),
                ));
            }
            None => {
                return Err(fail(
                    "context",
                    pointer,
                    format!("does not resolve: {}", unresolved(value, pointer)),
                ));
            }
        };
        for (i, item) in items.iter().enumerate() {
            let passage = match (item, &map.context_item) {
                (Value::String(s), _) => s,
                (_, Some(inner)) => match item.pointer(inner) {
                    Some(Value::String(s)) => s,
                    found => {
                        let what = found.map_or("nothing", json_type);
                        return Err(fail(
                            "context_item",
                            inner,
                            format!("found {what} in context item {i}, expected a string"),
                        ));
                    }
                },
                (other, None) => {
                    return Err(fail(
                        "context",
                        pointer,
                        format!(
                            "holds {} at index {i}; set response.context_item to the pointer \
                             of its text (e.g. `/text`)",
                            json_type(other)
                        ),
                    ));
                }
            };
            context.push(passage.clone());
        }
    }
    let count = |name: &str, pointer: &Option<String>| -> Result<Option<u64>, Failure> {
        let Some(pointer) = pointer else {
            return Ok(None);
        };
        match value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(fail(
                name,
                pointer,
                format!("found {}, expected a whole number", json_type(other)),
            )),
        }
    };
    let string = |name: &str, pointer: &Option<String>| -> Result<Option<String>, Failure> {
        let Some(pointer) = pointer else {
            return Ok(None);
        };
        match value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(fail(
                name,
                pointer,
                format!("found {}, expected a string", json_type(other)),
            )),
        }
    };
    server_components(value, &map.timings, fail)?;
    let reply = Reply {
        text,
        first_token_at: Some(meta.headers_at),
        completed_at: None,
        input_tokens: count("input_tokens", &map.input_tokens)?,
        output_tokens: count("output_tokens", &map.output_tokens)?,
        finish_reason: string("finish_reason", &map.finish_reason)?,
        model: string("model", &map.model)?,
        system_fingerprint: None,
        request_id: meta.request_id.clone(),
        http_status: meta.status,
        context,
    };
    if reply.finish_reason.as_deref() == Some("content_filter") {
        let mut failure = meta.failure(
            ErrorClass::ContentFilter,
            format!(
                "{} withheld the answer (finish_reason content_filter)",
                meta.url
            ),
        );
        failure.first_token_at = reply.first_token_at;
        if !reply.text.is_empty() {
            failure.partial_text = Some(reply.text);
        }
        return Err(failure);
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn meta() -> Meta {
        Meta {
            status: 200,
            request_id: None,
            headers_at: Instant::now(),
            content_type: Some("application/json".into()),
            url: "http://h/rag".into(),
        }
    }

    fn map(text: &str) -> HttpResponseMap {
        HttpResponseMap {
            text: text.into(),
            context: None,
            context_item: None,
            input_tokens: None,
            output_tokens: None,
            finish_reason: None,
            model: None,
            timings: Default::default(),
        }
    }

    #[test]
    fn json_leaves_insert_values_and_others_render_strings() {
        let data = json!({"prompt": "hi \"you\"", "vars": {"k": [1, 2]}, "n": 3});
        let template = json!({
            "q": "{{prompt}}", "k": "{{json vars.k}}", "spaced": "  {{ json vars }}  ",
            "text": "k={{json vars.k}}", "list": ["{{n}}", 7, null], "a/b": {"~": "{{json n}}"}
        });
        let body = render_value(&Renderer::default(), &template, &data, &mut String::new());
        assert_eq!(
            body.unwrap(),
            json!({"q": "hi \"you\"", "k": [1, 2], "spaced": {"k": [1, 2]}, "text": "k=[1,2]",
                "list": ["3", 7, null], "a/b": {"~": 3}})
        );
        let err = render_value(
            &Renderer::default(),
            &json!({"x": ["{{vars.missing}}"]}),
            &data,
            &mut String::new(),
        )
        .unwrap_err();
        assert!(
            err.starts_with("http.body at `/x/0`: undefined template variable"),
            "{err}"
        );
        // The `json` helper itself lets a missing variable through as `null`.
        let err = render_value(
            &Renderer::default(),
            &json!({"x": "{{json vars.typo}}"}),
            &data,
            &mut String::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "http.body at `/x`: undefined template variable `vars.typo`"
        );
    }

    #[test]
    fn single_json_argument_detection() {
        assert_eq!(single_json_argument("{{json x}}"), Some("x"));
        assert_eq!(single_json_argument(" {{ json  x.y }} "), Some("x.y"));
        assert_eq!(single_json_argument("{{jsonx}}"), None);
        assert_eq!(single_json_argument("{{json x}} {{json y}}"), None);
        assert_eq!(single_json_argument("a {{json x}}"), None);
        assert_eq!(single_json_argument("{{x}}"), None);
        assert!(is_plain_path("vars.tags") && is_plain_path("messages.[0]"));
        assert!(!is_plain_path("\"text\"") && !is_plain_path("3") && !is_plain_path("null"));
    }

    #[test]
    fn template_syntax_and_pointer_shape_are_checked_when_built() {
        let err = check_templates(&json!({"a": ["{{#if x}}"]}), &mut String::new()).unwrap_err();
        assert!(
            err.starts_with("http.body at `/a/0`: template syntax"),
            "{err}"
        );
        assert!(
            check_pointers(&map("answer"))
                .unwrap_err()
                .contains("`/answer`")
        );
        assert!(check_pointers(&map("/answer")).is_ok());
    }

    #[test]
    fn pointer_failures_say_where_and_what_type_never_the_content() {
        let v = json!({"data": {"answer": 42, "list": ["secret passage"]}});
        let f = extract(&v, &map("/data/answer"), &meta()).unwrap_err();
        assert_eq!(f.class, ErrorClass::MalformedResponse);
        assert!(f.message.contains("`/data/answer`") && f.message.contains("found a number"));
        let f = extract(&v, &map("/data/reply/text"), &meta()).unwrap_err();
        assert!(
            f.message.contains("`/data` is an object without `reply`"),
            "{}",
            f.message
        );
        let f = extract(&v, &map("/data/list/3"), &meta()).unwrap_err();
        assert!(
            f.message.contains("array of 1 item, no index `3`"),
            "{}",
            f.message
        );
        let f = extract(&v, &map("/data/list/0/x"), &meta()).unwrap_err();
        assert!(
            f.message.contains("`/data/list/0` is a string"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("secret passage"));
    }

    #[test]
    fn context_strings_objects_and_metadata() {
        let v = json!({"a": "ok", "ctx": [{"doc": {"t": "p1"}}, "p2"], "u": {"in": 3, "out": "x"}});
        let mut m = map("/a");
        m.context = Some("/ctx".into());
        m.context_item = Some("/doc/t".into());
        m.input_tokens = Some("/u/in".into());
        m.model = Some("/nope".into());
        let r = extract(&v, &m, &meta()).unwrap();
        assert_eq!(r.context, vec!["p1", "p2"]);
        assert_eq!((r.input_tokens, r.model), (Some(3), None));
        m.output_tokens = Some("/u/out".into());
        assert!(
            extract(&v, &m, &meta())
                .unwrap_err()
                .message
                .contains("whole number")
        );
        m.context_item = None;
        m.output_tokens = None;
        let f = extract(&v, &m, &meta()).unwrap_err();
        assert!(f.message.contains("context_item"), "{}", f.message);
    }
}
