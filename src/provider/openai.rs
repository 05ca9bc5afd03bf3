//! OpenAI-compatible chat completions (streaming and not) and embeddings.
//!
//! "Compatible" covers OpenAI itself, Azure-style gateways, vLLM, Ollama, LiteLLM and the
//! like, so parsing is strict only where the answer depends on it (`choices[0].message`)
//! and lenient elsewhere (a missing `usage` or `model` is just unknown).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::classify::{self, describe_keys, json_type, with_partial};
use super::transport::{Address, Meta, Sent, Transport, check_url};
use super::{ChatRequest, Embeddings, ErrorClass, Failure, ProviderError, Reply};
use crate::config::{Secret, Target};
use crate::golden::Message;

/// The embeddings model when the target names none: OpenAI's cheapest.
const DEFAULT_EMBEDDINGS_MODEL: &str = "text-embedding-3-small";

#[derive(Debug, Clone)]
pub struct OpenAi {
    transport: Transport,
    chat_url: Address,
    embeddings_url: Address,
    model: String,
    stream: bool,
    params: Map<String, Value>,
    embeddings_model: String,
}

impl OpenAi {
    /// `hide`: more values its messages must not show (the probe's secrets, such as a
    /// `${VAR}` in the URL's path), besides the key and header values.
    pub fn new(target: &Target, timeout: Duration, hide: &[Secret]) -> Result<Self, ProviderError> {
        let base = target.base_url.trim_end_matches('/');
        let chat_url = check_url(target, &format!("{base}/chat/completions"))?;
        let embeddings_url = check_url(target, &format!("{base}/embeddings"))?;
        let auth = target
            .api_key
            .as_ref()
            .filter(|k| !k.expose().is_empty())
            .map(|k| ("authorization", format!("Bearer {}", k.expose())));
        Ok(OpenAi {
            transport: Transport::new(target, timeout, auth)?.also_hide(hide),
            embeddings_url,
            chat_url,
            model: target.model.clone(),
            stream: target.stream,
            params: target.params.clone(),
            embeddings_model: target
                .embeddings_model
                .clone()
                .unwrap_or_else(|| DEFAULT_EMBEDDINGS_MODEL.to_owned()),
        })
    }

    pub async fn chat(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        self.chat_inner(request)
            .await
            .map_err(|f| self.transport.scrub(f))
    }

    async fn chat_inner(&self, request: &ChatRequest<'_>) -> Result<Reply, Failure> {
        let body = chat_body(&self.model, request.messages, self.stream, &self.params);
        let builder = self
            .transport
            .request(Method::POST, &self.chat_url)
            .headers(request.headers.clone())
            .json(&body);
        let sent = self.transport.send(builder, &self.chat_url).await?;
        // A gateway may ignore `stream: true` and answer with plain JSON; read what came.
        if self.stream && !sent.meta.is_json() {
            self.read_stream(sent).await
        } else {
            let (value, meta) = self.transport.read_json(sent).await?;
            parse_completion(&value, &meta)
        }
    }

    async fn read_stream(&self, sent: Sent) -> Result<Reply, Failure> {
        let mut events = sent.events();
        let mut state = StreamState::default();
        let mut done = false;
        loop {
            let event = match events.next().await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(f) => return Err(state.fail(f)),
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                done = true;
                // Stop here: a server may keep the connection open after `[DONE]`.
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Value = match serde_json::from_str(data) {
                Ok(chunk) => chunk,
                Err(e) => {
                    let failure = events.meta.failure(
                        ErrorClass::MalformedResponse,
                        format!(
                            "stream from {} sent an event that is not JSON ({e}): {}",
                            events.meta.url,
                            self.transport.snippet(data.as_bytes(), false)
                        ),
                    );
                    return Err(state.fail(failure));
                }
            };
            if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
                return Err(state.fail(error_failure(&events.meta, error)));
            }
            if event.event.as_deref() == Some("error") {
                return Err(state.fail(error_failure(&events.meta, &chunk)));
            }
            let before = state.text.len();
            state.apply(&chunk);
            if state.text.len() > before {
                // A chunk that carried content: its arrival times the inter-token gaps.
                crate::runner::timings::token_arrived();
            }
        }
        // Complete only when every choice the stream opened got its finish_reason: servers
        // that omit `[DONE]` still end a complete answer with one, and a server that ends a
        // stream early (llama-cpp-python, when a second request arrives) sends `[DONE]` after
        // the role chunk alone. `[DONE]` by itself proves nothing.
        if !state.complete() {
            let failure = if done {
                events.interrupted("sent `data: [DONE]` before every choice had a finish_reason")
            } else {
                events.ended_early("`data: [DONE]` or a finish_reason")
            };
            return Err(state.fail(failure));
        }
        let meta = events.meta.clone();
        let completed_at = Instant::now();
        if done {
            events.drain().await;
        }
        let reply = Reply {
            text: state.text,
            first_token_at: state.first_token_at,
            completed_at: Some(completed_at),
            input_tokens: state.input_tokens,
            output_tokens: state.output_tokens,
            finish_reason: state.finish_reason,
            model: state.model,
            system_fingerprint: state.system_fingerprint,
            request_id: meta.request_id.clone(),
            http_status: meta.status,
            context: Vec::new(),
        };
        content_filter_check(reply, &meta)
    }

    pub async fn embed(&self, texts: &[String]) -> Result<Embeddings, Failure> {
        let body = json!({ "model": self.embeddings_model, "input": texts });
        let builder = self
            .transport
            .request(Method::POST, &self.embeddings_url)
            .json(&body);
        let result = async {
            let sent = self.transport.send(builder, &self.embeddings_url).await?;
            let (value, meta) = self.transport.read_json(sent).await?;
            parse_embeddings(&value, texts.len(), &meta)
        }
        .await;
        result.map_err(|f| self.transport.scrub(f))
    }
}

/// `{model, messages, stream, ...params}`; the target's params cannot replace the model,
/// messages or stream flag, which are what the probe is about.
fn chat_body(
    model: &str,
    messages: &[Message],
    stream: bool,
    params: &Map<String, Value>,
) -> Value {
    let mut body = params.clone();
    body.insert("model".into(), Value::String(model.to_owned()));
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .iter()
                .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
                .collect(),
        ),
    );
    body.insert("stream".into(), Value::Bool(stream));
    if stream {
        // Without it a streamed answer carries no token counts, and cost is unknown.
        let options = body
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        match options.as_object_mut() {
            Some(options) => {
                options.insert("include_usage".into(), Value::Bool(true));
            }
            None => *options = json!({ "include_usage": true }),
        }
    } else {
        body.remove("stream_options");
    }
    Value::Object(body)
}

/// A non-streamed chat completion.
fn parse_completion(value: &Value, meta: &Meta) -> Result<Reply, Failure> {
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(error_failure(meta, error));
    }
    let malformed = |what: String| {
        meta.failure(
            ErrorClass::MalformedResponse,
            format!("response from {} {what}", meta.url),
        )
    };
    let choices = match value.get("choices") {
        Some(Value::Array(choices)) => choices,
        Some(other) => {
            return Err(malformed(format!(
                "has `choices` as {}, expected an array",
                json_type(other)
            )));
        }
        None => {
            return Err(malformed(format!(
                "has no `choices` (found {})",
                describe_keys(value)
            )));
        }
    };
    let Some(choice) = choices.first() else {
        return Err(malformed("has an empty `choices` array".into()));
    };
    let Some(message) = choice.get("message").filter(|m| m.is_object()) else {
        return Err(malformed("has no `choices[0].message` object".into()));
    };
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // Some servers send content parts; the text parts are the answer.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        // A refusal (structured outputs) or a tool call has no content.
        None | Some(Value::Null) => message
            .get("refusal")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(other) => {
            return Err(malformed(format!(
                "has `choices[0].message.content` as {}, expected a string",
                json_type(other)
            )));
        }
    };
    let usage = value.get("usage");
    let reply = Reply {
        text,
        first_token_at: Some(meta.headers_at),
        completed_at: None,
        input_tokens: usage
            .and_then(|u| u.get("prompt_tokens"))
            .and_then(Value::as_u64),
        output_tokens: usage
            .and_then(|u| u.get("completion_tokens"))
            .and_then(Value::as_u64),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        model: value
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned),
        system_fingerprint: fingerprint(value),
        request_id: meta.request_id.clone(),
        http_status: meta.status,
        context: Vec::new(),
    };
    content_filter_check(reply, meta)
}

/// `system_fingerprint` of a completion or chunk, when the endpoint sends one.
fn fingerprint(value: &Value) -> Option<String> {
    value
        .get("system_fingerprint")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
}

/// A withheld answer is a failure of its own class, keeping whatever text came before.
fn content_filter_check(reply: Reply, meta: &Meta) -> Result<Reply, Failure> {
    if reply.finish_reason.as_deref() != Some("content_filter") {
        return Ok(reply);
    }
    let failure = meta.failure(
        ErrorClass::ContentFilter,
        format!(
            "{} withheld the answer (finish_reason content_filter)",
            meta.url
        ),
    );
    Err(with_partial(failure, &reply.text, reply.first_token_at))
}

/// An `{"error": {...}}` the server sent with a 2xx status, classified like the status its
/// `code` (or `type`) stands for.
fn error_failure(meta: &Meta, error: &Value) -> Failure {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or_default();
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| error.get("code").and_then(Value::as_str))
        .unwrap_or_default();
    let numeric = ["code", "status"]
        .iter()
        .filter_map(|k| error.get(*k).and_then(Value::as_u64))
        .find(|c| (400..=599).contains(c));
    let status = match numeric {
        Some(code) => code as u16,
        None if kind.contains("rate_limit") || kind.contains("quota") => 429,
        None if [
            "invalid_request",
            "authentication",
            "permission",
            "not_found",
        ]
        .iter()
        .any(|k| kind.contains(k)) =>
        {
            400
        }
        None => 500,
    };
    classify::in_stream_failure(meta, status, kind, message)
}

/// What a stream has delivered so far.
#[derive(Default)]
struct StreamState {
    /// Indices of the choices that appeared in the stream, and of those that finished.
    opened: std::collections::BTreeSet<u64>,
    finished: std::collections::BTreeSet<u64>,
    text: String,
    first_token_at: Option<Instant>,
    finish_reason: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    model: Option<String>,
    system_fingerprint: Option<String>,
}

impl StreamState {
    fn apply(&mut self, chunk: &Value) {
        if self.model.is_none() {
            self.model = chunk
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
        }
        if self.system_fingerprint.is_none() {
            self.system_fingerprint = fingerprint(chunk);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.input_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
            self.output_tokens = usage.get("completion_tokens").and_then(Value::as_u64);
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            self.opened.insert(index);
            if choice.get("finish_reason").is_some_and(Value::is_string) {
                self.finished.insert(index);
            }
        }
        // With `n > 1` the answer is choice 0; the others are not what a case asked for.
        let first = choices
            .into_iter()
            .flatten()
            .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
        let Some(choice) = first else { return };
        if let Some(delta) = choice.get("delta") {
            for field in ["content", "refusal"] {
                if let Some(piece) = delta.get(field).and_then(Value::as_str) {
                    if !piece.is_empty() {
                        // The role-only first chunk has no content: it is not a token.
                        self.first_token_at.get_or_insert_with(Instant::now);
                        self.text.push_str(piece);
                    }
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    /// Every choice the stream opened got a finish_reason (and it opened at least one).
    fn complete(&self) -> bool {
        !self.opened.is_empty() && self.opened.is_subset(&self.finished)
    }

    fn fail(&self, failure: Failure) -> Failure {
        with_partial(failure, &self.text, self.first_token_at)
    }
}

/// `data[i].embedding` in index order, checked against the number of inputs.
fn parse_embeddings(value: &Value, inputs: usize, meta: &Meta) -> Result<Embeddings, Failure> {
    let malformed = |what: String| {
        meta.failure(
            ErrorClass::MalformedResponse,
            format!("embeddings response from {} {what}", meta.url),
        )
    };
    let Some(data) = value.get("data").and_then(Value::as_array) else {
        return Err(malformed(format!(
            "has no `data` array (found {})",
            describe_keys(value)
        )));
    };
    if data.len() != inputs {
        return Err(malformed(format!(
            "has {} vectors for {inputs} inputs",
            data.len()
        )));
    }
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs];
    for (position, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(position, |i| usize::try_from(i).unwrap_or(usize::MAX));
        let embedding = match item.get("embedding") {
            Some(Value::Array(numbers)) => numbers
                .iter()
                .map(|n| n.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| {
                    malformed(format!("has a non-number in `data[{position}].embedding`"))
                })?,
            Some(other) => {
                return Err(malformed(format!(
                    "has `data[{position}].embedding` as {}, expected an array of numbers",
                    json_type(other)
                )));
            }
            None => return Err(malformed(format!("has no `data[{position}].embedding`"))),
        };
        match vectors.get_mut(index) {
            Some(slot @ None) => *slot = Some(embedding),
            _ => {
                return Err(malformed(format!(
                    "has a missing or repeated index {index}"
                )));
            }
        }
    }
    Ok(Embeddings {
        vectors: vectors.into_iter().flatten().collect(),
        input_tokens: value
            .get("usage")
            .and_then(|u| u.get("prompt_tokens"))
            .and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::Role;

    fn meta() -> Meta {
        Meta {
            status: 200,
            request_id: Some("req-1".into()),
            headers_at: Instant::now(),
            content_type: Some("application/json".into()),
            url: "http://h/v1/chat/completions".into(),
        }
    }

    #[test]
    fn params_cannot_replace_model_messages_or_stream() {
        let params: Map<String, Value> = serde_json::from_value(json!({
            "model": "other", "stream": false, "temperature": 0.2,
            "stream_options": { "foo": 1 }
        }))
        .unwrap();
        let messages = [Message {
            role: Role::User,
            content: "hi".into(),
        }];
        let body = chat_body("m", &messages, true, &params);
        assert_eq!(
            body,
            json!({
                "model": "m", "stream": true, "temperature": 0.2,
                "messages": [{ "role": "user", "content": "hi" }],
                "stream_options": { "foo": 1, "include_usage": true }
            })
        );
        assert!(
            chat_body("m", &messages, false, &params)
                .get("stream_options")
                .is_none()
        );
    }

    #[test]
    fn completion_content_refusal_and_errors() {
        let ok = json!({"model": "m1", "choices": [{"message": {"content": null, "refusal": "I can't"},
            "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}});
        let reply = parse_completion(&ok, &meta()).unwrap();
        assert_eq!(reply.text, "I can't");
        assert_eq!(
            (reply.input_tokens, reply.output_tokens),
            (Some(3), Some(2))
        );

        let bad = json!({"choices": [{"message": {"content": 5}}]});
        let f = parse_completion(&bad, &meta()).unwrap_err();
        assert_eq!(f.class, ErrorClass::MalformedResponse);
        assert!(f.message.contains("a number"), "{}", f.message);

        let err = json!({"error": {"message": "slow down", "type": "rate_limit_exceeded"}});
        let f = parse_completion(&err, &meta()).unwrap_err();
        assert_eq!((f.class, f.http_status), (ErrorClass::Http429, Some(429)));
        let err = json!({"error": {"message": "bad", "type": "BadRequestError", "code": 400}});
        assert_eq!(
            parse_completion(&err, &meta()).unwrap_err().class,
            ErrorClass::Http4xx
        );
    }

    #[test]
    fn stream_state_ignores_role_chunk_and_other_choices() {
        let mut s = StreamState::default();
        s.apply(&json!({"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}));
        assert!(s.first_token_at.is_none());
        s.apply(&json!({"choices": [{"index": 1, "delta": {"content": "no"}}, {"index": 0, "delta": {"content": "yes"}}]}));
        s.apply(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}], "usage": null}));
        s.apply(&json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 4}}));
        assert_eq!(s.text, "yes");
        assert!(s.first_token_at.is_some());
        assert_eq!(s.finish_reason.as_deref(), Some("length"));
        assert_eq!((s.input_tokens, s.output_tokens), (Some(1), Some(4)));
        assert_eq!(s.model.as_deref(), Some("m"));
    }

    #[test]
    fn embeddings_in_index_order_and_checked() {
        let v = json!({"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0, 0.5]}],
            "usage": {"prompt_tokens": 7}});
        let e = parse_embeddings(&v, 2, &meta()).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0, 0.5], vec![2.0]]);
        assert_eq!(e.input_tokens, Some(7));
        assert!(parse_embeddings(&v, 3, &meta()).is_err());
        let dup =
            json!({"data": [{"index": 0, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]});
        assert!(parse_embeddings(&dup, 2, &meta()).is_err());
        let far = json!({"data": [{"index": 99, "embedding": [2.0]}]});
        assert!(parse_embeddings(&far, 1, &meta()).is_err());
    }
}
