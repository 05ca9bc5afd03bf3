//! The OpenAI-compatible surface: `POST /v1/chat/completions` (JSON and SSE chunks, with
//! the usage chunk of `stream_options.include_usage`), `POST /v1/embeddings`, the model
//! list and OpenAI's error shape.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::embed::{DIMENSIONS, shorten, to_base64};
use super::seed::StableHasher;
use super::server::{
    ChatCall, Content, Decision, Fault, Reply, SimState, cut_index, json_bytes, pieces,
    retry_after, sse_response, unix_now, with_id, wrong_key,
};
use super::server_timing::{planned_ms, timed_wait, with_server_timing};
use crate::golden::Role;

/// Model ids the simulator lists; any model name is accepted and echoed.
pub(crate) const MODELS: [&str; 2] = ["sim-1", "sim-1-mini"];

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": null, "code": null }
    });
    json_bytes(status, body.to_string().into_bytes())
}

fn error_with_code(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": null, "code": code }
    });
    json_bytes(status, body.to_string().into_bytes())
}

fn bad_request(state: &SimState, message: &str) -> Response {
    state.counters.bad_requests.fetch_add(1, Ordering::Relaxed);
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// OpenAI's answer to a wrong key (`--require-key`).
fn unauthorized() -> Response {
    error_with_code(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided (simulated: the simulator was started with --require-key).",
    )
}

fn unavailable(state: &SimState) -> Response {
    let mut resp = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "The server is overloaded (simulated). Please retry after the time in Retry-After.",
    );
    retry_after(&mut resp, &state.profile);
    resp
}

fn shutting_down() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "The simulator is shutting down.",
    )
}

#[derive(Deserialize)]
struct ChatBody<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<InMessage<'a>>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct InMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

/// A chat request as OpenAI's API checks it; the error text is what the 400 says.
fn parse_chat(body: &[u8]) -> Result<(ChatBody<'_>, ChatCall<'_>), String> {
    let mut req: ChatBody =
        serde_json::from_slice(body).map_err(|e| format!("Invalid request body: {e}"))?;
    if req.model.as_deref().is_none_or(str::is_empty) {
        return Err("you must provide a model parameter".into());
    }
    let Some(raw) = req.messages.take() else {
        return Err("Missing required parameter: 'messages'.".into());
    };
    if raw.is_empty() {
        return Err(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.".into(),
        );
    }
    let mut messages = Vec::with_capacity(raw.len());
    for (i, m) in raw.into_iter().enumerate() {
        let role = match m.role.as_ref() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            // Tool output is context, not the user's question.
            "assistant" | "tool" | "function" => Role::Assistant,
            other => {
                return Err(format!(
                    "Invalid value: '{other}'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'. (messages[{i}].role)"
                ));
            }
        };
        let text = m.content.map_or(Cow::Borrowed(""), Content::into_text);
        messages.push((role, text));
    }
    let max_tokens = match (req.max_tokens, req.max_completion_tokens) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let call = ChatCall {
        messages,
        stream: req.stream.unwrap_or(false),
        max_tokens,
    };
    Ok((req, call))
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = state.next_id();
    let c = &state.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.chat_completions.fetch_add(1, Ordering::Relaxed);
    if wrong_key(&state, &headers) {
        return with_id(unauthorized(), id);
    }
    let resp = match parse_chat(&body) {
        Err(message) => bad_request(&state, &message),
        Ok((req, call)) => {
            if call.stream {
                c.streams.fetch_add(1, Ordering::Relaxed);
            }
            let include_usage = req
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                .unwrap_or(false);
            let model = req.model.as_deref().unwrap_or_default();
            respond(&state, &call, model, include_usage, id).await
        }
    };
    with_id(resp, id)
}

async fn respond(
    state: &SimState,
    call: &ChatCall<'_>,
    model: &str,
    include_usage: bool,
    id: u64,
) -> Response {
    match state.decide(call) {
        Decision::RateLimited => {
            let mut resp = error_with_code(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached (simulated). Please retry after the time in Retry-After.",
            );
            retry_after(&mut resp, &state.profile);
            resp
        }
        Decision::Unavailable => unavailable(state),
        Decision::ServerError(delay) => {
            if !state.wait(delay).await {
                return shutting_down();
            }
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server had an error while processing your request (simulated).",
            )
        }
        Decision::Hang => {
            state.hang().await;
            shutting_down()
        }
        Decision::Malformed(delay) => {
            if !state.wait(delay).await {
                return shutting_down();
            }
            malformed(call.stream, model, id, state)
        }
        Decision::Answer(reply) if call.stream => with_server_timing(
            stream(state, &reply, model, include_usage, id),
            &[("generation", planned_ms(reply.end.max(reply.delay)))],
        ),
        Decision::Answer(reply) => {
            let Some(generation) = timed_wait(state, reply.delay).await else {
                return shutting_down();
            };
            with_server_timing(
                completion(
                    &reply,
                    model,
                    id,
                    state.profile.system_fingerprint.as_deref(),
                ),
                &[("generation", generation)],
            )
        }
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
    choices: [Choice<'a>; 1],
    usage: Usage,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: OutMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<()>,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl Usage {
    fn of(reply: &Reply) -> Usage {
        Usage {
            prompt_tokens: reply.input_tokens,
            completion_tokens: reply.output_tokens,
            total_tokens: reply.input_tokens + reply.output_tokens,
        }
    }
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.truncated { "length" } else { "stop" }
}

fn completion(reply: &Reply, model: &str, id: u64, fingerprint: Option<&str>) -> Response {
    let body = Completion {
        id: format!("chatcmpl-sim-{id}"),
        object: "chat.completion",
        created: unix_now(),
        model,
        system_fingerprint: fingerprint,
        choices: [Choice {
            index: 0,
            message: OutMessage {
                role: "assistant",
                content: &reply.text,
                refusal: None,
            },
            logprobs: None,
            finish_reason: finish_reason(reply),
        }],
        usage: Usage::of(reply),
    };
    json_bytes(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// The chunk framing shared by every frame of one stream: `data: {id, object, created,
/// model, choices: [` … `], usage: null}` (the `usage: null` only with include_usage).
struct Chunker {
    head: String,
    tail: &'static str,
}

impl Chunker {
    fn new(model: &str, id: u64, include_usage: bool, fingerprint: Option<&str>) -> Self {
        let model = serde_json::to_string(model).unwrap_or_else(|_| "\"\"".into());
        let fingerprint = fingerprint
            .and_then(|f| serde_json::to_string(f).ok())
            .map(|f| format!(",\"system_fingerprint\":{f}"))
            .unwrap_or_default();
        Chunker {
            head: format!(
                "data: {{\"id\":\"chatcmpl-sim-{id}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{model}{fingerprint},\"choices\":[",
                unix_now()
            ),
            tail: if include_usage {
                "],\"usage\":null}\n\n"
            } else {
                "]}\n\n"
            },
        }
    }

    /// One frame whose single choice is `choice` (already JSON).
    fn frame(&self, choice: &str) -> Bytes {
        let mut s = String::with_capacity(self.head.len() + choice.len() + self.tail.len());
        s.push_str(&self.head);
        s.push_str(choice);
        s.push_str(self.tail);
        Bytes::from(s)
    }

    fn content(&self, piece: &str) -> Bytes {
        let text = serde_json::to_string(piece).unwrap_or_else(|_| "\"\"".into());
        self.frame(&format!(
            "{{\"index\":0,\"delta\":{{\"content\":{text}}},\"logprobs\":null,\"finish_reason\":null}}"
        ))
    }
}

fn stream(state: &SimState, reply: &Reply, model: &str, include_usage: bool, id: u64) -> Response {
    let fingerprint = state.profile.system_fingerprint.as_deref();
    let chunker = Chunker::new(model, id, include_usage, fingerprint);
    let pieces = pieces(&reply.text);
    let times = state.schedule(reply.delay, reply.end, &pieces);
    let cut = reply.cut_fraction.map(|f| cut_index(f, pieces.len()));
    let mut frames: Vec<(Duration, Bytes)> = Vec::with_capacity(pieces.len() + 4);
    frames.push((
        Duration::ZERO,
        chunker.frame(
            "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}",
        ),
    ));
    if reply.interrupted {
        // What llama-cpp-python sends to a stream it abandons: the role chunk, then `[DONE]`.
        frames.push((reply.delay, Bytes::from_static(b"data: [DONE]\n\n")));
        return sse_response(state, frames, false);
    }
    let sent = cut.unwrap_or(pieces.len());
    for (piece, at) in pieces.iter().zip(&times).take(sent) {
        frames.push((*at, chunker.content(piece)));
    }
    if cut.is_none() {
        let end = times.last().copied().unwrap_or(reply.delay);
        frames.push((
            end,
            chunker.frame(&format!(
                "{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"{}\"}}",
                finish_reason(reply)
            )),
        ));
        if include_usage {
            let usage = serde_json::to_string(&Usage::of(reply)).unwrap_or_default();
            let mut s = chunker.head.clone();
            s.push_str("],\"usage\":");
            s.push_str(&usage);
            s.push_str("}\n\n");
            frames.push((end, Bytes::from(s)));
        }
        frames.push((end, Bytes::from_static(b"data: [DONE]\n\n")));
    }
    sse_response(state, frames, cut.is_some())
}

/// A 200 whose body is not JSON: a completion (or a stream chunk) cut mid-object.
fn malformed(stream: bool, model: &str, id: u64, state: &SimState) -> Response {
    let model = serde_json::to_string(model).unwrap_or_default();
    if stream {
        let frame = format!(
            "data: {{\"id\":\"chatcmpl-sim-{id}\",\"object\":\"chat.completion.chunk\",\"model\":{model},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Sure\n\ndata: [DONE]\n\n"
        );
        return sse_response(state, vec![(Duration::ZERO, Bytes::from(frame))], false);
    }
    let body = format!(
        "{{\"id\":\"chatcmpl-sim-{id}\",\"object\":\"chat.completion\",\"model\":{model},\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"Sure, here"
    );
    json_bytes(StatusCode::OK, body.into_bytes())
}

/// The model list.
pub(crate) fn models() -> Response {
    let data: Vec<_> = MODELS
        .iter()
        .map(|m| serde_json::json!({ "id": m, "object": "model", "created": 0, "owned_by": "probity-sim" }))
        .collect();
    let body = serde_json::json!({ "object": "list", "data": data });
    json_bytes(StatusCode::OK, body.to_string().into_bytes())
}

#[derive(Deserialize)]
struct EmbedBody<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<EmbedInput<'a>>,
    #[serde(borrow, default)]
    encoding_format: Option<Cow<'a, str>>,
    #[serde(default)]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbedInput<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
    /// Token arrays (or anything else): only recognised, to be refused with a clear 400.
    Other(#[allow(dead_code)] serde::de::IgnoredAny),
}

/// `POST /v1/embeddings`: deterministic bag-of-words vectors (see `embed.rs`).
pub(crate) async fn embeddings(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = state.next_id();
    let c = &state.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.embeddings.fetch_add(1, Ordering::Relaxed);
    if wrong_key(&state, &headers) {
        return with_id(unauthorized(), id);
    }
    let resp = embeddings_response(&state, &body).await;
    with_id(resp, id)
}

async fn embeddings_response(state: &SimState, body: &[u8]) -> Response {
    let req: EmbedBody = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_request(state, &format!("Invalid request body: {e}")),
    };
    let Some(model) = req.model.filter(|m| !m.is_empty()) else {
        return bad_request(state, "you must provide a model parameter");
    };
    let texts: Vec<Cow<str>> = match req.input {
        None => return bad_request(state, "Missing required parameter: 'input'."),
        Some(EmbedInput::One(t)) => vec![t],
        Some(EmbedInput::Many(v)) if !v.is_empty() => v,
        Some(EmbedInput::Many(_)) => {
            return bad_request(state, "'$.input' is invalid: an empty array.");
        }
        Some(EmbedInput::Other(_)) => {
            return bad_request(
                state,
                "'$.input' is invalid: the simulator embeds strings or arrays of strings only.",
            );
        }
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return bad_request(
                state,
                &format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'."),
            );
        }
    };
    let dims = match req.dimensions {
        None => DIMENSIONS,
        Some(d) if (1..=DIMENSIONS).contains(&d) => d,
        Some(d) => {
            return bad_request(
                state,
                &format!("dimensions must be from 1 to {DIMENSIONS}, not {d}."),
            );
        }
    };

    let mut h = StableHasher::new();
    h.write(b"embeddings");
    for t in &texts {
        h.separate();
        h.write(t.as_bytes());
    }
    let (mut rng, _) = state.rngs(h.finish(), None);
    let delay = state.latency(&mut rng);
    match state.fault(&mut rng, false) {
        Fault::None | Fault::CutStream | Fault::Interrupt => {}
        Fault::Unavailable => return unavailable(state),
        Fault::RateLimited => {
            let mut resp = error_with_code(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "rate_limit_exceeded",
                "Rate limit reached (simulated).",
            );
            retry_after(&mut resp, &state.profile);
            return resp;
        }
        Fault::ServerError => {
            if !state.wait(delay).await {
                return shutting_down();
            }
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Simulated server error.",
            );
        }
        Fault::Hang => {
            state.hang().await;
            return shutting_down();
        }
        Fault::Malformed => {
            if !state.wait(delay).await {
                return shutting_down();
            }
            return json_bytes(
                StatusCode::OK,
                b"{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[0.1,"
                    .to_vec(),
            );
        }
    }
    if !state.wait(delay).await {
        return shutting_down();
    }

    let mut tokens = 0u64;
    let data: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            tokens += crate::runner::estimate_tokens(t);
            let mut v = state.embedder.embed(t);
            if dims < DIMENSIONS {
                v = shorten(v, dims);
            }
            let embedding = if base64 {
                serde_json::Value::from(to_base64(&v))
            } else {
                serde_json::Value::from(v)
            };
            serde_json::json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    let body = serde_json::json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    });
    json_bytes(StatusCode::OK, body.to_string().into_bytes())
}
