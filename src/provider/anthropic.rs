//! The Anthropic Messages API, streaming and not.
//!
//! Answers are reported in the OpenAI vocabulary (`stop`, `length`, `content_filter`) so
//! that scores and summaries compare targets of either kind without translating.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::classify::{self, describe_keys, json_type, with_partial};
use super::transport::{Address, Meta, Sent, Transport, check_url};
use super::{ChatRequest, ErrorClass, Failure, ProviderError, Reply};
use crate::config::{Secret, Target};
use crate::golden::{Message, Role};

/// The API version the request and response shapes here follow.
const API_VERSION: &str = "2023-06-01";
/// The API requires `max_tokens`; this is used when the target's params do not set it.
const DEFAULT_MAX_TOKENS: u64 = 1024;

#[derive(Debug, Clone)]
pub struct Anthropic {
    transport: Transport,
    url: Address,
    model: String,
    stream: bool,
    params: Map<String, Value>,
    /// False when the target's headers pin their own `anthropic-version` (a beta, say).
    send_version: bool,
}

impl Anthropic {
    /// `hide`: more values its messages must not show (the probe's secrets, such as a
    /// `${VAR}` in the URL's path), besides the key and header values.
    pub fn new(target: &Target, timeout: Duration, hide: &[Secret]) -> Result<Self, ProviderError> {
        let url = check_url(
            target,
            &format!("{}/messages", target.base_url.trim_end_matches('/')),
        )?;
        let auth = target
            .api_key
            .as_ref()
            .filter(|k| !k.expose().is_empty())
            .map(|k| ("x-api-key", k.expose().to_owned()));
        Ok(Anthropic {
            transport: Transport::new(target, timeout, auth)?.also_hide(hide),
            url,
            model: target.model.clone(),
            stream: target.stream,
            params: target.params.clone(),
            send_version: !target
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("anthropic-version")),
        })
    }

    pub async fn chat(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        self.chat_inner(request)
            .await
            .map_err(|f| self.transport.scrub(f))
    }

    async fn chat_inner(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        let body = messages_body(&self.model, request.messages, self.stream, &self.params);
        let mut builder = self.transport.request(Method::POST, &self.url);
        if self.send_version {
            builder = builder.header("anthropic-version", API_VERSION);
        }
        let builder = builder.headers(request.headers.clone()).json(&body);
        let sent = self.transport.send(builder, &self.url).await?;
        if self.stream && !sent.meta.is_json() {
            self.read_stream(sent).await
        } else {
            let (value, meta) = self.transport.read_json(sent).await?;
            parse_message(&value, &meta)
        }
    }

    async fn read_stream(&self, sent: Sent) -> Result<Reply, Failure> {
        let mut events = sent.events();
        let mut state = StreamState::default();
        loop {
            let event = match events.next().await {
                Ok(Some(event)) => event,
                Ok(None) => return Err(state.fail(events.ended_early("`message_stop`"))),
                Err(f) => return Err(state.fail(f)),
            };
            if event.data.trim().is_empty() {
                continue;
            }
            let data: Value = match serde_json::from_str(&event.data) {
                Ok(data) => data,
                Err(e) => {
                    let failure = events.meta.failure(
                        ErrorClass::MalformedResponse,
                        format!(
                            "stream from {} sent an event that is not JSON ({e}): {}",
                            events.meta.url,
                            self.transport.snippet(event.data.as_bytes(), false)
                        ),
                    );
                    return Err(state.fail(failure));
                }
            };
            // The payload's `type` is authoritative; the SSE event name repeats it.
            let kind = data
                .get("type")
                .and_then(Value::as_str)
                .or(event.event.as_deref())
                .unwrap_or_default();
            match kind {
                "message_start" => {
                    let message = data.get("message");
                    let field = |name: &str| message.and_then(|m| m.get(name));
                    state.model = field("model").and_then(Value::as_str).map(str::to_owned);
                    state.message_id = field("id").and_then(Value::as_str).map(str::to_owned);
                    state.input_tokens = field("usage")
                        .and_then(|u| u.get("input_tokens"))
                        .and_then(Value::as_u64);
                }
                "content_block_start" => {
                    if let Some(block) = data.get("content_block") {
                        if block.get("type").and_then(Value::as_str) == Some("text") {
                            state.push(block.get("text").and_then(Value::as_str));
                        }
                    }
                }
                "content_block_delta" => {
                    let delta = data.get("delta");
                    // Thinking, signature and tool-input deltas are not the answer's text.
                    if delta.and_then(|d| d.get("type")).and_then(Value::as_str)
                        == Some("text_delta")
                    {
                        state.push(delta.and_then(|d| d.get("text")).and_then(Value::as_str));
                    }
                }
                "message_delta" => {
                    if let Some(reason) = data
                        .get("delta")
                        .and_then(|d| d.get("stop_reason"))
                        .and_then(Value::as_str)
                    {
                        state.stop_reason = Some(reason.to_owned());
                    }
                    if let Some(usage) = data.get("usage") {
                        // Counts here are cumulative, so the last one wins.
                        if let Some(n) = usage.get("output_tokens").and_then(Value::as_u64) {
                            state.output_tokens = Some(n);
                        }
                        if let Some(n) = usage.get("input_tokens").and_then(Value::as_u64) {
                            state.input_tokens = Some(n);
                        }
                    }
                }
                // A stop without a `stop_reason` is a stream the server gave up on.
                "message_stop" if state.stop_reason.is_some() => break,
                "message_stop" => {
                    return Err(
                        state.fail(events.interrupted("sent `message_stop` without a stop_reason"))
                    );
                }
                "error" => {
                    let error = data.get("error").unwrap_or(&data);
                    return Err(state.fail(error_failure(&events.meta, error)));
                }
                // `ping`, `content_block_stop`, and event types added after this was
                // written (the API's versioning policy allows new ones).
                _ => {}
            }
        }
        let meta = events.meta.clone();
        let completed_at = Instant::now();
        events.drain().await;
        let reply = Reply {
            text: state.text,
            first_token_at: state.first_token_at,
            completed_at: Some(completed_at),
            input_tokens: state.input_tokens,
            output_tokens: state.output_tokens,
            finish_reason: state.stop_reason.map(|r| normalise_stop_reason(&r)),
            model: state.model,
            system_fingerprint: None,
            request_id: meta.request_id.clone().or(state.message_id),
            http_status: meta.status,
            context: Vec::new(),
        };
        content_filter_check(reply, &meta)
    }
}

/// `{model, max_tokens, system, messages, stream, ...params}`; system messages go to the
/// top-level `system` field because the API accepts only user and assistant turns.
fn messages_body(
    model: &str,
    messages: &[Message],
    stream: bool,
    params: &Map<String, Value>,
) -> Value {
    let mut body = params.clone();
    body.insert("model".into(), Value::String(model.to_owned()));
    body.entry("max_tokens")
        .or_insert_with(|| Value::from(DEFAULT_MAX_TOKENS));
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), Value::String(system.join("\n\n")));
    }
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .iter()
                .filter(|m| m.role != Role::System)
                .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
                .collect(),
        ),
    );
    body.insert("stream".into(), Value::Bool(stream));
    Value::Object(body)
}

/// A non-streamed message.
fn parse_message(value: &Value, meta: &Meta) -> Result<Reply, Failure> {
    if value.get("type").and_then(Value::as_str) == Some("error") {
        let error = value.get("error").unwrap_or(value);
        return Err(error_failure(meta, error));
    }
    let malformed = |what: String| {
        meta.failure(
            ErrorClass::MalformedResponse,
            format!("response from {} {what}", meta.url),
        )
    };
    let blocks = match value.get("content") {
        Some(Value::Array(blocks)) => blocks,
        Some(other) => {
            return Err(malformed(format!(
                "has `content` as {}, expected an array",
                json_type(other)
            )));
        }
        None => {
            return Err(malformed(format!(
                "has no `content` (found {})",
                describe_keys(value)
            )));
        }
    };
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let usage = value.get("usage");
    let count = |name: &str| usage.and_then(|u| u.get(name)).and_then(Value::as_u64);
    let reply = Reply {
        text,
        first_token_at: Some(meta.headers_at),
        completed_at: None,
        input_tokens: count("input_tokens"),
        output_tokens: count("output_tokens"),
        finish_reason: value
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(normalise_stop_reason),
        model: value
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned),
        system_fingerprint: None,
        request_id: meta
            .request_id
            .clone()
            .or_else(|| value.get("id").and_then(Value::as_str).map(str::to_owned)),
        http_status: meta.status,
        context: Vec::new(),
    };
    content_filter_check(reply, meta)
}

/// Anthropic's stop reasons in the OpenAI vocabulary; unknown ones are kept as sent.
fn normalise_stop_reason(reason: &str) -> String {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "refusal" => "content_filter",
        other => other,
    }
    .to_owned()
}

fn content_filter_check(reply: Reply, meta: &Meta) -> Result<Reply, Failure> {
    if reply.finish_reason.as_deref() != Some("content_filter") {
        return Ok(reply);
    }
    let failure = meta.failure(
        ErrorClass::ContentFilter,
        format!("{} refused to answer (stop_reason refusal)", meta.url),
    );
    Err(with_partial(failure, &reply.text, reply.first_token_at))
}

/// An error event (or a 2xx error body), classified like the status Anthropic documents
/// for its type: an overloaded API is a 529, a rate limit a 429.
fn error_failure(meta: &Meta, error: &Value) -> Failure {
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    classify::in_stream_failure(meta, status, kind, message)
}

/// What a stream has delivered so far.
#[derive(Default)]
struct StreamState {
    text: String,
    first_token_at: Option<Instant>,
    stop_reason: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    model: Option<String>,
    message_id: Option<String>,
}

impl StreamState {
    fn push(&mut self, piece: Option<&str>) {
        if let Some(piece) = piece.filter(|p| !p.is_empty()) {
            self.first_token_at.get_or_insert_with(Instant::now);
            // Each text event is one chunk of tokens: its arrival times the gaps.
            crate::runner::timings::token_arrived();
            self.text.push_str(piece);
        }
    }

    fn fail(&self, failure: Failure) -> Failure {
        with_partial(failure, &self.text, self.first_token_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            status: 200,
            request_id: None,
            headers_at: Instant::now(),
            content_type: Some("application/json".into()),
            url: "http://h/v1/messages".into(),
        }
    }

    #[test]
    fn body_moves_system_out_and_defaults_max_tokens() {
        let messages = [
            Message {
                role: Role::System,
                content: "a".into(),
            },
            Message {
                role: Role::User,
                content: "q".into(),
            },
            Message {
                role: Role::System,
                content: "b".into(),
            },
        ];
        let params: Map<String, Value> =
            serde_json::from_value(json!({"temperature": 0.1})).unwrap();
        assert_eq!(
            messages_body("m", &messages, false, &params),
            json!({"model": "m", "max_tokens": 1024, "system": "a\n\nb", "stream": false,
                "temperature": 0.1, "messages": [{"role": "user", "content": "q"}]})
        );
        let params: Map<String, Value> = serde_json::from_value(json!({"max_tokens": 5})).unwrap();
        let body = messages_body("m", &messages[1..2], true, &params);
        assert_eq!(body["max_tokens"], 5);
        assert!(body.get("system").is_none());
    }

    #[test]
    fn message_text_blocks_reasons_and_errors() {
        let v = json!({"id": "msg_1", "model": "claude", "stop_reason": "max_tokens",
            "content": [{"type": "text", "text": "a"}, {"type": "tool_use", "id": "t"},
                        {"type": "text", "text": "b"}],
            "usage": {"input_tokens": 4, "output_tokens": 2}});
        let r = parse_message(&v, &meta()).unwrap();
        assert_eq!(r.text, "ab");
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
        assert_eq!(r.request_id.as_deref(), Some("msg_1"));
        assert_eq!((r.input_tokens, r.output_tokens), (Some(4), Some(2)));

        let refusal = json!({"content": [], "stop_reason": "refusal"});
        assert_eq!(
            parse_message(&refusal, &meta()).unwrap_err().class,
            ErrorClass::ContentFilter
        );

        let err =
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}});
        let f = parse_message(&err, &meta()).unwrap_err();
        assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(529)));
        assert!(
            f.message.contains("overloaded_error: busy"),
            "{}",
            f.message
        );

        assert_eq!(normalise_stop_reason("pause_turn"), "pause_turn");
        assert_eq!(normalise_stop_reason("stop_sequence"), "stop");
    }
}
