//! The simulator's HTTP server: shared state, routes, the per-request decision (fault,
//! delay, answer) common to both chat APIs, fault / request counters for `/sim/stats`, and
//! SSE bodies paced in time. The API shapes live in `openai.rs` and `anthropic.rs`.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::answer::{
    Answer, CaseIndex, JUDGE_MARKER, SimCase, base_answer, conversation_hash, distort,
    judge_verdict, limit_tokens, tokens,
};
use super::embed::Embedder;
use super::profile::{Delay, Profile};
use super::seed::{PromptCounters, SimRng, request_rng};
use super::{anthropic, openai};
use crate::golden::Role;

/// Everything the handlers share. Read-only after start-up except for atomics.
pub(crate) struct SimState {
    pub(crate) profile: Profile,
    latency: Delay,
    ttft: Delay,
    pub(crate) index: CaseIndex,
    /// Request counters of golden cases matched by their whole conversation.
    case_counters: Box<[AtomicU64]>,
    /// Request counters of every other prompt.
    prompt_counters: PromptCounters,
    pub(crate) embedder: Embedder,
    pub(crate) counters: Counters,
    /// Per-question counters of the RAG endpoint's retrieval draws (`rag.rs`), apart
    /// from the answers' so that retrieval faults leave the answers as they were.
    pub(crate) rag_counters: PromptCounters,
    /// What was served, for the organisation usage reports (`usage.rs`).
    pub(crate) ledger: super::usage::Ledger,
    next_id: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl SimState {
    pub(crate) fn new(
        profile: Profile,
        cases: Vec<SimCase>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let case_counters = cases.iter().map(|_| AtomicU64::new(0)).collect();
        SimState {
            latency: profile.latency.delay(),
            ttft: profile.ttft.delay(),
            profile,
            index: CaseIndex::new(cases),
            case_counters,
            prompt_counters: PromptCounters::new(),
            embedder: Embedder::new(),
            counters: Counters::default(),
            rag_counters: PromptCounters::new(),
            ledger: super::usage::Ledger::default(),
            next_id: AtomicU64::new(1),
            shutdown,
        }
    }

    /// The id of a new request: `sim-<n>`, also used in response ids.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sleeps `d`; false when the simulator began shutting down meanwhile.
    pub(crate) async fn wait(&self, d: Duration) -> bool {
        if d.is_zero() {
            return true;
        }
        let mut rx = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = shutting_down(&mut rx) => false,
        }
    }

    /// Never answers, until the simulator shuts down (so graceful shutdown can finish).
    pub(crate) async fn hang(&self) {
        let mut rx = self.shutdown.clone();
        shutting_down(&mut rx).await;
    }

    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// The two RNGs of a request for this prompt: faults and timing, and the answer. Kept
    /// apart so a given seed gives the same answer text whatever the latency settings.
    pub(crate) fn rngs(&self, prompt_hash: u64, case: Option<(usize, bool)>) -> (SimRng, SimRng) {
        let counter = match case {
            Some((i, true)) => self.case_counters[i].fetch_add(1, Ordering::Relaxed),
            _ => self.prompt_counters.next(prompt_hash),
        };
        let seed = self.profile.seed;
        (
            request_rng(seed, prompt_hash, counter),
            request_rng(seed ^ 0x5eed_a45e_ed00_0001, prompt_hash, counter),
        )
    }

    /// Decides what a chat request gets: a fault, or an answer with its delay.
    pub(crate) fn decide(&self, call: &ChatCall<'_>) -> Decision {
        let c = &self.counters;
        let messages: Vec<(Role, &str)> = call
            .messages
            .iter()
            .map(|(r, m)| (*r, m.as_ref()))
            .collect();
        let hash = conversation_hash(messages.iter().copied());
        let judge = messages
            .iter()
            .find(|(r, _)| *r == Role::System)
            .is_some_and(|(_, m)| m.trim_start().starts_with(JUDGE_MARKER));
        let case = if judge {
            None
        } else {
            self.index.find(&messages, hash)
        };
        let (mut rng, mut answer_rng) = self.rngs(hash, case);

        let fault = self.fault(&mut rng, call.stream);
        let delay = if call.stream {
            &self.ttft
        } else {
            &self.latency
        }
        .sample(&mut rng);
        match fault {
            Fault::None | Fault::CutStream | Fault::Interrupt => {}
            Fault::RateLimited => return Decision::RateLimited,
            Fault::Unavailable => return Decision::Unavailable,
            Fault::ServerError => return Decision::ServerError(delay),
            Fault::Hang => return Decision::Hang,
            Fault::Malformed => return Decision::Malformed(delay),
        }
        let cut = fault == Fault::CutStream;
        let cut_fraction = cut.then(|| rng.random_range(0.2..0.8));
        // A stream ends no sooner than the latency asks: `latency` applies to streams too.
        let end = if call.stream {
            self.latency.sample(&mut rng)
        } else {
            Duration::ZERO
        };

        let mut answer = if judge {
            c.judge.fetch_add(1, Ordering::Relaxed);
            let user = messages
                .iter()
                .rev()
                .find(|(r, _)| *r == Role::User)
                .map_or("", |(_, m)| *m);
            Answer {
                text: judge_verdict(user, self.profile.judge_fail, &mut answer_rng),
                json: true,
            }
        } else {
            let case = case.map(|(i, _)| &self.index.cases[i]);
            let counter = if case.is_some() {
                &c.matched
            } else {
                &c.unmatched
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let mut answer = base_answer(case, &mut answer_rng);
            let d = distort(&mut answer, &self.profile, &mut answer_rng);
            if d.refusal {
                c.refusal.fetch_add(1, Ordering::Relaxed);
            }
            if d.json_break {
                c.json_break.fetch_add(1, Ordering::Relaxed);
            }
            answer
        };
        let truncated = limit_tokens(&mut answer.text, call.max_tokens);
        if truncated {
            c.truncated.fetch_add(1, Ordering::Relaxed);
        }
        Decision::Answer(Reply {
            input_tokens: messages.iter().map(|(_, m)| tokens(m)).sum(),
            output_tokens: tokens(&answer.text),
            text: answer.text,
            truncated,
            delay,
            end,
            cut_fraction,
            interrupted: fault == Fault::Interrupt,
        })
    }

    /// One draw picks at most one fault (their rates add up to at most 1, validated);
    /// counted here. A cut stream only applies to streaming requests.
    pub(crate) fn fault(&self, rng: &mut SimRng, stream: bool) -> Fault {
        let e = &self.profile.errors;
        let c = &self.counters;
        let u: f64 = rng.random();
        let bands = [
            (e.rate_429, Fault::RateLimited, &c.http_429),
            (e.rate_500, Fault::ServerError, &c.http_500),
            (e.rate_503, Fault::Unavailable, &c.http_503),
            (e.rate_hang, Fault::Hang, &c.hang),
            (e.rate_malformed, Fault::Malformed, &c.malformed),
            (e.rate_cut_stream, Fault::CutStream, &c.cut_stream),
            (e.rate_interrupt, Fault::Interrupt, &c.interrupted),
        ];
        let mut edge = 0.0;
        for (rate, fault, counter) in bands {
            edge += rate;
            if u < edge {
                if matches!(fault, Fault::CutStream | Fault::Interrupt) && !stream {
                    return Fault::None;
                }
                counter.fetch_add(1, Ordering::Relaxed);
                return fault;
            }
        }
        Fault::None
    }

    /// The latency of a non-streaming request.
    pub(crate) fn latency(&self, rng: &mut SimRng) -> Duration {
        self.latency.sample(rng)
    }

    /// Pace of a stream: when each content piece goes out, relative to the start. The
    /// first goes at `ttft`; with `end` later than the pace would finish, the pieces spread
    /// evenly up to it, so a stream takes the profile's latency.
    pub(crate) fn schedule(&self, ttft: Duration, end: Duration, pieces: &[&str]) -> Vec<Duration> {
        let paced = self.paced(ttft, pieces);
        let last = paced.last().copied().unwrap_or(ttft);
        if end <= last || pieces.is_empty() {
            return paced;
        }
        let span = end - ttft;
        let steps = (pieces.len() - 1).max(1) as u32;
        (0..pieces.len() as u32)
            .map(|i| {
                let share = if pieces.len() == 1 { 1 } else { i };
                ttft.saturating_add(span.mul_f64(f64::from(share) / f64::from(steps)))
            })
            .collect()
    }

    fn paced(&self, ttft: Duration, pieces: &[&str]) -> Vec<Duration> {
        let tps = self.profile.tokens_per_second;
        let mut sent = 0u64;
        pieces
            .iter()
            .map(|p| {
                let at = if tps > 0.0 {
                    // Capped at an hour: a tiny pace must not overflow a Duration.
                    let secs = (sent as f64 / tps).min(3600.0);
                    ttft.saturating_add(Duration::try_from_secs_f64(secs).unwrap_or_default())
                } else {
                    ttft
                };
                if tps > 0.0 {
                    sent += tokens(p);
                }
                at
            })
            .collect()
    }
}

async fn shutting_down(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the handle was dropped, which also shuts down.
    let _ = rx.wait_for(|down| *down).await;
}

/// Message content as both APIs accept it: a string, or a list of typed parts of which the
/// `text` ones count.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Content<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(#[serde(borrow)] Vec<Part<'a>>),
}

#[derive(Deserialize)]
pub(crate) struct Part<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

impl<'a> Content<'a> {
    /// The text of the content; parts joined by newlines (images and the like skipped).
    pub(crate) fn into_text(self) -> Cow<'a, str> {
        match self {
            Content::Text(t) => t,
            Content::Parts(parts) => {
                let mut texts = parts
                    .into_iter()
                    .filter(|p| p.kind == "text" || p.kind == "input_text")
                    .filter_map(|p| p.text);
                let Some(first) = texts.next() else {
                    return Cow::Borrowed("");
                };
                let mut joined = first;
                for t in texts {
                    let s = joined.to_mut();
                    s.push('\n');
                    s.push_str(&t);
                }
                joined
            }
        }
    }
}

/// A chat request, whichever API it came in by.
pub(crate) struct ChatCall<'a> {
    /// Messages in order, the system prompt first.
    pub(crate) messages: Vec<(Role, Cow<'a, str>)>,
    pub(crate) stream: bool,
    pub(crate) max_tokens: Option<u64>,
}

/// A fault drawn for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    RateLimited,
    ServerError,
    Hang,
    Malformed,
    CutStream,
    Unavailable,
    Interrupt,
}

/// What a chat request gets.
pub(crate) enum Decision {
    /// 429 with `Retry-After`, at once.
    RateLimited,
    /// 503 with `Retry-After`, at once.
    Unavailable,
    /// 500 after the delay.
    ServerError(Duration),
    /// No answer, ever.
    Hang,
    /// 200 with an invalid body, after the delay.
    Malformed(Duration),
    Answer(Reply),
}

/// An answer ready to be shaped by an API.
pub(crate) struct Reply {
    pub(crate) text: String,
    /// Cut to `max_tokens` (finish reason `length` / stop reason `max_tokens`).
    pub(crate) truncated: bool,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// The latency (non-streaming) or time to first token (streaming).
    pub(crate) delay: Duration,
    /// Streaming: when the stream ends at the earliest (the profile's `latency`).
    pub(crate) end: Duration,
    /// Streaming: cut the connection after this share of the content pieces.
    pub(crate) cut_fraction: Option<f64>,
    /// Streaming: end after the role chunk, with no content and no finish reason.
    pub(crate) interrupted: bool,
}

/// Splits an answer into stream pieces the size of a word or two, as tokens arrive: each
/// piece is white space followed by a word (the first has no leading white space).
pub(crate) fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let mut start = 0;
    let mut prev_space = false;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space && i > start {
            out.push(&text[start..i]);
            start = i;
        }
        prev_space = space;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// How many content pieces a cut stream sends before the connection drops: at least one
/// and fewer than all, when there are enough.
pub(crate) fn cut_index(fraction: f64, pieces: usize) -> usize {
    if pieces < 2 {
        return 0;
    }
    ((pieces as f64 * fraction) as usize).clamp(1, pieces - 1)
}

/// A server-sent-events response from frames with their send times. With no delay and no
/// cut, one body with everything (the fast path of benchmarks); else a paced stream that
/// ends in an error when `cut` (hyper then drops the connection without the final chunk).
pub(crate) fn sse_response(
    state: &SimState,
    frames: Vec<(Duration, Bytes)>,
    cut: bool,
) -> Response {
    let body = if !cut && frames.iter().all(|(at, _)| at.is_zero()) {
        let mut all = Vec::with_capacity(frames.iter().map(|(_, b)| b.len()).sum());
        for (_, b) in &frames {
            all.extend_from_slice(b);
        }
        Body::from(all)
    } else {
        paced_body(frames, cut, state.shutdown_receiver())
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

struct Paced {
    start: tokio::time::Instant,
    frames: std::vec::IntoIter<(Duration, Bytes)>,
    cut: bool,
    shutdown: watch::Receiver<bool>,
}

fn paced_body(frames: Vec<(Duration, Bytes)>, cut: bool, shutdown: watch::Receiver<bool>) -> Body {
    let paced = Paced {
        start: tokio::time::Instant::now(),
        frames: frames.into_iter(),
        cut,
        shutdown,
    };
    let stream = futures_util::stream::unfold(paced, |mut p| async move {
        let Some((at, bytes)) = p.frames.next() else {
            if p.cut {
                p.cut = false;
                // Pending for a moment lets hyper flush what was sent (headers included)
                // before the error drops the connection; else the client sees nothing.
                tokio::time::sleep(Duration::from_millis(2)).await;
                return Some((Err(std::io::Error::other("simulated cut stream")), p));
            }
            return None;
        };
        let deadline = p.start + at;
        if deadline > tokio::time::Instant::now() {
            let mut down = false;
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = shutting_down(&mut p.shutdown) => down = true,
            }
            if down {
                p.frames = Vec::new().into_iter();
                p.cut = false;
                return Some((Err(std::io::Error::other("simulator shutting down")), p));
            }
        }
        Some((Ok(bytes), p))
    });
    Body::from_stream(stream)
}

/// Request and fault counters, updated with relaxed atomics (no lock on the hot path).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) chat_completions: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) embeddings: AtomicU64,
    pub(crate) streams: AtomicU64,
    pub(crate) matched: AtomicU64,
    pub(crate) unmatched: AtomicU64,
    pub(crate) judge: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) http_429: AtomicU64,
    pub(crate) http_500: AtomicU64,
    pub(crate) http_503: AtomicU64,
    pub(crate) interrupted: AtomicU64,
    pub(crate) hang: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) cut_stream: AtomicU64,
    pub(crate) refusal: AtomicU64,
    pub(crate) json_break: AtomicU64,
}

/// A snapshot of what the simulator did, served at `GET /sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// API requests (chat completions, messages, embeddings), faulty or not.
    pub requests: u64,
    pub chat_completions: u64,
    pub messages: u64,
    pub embeddings: u64,
    /// Chat requests that asked for a stream.
    pub streams: u64,
    /// Answers to a golden case.
    pub matched: u64,
    /// Answers to a prompt no golden case has (a generic paragraph).
    pub unmatched: u64,
    /// Requests from probity's LLM judge.
    pub judge: u64,
    /// Requests refused with 400 (malformed JSON, missing fields).
    pub bad_requests: u64,
    /// Answers cut to the request's `max_tokens`.
    pub truncated: u64,
    /// Faults injected by the profile.
    pub faults: FaultStats,
}

/// Counts of each injected fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    pub http_429: u64,
    pub http_500: u64,
    #[serde(default)]
    pub http_503: u64,
    pub hang: u64,
    pub malformed: u64,
    pub cut_stream: u64,
    /// Streams ended after their role chunk (`errors.rate_interrupt`).
    #[serde(default)]
    pub interrupted: u64,
    /// Answers replaced by a refusal (`refusal`), not counting cases that expect one.
    pub refusal: u64,
    /// JSON answers broken (`json_break`).
    pub json_break: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SimStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            requests: g(&self.requests),
            chat_completions: g(&self.chat_completions),
            messages: g(&self.messages),
            embeddings: g(&self.embeddings),
            streams: g(&self.streams),
            matched: g(&self.matched),
            unmatched: g(&self.unmatched),
            judge: g(&self.judge),
            bad_requests: g(&self.bad_requests),
            truncated: g(&self.truncated),
            faults: FaultStats {
                http_429: g(&self.http_429),
                http_500: g(&self.http_500),
                http_503: g(&self.http_503),
                interrupted: g(&self.interrupted),
                hang: g(&self.hang),
                malformed: g(&self.malformed),
                cut_stream: g(&self.cut_stream),
                refusal: g(&self.refusal),
                json_break: g(&self.json_break),
            },
        }
    }
}

/// Seconds since the epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Adds `x-request-id: sim-<n>` (every response carries one).
pub(crate) fn with_id(mut resp: Response, id: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("sim-{id}")) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// A JSON response from bytes already serialised.
pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `Retry-After` of a 429 or 503 (whole seconds, rounded up) and `retry-after-ms` (which
/// the OpenAI SDKs read first), as real gateways send both.
pub(crate) fn retry_after(resp: &mut Response, profile: &Profile) {
    let d = profile.errors.retry_after;
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("retry-after-ms", HeaderValue::from(ms));
}

/// The API key a request carries: `Authorization: Bearer KEY`, else `x-api-key`.
pub(crate) fn request_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

/// With `require_key` set, whether the request carries another key (or none): it is then
/// answered 401.
pub(crate) fn wrong_key(state: &SimState, headers: &HeaderMap) -> bool {
    state
        .profile
        .require_key
        .as_deref()
        .is_some_and(|key| request_key(headers) != Some(key))
}

/// The routes of both APIs and the simulator's own.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/rag/ask", post(super::rag::ask))
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/sim/stats", get(stats))
        // The organisation usage and cost reports (`usage.rs`).
        .route(
            "/v1/organization/usage/completions",
            get(super::usage::openai_usage),
        )
        .route("/v1/organization/costs", get(super::usage::openai_costs))
        .route(
            "/v1/organizations/usage_report/messages",
            get(super::usage::anthropic_usage),
        )
        .route(
            "/v1/organizations/cost_report",
            get(super::usage::anthropic_costs),
        )
        .fallback(not_found)
        .with_state(state)
}

async fn healthz(State(state): State<Arc<SimState>>) -> Response {
    let id = state.next_id();
    with_id((StatusCode::OK, "ok\n").into_response(), id)
}

async fn stats(State(state): State<Arc<SimState>>) -> Response {
    let id = state.next_id();
    let body = serde_json::to_vec(&state.counters.snapshot()).unwrap_or_default();
    with_id(json_bytes(StatusCode::OK, body), id)
}

/// Model list in the shape of the API the client speaks (Anthropic clients send
/// `anthropic-version`).
async fn models(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let id = state.next_id();
    let resp = if headers.contains_key("anthropic-version") {
        anthropic::models()
    } else {
        openai::models()
    };
    with_id(resp, id)
}

async fn not_found(State(state): State<Arc<SimState>>) -> Response {
    let id = state.next_id();
    let resp = openai::error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "Unknown path: the simulator serves /v1/chat/completions, /v1/messages, /v1/embeddings, /v1/models, /healthz and /sim/stats.",
    );
    with_id(resp, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rebuild_the_text() {
        let text = "Hello  world, this is\na test.";
        let p = pieces(text);
        assert_eq!(p.concat(), text);
        assert_eq!(p[0], "Hello");
        assert_eq!(p[1], "  world,");
        assert!(pieces("").is_empty());
    }

    #[test]
    fn cut_index_is_mid_way() {
        assert_eq!(cut_index(0.5, 10), 5);
        assert_eq!(cut_index(0.01, 10), 1);
        assert_eq!(cut_index(0.99, 10), 9);
        assert_eq!(cut_index(0.5, 1), 0);
    }
}
