//! The Anthropic-compatible surface: `POST /v1/messages` (JSON, and the SSE event sequence
//! message_start / content_block_start / ping / content_block_delta / content_block_stop /
//! message_delta / message_stop), the model list in Anthropic's shape and its error shape.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::openai::MODELS;
use super::server::{
    ChatCall, Content, Decision, Reply, SimState, cut_index, json_bytes, pieces, retry_after,
    sse_response, with_id,
};
use super::server_timing::{planned_ms, timed_wait, with_server_timing};
use crate::golden::Role;

/// An error in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({ "type": "error", "error": { "type": kind, "message": message } });
    json_bytes(status, body.to_string().into_bytes())
}

fn shutting_down() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded_error",
        "The simulator is shutting down.",
    )
}

#[derive(Deserialize)]
struct MessagesBody<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(borrow, default)]
    messages: Option<Vec<InMessage<'a>>>,
    #[serde(borrow, default)]
    system: Option<Content<'a>>,
    #[serde(default)]
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct InMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: Content<'a>,
}

/// A Messages request as Anthropic's API checks it (`model`, `max_tokens` and `messages`
/// are required there, so here too); the error text is what the 400 says.
fn parse(body: &[u8]) -> Result<(Cow<'_, str>, ChatCall<'_>), String> {
    let req: MessagesBody =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    let Some(model) = req.model.filter(|m| !m.is_empty()) else {
        return Err("model: Field required".into());
    };
    let Some(max_tokens) = req.max_tokens else {
        return Err("max_tokens: Field required".into());
    };
    let Some(raw) = req.messages else {
        return Err("messages: Field required".into());
    };
    if raw.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut messages = Vec::with_capacity(raw.len() + 1);
    if let Some(system) = req.system {
        messages.push((Role::System, system.into_text()));
    }
    for (i, m) in raw.into_iter().enumerate() {
        let role = match m.role.as_ref() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant', not '{other}'"
                ));
            }
        };
        messages.push((role, m.content.into_text()));
    }
    let call = ChatCall {
        messages,
        stream: req.stream.unwrap_or(false),
        max_tokens: Some(max_tokens),
    };
    Ok((model, call))
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(state): State<Arc<SimState>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let id = state.next_id();
    let c = &state.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.messages.fetch_add(1, Ordering::Relaxed);
    let resp = if super::server::wrong_key(&state, &headers) {
        error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key (simulated: the simulator was started with --require-key)",
        )
    } else {
        match parse(&body) {
            Err(message) => {
                c.bad_requests.fetch_add(1, Ordering::Relaxed);
                error(StatusCode::BAD_REQUEST, "invalid_request_error", &message)
            }
            Ok((model, call)) => {
                if call.stream {
                    c.streams.fetch_add(1, Ordering::Relaxed);
                }
                respond(&state, &call, &model, id).await
            }
        }
    };
    let mut resp = with_id(resp, id);
    // Anthropic's own request-id header, next to the x-request-id every response has.
    if let Ok(v) = HeaderValue::from_str(&format!("sim-{id}")) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn respond(state: &SimState, call: &ChatCall<'_>, model: &str, id: u64) -> Response {
    match state.decide(call) {
        Decision::RateLimited => {
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "Number of requests has exceeded your rate limit (simulated).",
            );
            retry_after(&mut resp, &state.profile);
            resp
        }
        Decision::Unavailable => {
            // Anthropic's overload is a 529; a 503 is what a gateway in front of it sends.
            let mut resp = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded_error",
                "Overloaded (simulated).",
            );
            retry_after(&mut resp, &state.profile);
            resp
        }
        Decision::ServerError(delay) => {
            if !state.wait(delay).await {
                return shutting_down();
            }
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "Internal server error (simulated).",
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
            stream(state, &reply, model, id),
            &[("generation", planned_ms(reply.end.max(reply.delay)))],
        ),
        Decision::Answer(reply) => {
            let Some(generation) = timed_wait(state, reply.delay).await else {
                return shutting_down();
            };
            with_server_timing(message(&reply, model, id), &[("generation", generation)])
        }
    }
}

fn stop_reason(reply: &Reply) -> &'static str {
    if reply.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

fn message(reply: &Reply, model: &str, id: u64) -> Response {
    let body = json!({
        "id": format!("msg_sim_{id}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "text", "text": reply.text }],
        "stop_reason": stop_reason(reply),
        "stop_sequence": null,
        "usage": { "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens },
    });
    json_bytes(StatusCode::OK, body.to_string().into_bytes())
}

/// One SSE event: `event: <name>` and its JSON `data:` line.
fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn stream(state: &SimState, reply: &Reply, model: &str, id: u64) -> Response {
    let pieces = pieces(&reply.text);
    let times = state.schedule(reply.delay, reply.end, &pieces);
    let cut = reply.cut_fraction.map(|f| cut_index(f, pieces.len()));
    let mut frames: Vec<(Duration, Bytes)> = Vec::with_capacity(pieces.len() + 6);
    let start = json!({
        "type": "message_start",
        "message": {
            "id": format!("msg_sim_{id}"),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": null,
            "stop_sequence": null,
            "usage": { "input_tokens": reply.input_tokens, "output_tokens": 1 },
        }
    });
    frames.push((Duration::ZERO, event("message_start", &start.to_string())));
    if reply.interrupted {
        // A stream abandoned after its start: `message_stop` with no stop_reason before it.
        frames.push((
            reply.delay,
            event("message_stop", r#"{"type":"message_stop"}"#),
        ));
        return sse_response(state, frames, false);
    }
    frames.push((
        Duration::ZERO,
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
    ));
    frames.push((Duration::ZERO, event("ping", r#"{"type":"ping"}"#)));
    let sent = cut.unwrap_or(pieces.len());
    for (piece, at) in pieces.iter().zip(&times).take(sent) {
        let text = serde_json::to_string(piece).unwrap_or_else(|_| "\"\"".into());
        let data = format!(
            "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{text}}}}}"
        );
        frames.push((*at, event("content_block_delta", &data)));
    }
    if cut.is_none() {
        let end = times.last().copied().unwrap_or(reply.delay);
        frames.push((
            end,
            event(
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
        ));
        let delta = json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason(reply), "stop_sequence": null },
            "usage": { "output_tokens": reply.output_tokens },
        });
        frames.push((end, event("message_delta", &delta.to_string())));
        frames.push((end, event("message_stop", r#"{"type":"message_stop"}"#)));
    }
    sse_response(state, frames, cut.is_some())
}

/// A 200 whose body is not JSON: a message (or a stream event) cut mid-object.
fn malformed(stream: bool, model: &str, id: u64, state: &SimState) -> Response {
    let model = serde_json::to_string(model).unwrap_or_default();
    if stream {
        let frames = vec![
            (
                Duration::ZERO,
                event(
                    "message_start",
                    &format!(
                        "{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_sim_{id}\",\"model\":{model},\"content\":["
                    ),
                ),
            ),
            (
                Duration::ZERO,
                event("message_stop", r#"{"type":"message_stop"}"#),
            ),
        ];
        return sse_response(state, frames, false);
    }
    let body = format!(
        "{{\"id\":\"msg_sim_{id}\",\"type\":\"message\",\"role\":\"assistant\",\"model\":{model},\"content\":[{{\"type\":\"text\",\"text\":\"Sure, here"
    );
    json_bytes(StatusCode::OK, body.into_bytes())
}

/// The model list in Anthropic's shape.
pub(crate) fn models() -> Response {
    let data: Vec<_> = MODELS
        .iter()
        .map(|m| {
            json!({ "type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z" })
        })
        .collect();
    let body = json!({
        "data": data,
        "has_more": false,
        "first_id": MODELS.first(),
        "last_id": MODELS.last(),
    });
    json_bytes(StatusCode::OK, body.to_string().into_bytes())
}
