//! A simulated retrieval-augmented service, for the `http` provider: `POST /v1/rag/ask` with
//! `{"question": "..."}` answers `{"answer", "passages": [{"text", "source"}], "usage",
//! "meta": {"retrieval_ms", "generation_ms"}}`, the same two figures also in its
//! `Server-Timing` header.
//! The passages are the matched golden case's `context`; the answer and every fault follow
//! the same profile as the chat endpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::answer::conversation_hash;
use super::openai::error;
use super::server::{ChatCall, Decision, SimState, json_bytes, retry_after, with_id};
use super::server_timing::{timed_wait, with_server_timing};
use crate::golden::Role;

#[derive(Deserialize)]
struct Ask {
    question: String,
}

pub(crate) async fn ask(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let id = state.next_id();
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let ask: Ask = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return with_id(
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("expected {{\"question\": \"...\"}}: {e}"),
                ),
                id,
            );
        }
    };
    let messages = [(Role::User, ask.question.as_str())];
    let passages: Vec<serde_json::Value> = state
        .index
        .find(&messages, conversation_hash(messages.iter().copied()))
        .map(|(i, _)| state.index.cases[i].context.clone())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(n, text)| serde_json::json!({ "text": text, "source": format!("doc-{}", n + 1) }))
        .collect();
    let call = ChatCall {
        messages: vec![(Role::User, ask.question.as_str().into())],
        stream: false,
        max_tokens: None,
    };
    let resp = match state.decide(&call) {
        Decision::RateLimited => {
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "slow down (simulated)",
            );
            retry_after(&mut resp, &state.profile);
            resp
        }
        Decision::Unavailable => {
            let mut resp = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "busy (simulated)",
            );
            retry_after(&mut resp, &state.profile);
            resp
        }
        Decision::ServerError(delay) => {
            state.wait(delay).await;
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "retrieval failed (simulated)",
            )
        }
        Decision::Hang => {
            state.hang().await;
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "shutting down",
            )
        }
        Decision::Malformed(delay) => {
            state.wait(delay).await;
            json_bytes(StatusCode::OK, br#"{"answer": "The warr"#.to_vec())
        }
        Decision::Answer(reply) => {
            // A quarter of the answer's time goes to retrieval, the rest to generation; both
            // are reported as measured, in the header and in `meta` (issue 13).
            let retrieval_share = reply.delay / 4;
            let retrieval = timed_wait(&state, retrieval_share).await.unwrap_or(0.0);
            let generation = timed_wait(&state, reply.delay - retrieval_share)
                .await
                .unwrap_or(0.0);
            let body = serde_json::json!({
                "answer": reply.text,
                "passages": passages,
                "usage": { "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens },
                "meta": { "retrieval_ms": retrieval, "generation_ms": generation },
            });
            with_server_timing(
                json_bytes(StatusCode::OK, body.to_string().into_bytes()),
                &[("retrieval", retrieval), ("generation", generation)],
            )
        }
    };
    with_id(resp, id)
}
