//! The providers against real HTTP servers on 127.0.0.1: well-behaved OpenAI- and
//! Anthropic-like endpoints (streamed and not), a team's own JSON service for the `http`
//! provider, and endpoints that misbehave in every way a production endpoint has been seen
//! to. Each test asserts both what came back and what the server received.

#[path = "support/bad_server.rs"]
mod bad_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::post;
use futures_util::StreamExt;
use probity::config::{HttpResponseMap, HttpSpec, ProviderKind, Secret, Target};
use probity::golden::{Message, Role};
use probity::provider::{ChatRequest, ErrorClass, Failure, Provider, Reply};
use serde_json::{Value, json};

const KEY: &str = "sk-test-9f8e7d6c5b4a";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

// ---------------------------------------------------------------------------------------
// What the servers saw

#[derive(Debug, Clone)]
struct Seen {
    scenario: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn record(&self, scenario: &str, headers: &HeaderMap, body: &Bytes) {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.0.lock().unwrap().push(Seen {
            scenario: scenario.to_owned(),
            headers: headers.clone(),
            body,
        });
    }

    fn last(&self, scenario: &str) -> Seen {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|s| s.scenario == scenario)
            .cloned()
            .unwrap_or_else(|| panic!("the server saw no `{scenario}` request"))
    }
}

struct Server {
    addr: SocketAddr,
    log: Log,
}

impl Server {
    async fn start(app: fn(Log) -> Router) -> Server {
        let log = Log::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(log.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Server { addr, log }
    }

    fn base(&self, scenario: &str) -> String {
        format!("http://{}/{scenario}", self.addr)
    }
}

// ---------------------------------------------------------------------------------------
// Response helpers

fn json_response(status: u16, body: Value, headers: &[(&str, &str)]) -> Response {
    bytes_response(
        status,
        "application/json",
        body.to_string().into_bytes(),
        headers,
    )
}

fn bytes_response(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Response {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Body::from(body)).unwrap()
}

/// How a timed body ends: cleanly, or with the connection torn down mid-stream.
#[derive(Clone, Copy, PartialEq)]
enum End {
    Clean,
    Cut,
}

/// A body sent piece by piece, each piece after its delay (ms).
fn timed_response(
    content_type: &str,
    parts: Vec<(u64, Vec<u8>)>,
    end: End,
    headers: &[(&str, &str)],
) -> Response {
    let mut items: Vec<(u64, Result<Vec<u8>, std::io::Error>)> =
        parts.into_iter().map(|(ms, b)| (ms, Ok(b))).collect();
    if end == End::Cut {
        items.push((0, Err(std::io::Error::other("server went away"))));
    }
    let stream = futures_util::stream::iter(items).then(|(ms, item)| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        item
    });
    let mut response = Response::builder()
        .status(200)
        .header("content-type", content_type);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Body::from_stream(stream)).unwrap()
}

fn sse(events: &[String], end: End, headers: &[(&str, &str)]) -> Response {
    let parts = events.iter().map(|e| (0, e.clone().into_bytes())).collect();
    timed_response("text/event-stream", parts, end, headers)
}

/// Splits `bytes` at the given offsets.
fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        out.push(bytes[start..cut].to_vec());
        start = cut;
    }
    out.push(bytes[start..].to_vec());
    out
}

// ---------------------------------------------------------------------------------------
// An OpenAI-like endpoint: `/{scenario}/chat/completions`, `/{scenario}/embeddings`

fn oai_chunk(delta: Value, finish: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-test-0613",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    });
    format!("data: {chunk}\n\n")
}

fn oai_usage(prompt: u64, completion: u64) -> String {
    let chunk = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-test-0613",
        "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": completion }
    });
    format!("data: {chunk}\n\n")
}

fn oai_completion(content: &str, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-test-0613",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                      "finish_reason": finish }],
        "usage": { "prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24 }
    })
}

fn openai_app(log: Log) -> Router {
    Router::new()
        .route("/{scenario}/chat/completions", post(openai_chat))
        .route("/{scenario}/embeddings", post(openai_embeddings))
        .with_state(log)
}

async fn openai_chat(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    log.record(&scenario, &headers, &body);
    let role = || oai_chunk(json!({ "role": "assistant", "content": "" }), None);
    let text = |t: &str| oai_chunk(json!({ "content": t }), None);
    let done = || "data: [DONE]\n\n".to_owned();
    match scenario.as_str() {
        "ok-stream" => sse(
            &[
                role(),
                ": keep-alive comment\n\n".into(),
                text("Hel"),
                text("lo"),
                oai_chunk(json!({}), Some("stop")),
                oai_usage(21, 2),
                done(),
            ],
            End::Clean,
            &[("x-request-id", "req-stream-1")],
        ),
        "ok" => json_response(
            200,
            oai_completion("Hello there", "stop"),
            &[("x-request-id", "req-123")],
        ),
        "request-id-fallback" => json_response(
            200,
            oai_completion("Hi", "stop"),
            &[("cf-ray", "8a1b2c3d4e-FRA")],
        ),
        "invalid-json" => bytes_response(200, "application/json", b"{\"choices\": [".to_vec(), &[]),
        "no-choices" => json_response(200, json!({ "id": "x", "object": "chat.completion" }), &[]),
        "echo-auth" => {
            // A real failure mode: some gateways quote the credential they rejected.
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            json_response(
                401,
                json!({ "error": {
                    "message": format!("Incorrect API key provided:\n{auth}.\nFind your key in the dashboard."),
                    "type": "invalid_request_error", "code": "invalid_api_key" } }),
                &[("x-request-id", "req-401")],
            )
        }
        "rate-limited" => json_response(
            429,
            json!({ "error": { "message": "Rate limit reached", "type": "requests" } }),
            &[("retry-after", "1"), ("x-request-id", "req-429")],
        ),
        "error-500" => bytes_response(
            500,
            "text/plain",
            b"internal boom\n\nat line 3".to_vec(),
            &[],
        ),
        "error-503" => {
            let at = chrono::Utc::now() + chrono::Duration::seconds(120);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            bytes_response(
                503,
                "text/html",
                b"<h1>Service Unavailable</h1>".to_vec(),
                &[("retry-after", &date)],
            )
        }
        "truncated" => sse(
            &[role(), text("Partial "), text("answer")],
            End::Clean,
            &[("x-request-id", "req-trunc")],
        ),
        "cut" => sse(&[role(), text("Cut "), text("short")], End::Cut, &[]),
        "done-before-finish" => sse(&[role(), text("Partial"), done()], End::Clean, &[]),
        "role-then-done" => sse(&[role(), done()], End::Clean, &[]),
        "second-choice-unfinished" => {
            let both = |c0: Value, f0: Option<&str>, c1: Value| {
                let chunk = json!({ "choices": [
                    { "index": 0, "delta": c0, "finish_reason": f0 },
                    { "index": 1, "delta": c1, "finish_reason": null }
                ] });
                format!("data: {chunk}\n\n")
            };
            sse(
                &[
                    both(json!({ "content": "A" }), None, json!({ "content": "B" })),
                    both(json!({}), Some("stop"), json!({})),
                    done(),
                ],
                End::Clean,
                &[],
            )
        }
        "no-done" => sse(
            &[role(), text("Fine"), oai_chunk(json!({}), Some("stop"))],
            End::Clean,
            &[],
        ),
        "slow-first" => timed_response(
            "text/event-stream",
            vec![
                (0, role().into_bytes()),
                (200, text("Late").into_bytes()),
                (0, oai_chunk(json!({}), Some("stop")).into_bytes()),
                (0, done().into_bytes()),
            ],
            End::Clean,
            &[],
        ),
        "content-filter" => json_response(200, oai_completion("", "content_filter"), &[]),
        "content-filter-stream" => sse(
            &[
                role(),
                text("Here is how to"),
                oai_chunk(json!({}), Some("content_filter")),
                done(),
            ],
            End::Clean,
            &[],
        ),
        "in-stream-error" => sse(
            &[
                role(),
                text("Start"),
                format!(
                    "data: {}\n\n",
                    json!({ "error": { "message": "The server had an error", "type": "server_error" } })
                ),
            ],
            End::Clean,
            &[],
        ),
        "json-despite-stream" => json_response(200, oai_completion("Not streamed", "stop"), &[]),
        "non-utf8" => bytes_response(
            200,
            "application/json",
            b"{\"choices\":[{\"message\":{\"content\":\"caf\xe9\"}}]}".to_vec(),
            &[],
        ),
        "drip" => {
            // The whole answer, eight bytes at a time, every 100 ms.
            let body = oai_completion("Dripped answer", "stop")
                .to_string()
                .into_bytes();
            let pieces: Vec<(u64, Vec<u8>)> = body
                .chunks(body.len().div_ceil(8))
                .map(|c| (100, c.to_vec()))
                .collect();
            timed_response("application/json", pieces, End::Clean, &[])
        }
        "drip-stream" => {
            // CRLF line ends; pieces cut inside a multi-byte character, between `\r` and
            // `\n`, and inside `data:`.
            let events = [
                role(),
                text("h\u{e9}llo "),
                text("w\u{f6}rld \u{1f600}"),
                oai_chunk(json!({}), Some("stop")),
                done(),
            ]
            .concat()
            .replace('\n', "\r\n")
            .into_bytes();
            let e_acute = events
                .windows(2)
                .position(|w| w == "\u{e9}".as_bytes())
                .unwrap()
                + 1;
            let emoji = events
                .windows(4)
                .position(|w| w == "\u{1f600}".as_bytes())
                .unwrap()
                + 2;
            let crlf = events.windows(2).position(|w| w == b"\r\n").unwrap() + 1;
            let data = events.windows(5).rposition(|w| w == b"data:").unwrap() + 2;
            let mut cuts = vec![crlf, e_acute, emoji, data];
            cuts.sort();
            let parts = split_at(&events, &cuts)
                .into_iter()
                .map(|p| (100, p))
                .collect();
            timed_response("text/event-stream", parts, End::Clean, &[])
        }
        other => json_response(404, json!({ "error": format!("no scenario {other}") }), &[]),
    }
}

async fn openai_embeddings(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    log.record(&scenario, &headers, &body);
    if scenario == "emb-huge-usage" {
        return json_response(
            200,
            json!({ "data": [{ "index": 0, "embedding": [1.0] }],
                "usage": { "prompt_tokens": u64::MAX } }),
            &[],
        );
    }
    // Out of index order on purpose: the index, not the position, says which input it is.
    json_response(
        200,
        json!({ "object": "list", "model": "text-embedding-3-small",
            "data": [
                { "object": "embedding", "index": 1, "embedding": [0.0, 1.0, 0.5] },
                { "object": "embedding", "index": 0, "embedding": [1.0, 0.0, -0.5] }
            ],
            "usage": { "prompt_tokens": 6, "total_tokens": 6 } }),
        &[],
    )
}

// ---------------------------------------------------------------------------------------
// An Anthropic-like endpoint: `/{scenario}/messages`

fn ant_event(kind: &str, data: Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

fn ant_start() -> String {
    ant_event(
        "message_start",
        json!({ "type": "message_start", "message": {
            "id": "msg_01XFD", "type": "message", "role": "assistant", "content": [],
            "model": "claude-test-20250101", "stop_reason": null,
            "usage": { "input_tokens": 25, "output_tokens": 1 } } }),
    )
}

fn ant_text(text: &str) -> String {
    ant_event(
        "content_block_delta",
        json!({ "type": "content_block_delta", "index": 0,
            "delta": { "type": "text_delta", "text": text } }),
    )
}

fn ant_stop(reason: &str, output_tokens: u64) -> Vec<String> {
    vec![
        ant_event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": 0 }),
        ),
        ant_event(
            "message_delta",
            json!({ "type": "message_delta",
                "delta": { "stop_reason": reason, "stop_sequence": null },
                "usage": { "output_tokens": output_tokens } }),
        ),
        ant_event("message_stop", json!({ "type": "message_stop" })),
    ]
}

fn ant_error(kind: &str, message: &str) -> String {
    ant_event(
        "error",
        json!({ "type": "error", "error": { "type": kind, "message": message } }),
    )
}

fn ant_message(blocks: Value, stop: &str) -> Value {
    json!({ "id": "msg_02ABC", "type": "message", "role": "assistant",
        "model": "claude-test-20250101", "content": blocks, "stop_reason": stop,
        "stop_sequence": null, "usage": { "input_tokens": 31, "output_tokens": 4 } })
}

fn anthropic_app(log: Log) -> Router {
    Router::new()
        .route("/{scenario}/messages", post(anthropic_messages))
        .with_state(log)
}

async fn anthropic_messages(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    log.record(&scenario, &headers, &body);
    let start_block = ant_event(
        "content_block_start",
        json!({ "type": "content_block_start", "index": 0,
            "content_block": { "type": "text", "text": "" } }),
    );
    let ping = ant_event("ping", json!({ "type": "ping" }));
    match scenario.as_str() {
        "stop-without-reason" => sse(
            &[
                ant_start(),
                start_block,
                ant_text("Hi"),
                ant_event("message_stop", json!({ "type": "message_stop" })),
            ],
            End::Clean,
            &[],
        ),
        "ok-stream" => {
            let mut events = vec![
                ant_start(),
                start_block,
                ping,
                ant_text("Hi "),
                ant_text("there"),
            ];
            events.extend(ant_stop("end_turn", 3));
            sse(&events, End::Clean, &[("request-id", "req_ant_stream")])
        }
        "ok" => json_response(
            200,
            ant_message(
                json!([{ "type": "text", "text": "Hi " },
                       { "type": "tool_use", "id": "toolu_1", "name": "x", "input": {} },
                       { "type": "text", "text": "there" }]),
                "end_turn",
            ),
            &[("request-id", "req_ant_1")],
        ),
        "max-tokens" => json_response(
            200,
            ant_message(
                json!([{ "type": "text", "text": "Cut by the limit" }]),
                "max_tokens",
            ),
            &[],
        ),
        "refusal" => json_response(200, ant_message(json!([]), "refusal"), &[]),
        "overloaded" => sse(
            &[
                ant_start(),
                start_block,
                ant_text("Par"),
                ant_error("overloaded_error", "Overloaded"),
            ],
            End::Clean,
            &[],
        ),
        "rate-limit-event" => sse(
            &[
                ant_start(),
                ant_error("rate_limit_error", "Number of request tokens exceeded"),
            ],
            End::Clean,
            &[],
        ),
        "truncated" => sse(
            &[ant_start(), start_block, ant_text("Hi "), ant_text("the")],
            End::Clean,
            &[],
        ),
        "slow-first" => {
            let mut parts = vec![
                (0, ant_start().into_bytes()),
                (0, start_block.into_bytes()),
                (0, ant_text("").into_bytes()),
                (200, ant_text("Late").into_bytes()),
            ];
            parts.extend(
                ant_stop("stop_sequence", 1)
                    .into_iter()
                    .map(|e| (0, e.into_bytes())),
            );
            timed_response("text/event-stream", parts, End::Clean, &[])
        }
        "http-overloaded" => json_response(
            529,
            json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }),
            &[("request-id", "req_529")],
        ),
        other => json_response(404, json!({ "error": format!("no scenario {other}") }), &[]),
    }
}

// ---------------------------------------------------------------------------------------
// A team's own RAG service for the `http` provider: `/{scenario}`

fn rag_app(log: Log) -> Router {
    Router::new()
        .route("/{scenario}", post(rag))
        .with_state(log)
}

async fn rag(
    State(log): State<Log>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    log.record(&scenario, &headers, &body);
    match scenario.as_str() {
        "rag" => json_response(
            200,
            json!({ "result": { "answer": { "text": "Defects are covered for 2 years." },
                                "finish": "stop", "engine": "rag-v2" },
                    "retrieval": { "docs": [
                        { "meta": { "id": 1 }, "chunk": { "content": "The warranty covers defects." } },
                        { "meta": { "id": 2 }, "chunk": { "content": "Water damage is excluded." } } ] },
                    "usage": { "in": 120, "out": 9 } }),
            &[("x-request-id", "rag-req-7")],
        ),
        "rag-shape-changed" => json_response(
            200,
            json!({ "result": { "answer": ["Defects are covered for 2 years."] } }),
            &[],
        ),
        other => json_response(404, json!({ "error": format!("no scenario {other}") }), &[]),
    }
}

// ---------------------------------------------------------------------------------------
// Targets and requests

fn target(provider: ProviderKind, base_url: String, stream: bool) -> Target {
    let params: serde_json::Map<String, Value> =
        serde_json::from_value(json!({ "temperature": 0.7, "max_tokens": 400 })).unwrap();
    Target {
        name: "default".into(),
        provider,
        base_url,
        model: "test-model".into(),
        api_key: Some(Secret::new(KEY)),
        stream,
        params,
        labels: BTreeMap::new(),
        headers: BTreeMap::from([("x-team".to_owned(), Secret::new("probes"))]),
        http: None,
        embeddings_model: None,
        pricing: Default::default(),
    }
}

fn provider(target: &Target) -> Provider {
    Provider::new(target, Duration::from_secs(5)).unwrap()
}

fn messages() -> Vec<Message> {
    vec![
        Message {
            role: Role::System,
            content: "You are terse.".into(),
        },
        Message {
            role: Role::User,
            content: "Say hello".into(),
        },
        Message {
            role: Role::Assistant,
            content: "Hello?".into(),
        },
        Message {
            role: Role::System,
            content: "Answer in English.".into(),
        },
        Message {
            role: Role::User,
            content: "Say hello again".into(),
        },
    ]
}

struct Case {
    messages: Vec<Message>,
    vars: serde_json::Map<String, Value>,
    context: Vec<String>,
}

impl Case {
    fn new() -> Case {
        Case {
            messages: messages(),
            vars: serde_json::from_value(json!({ "product": "kettle", "tags": ["a", "b"] }))
                .unwrap(),
            context: vec!["The warranty covers defects.".into()],
        }
    }

    fn request(&self) -> ChatRequest<'_> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
        headers.insert("x-probity-run-id", HeaderValue::from_static("run-42"));
        ChatRequest {
            case_id: "warranty",
            messages: &self.messages,
            vars: &self.vars,
            context: &self.context,
            headers,
        }
    }
}

async fn chat(provider: &Provider) -> Result<Reply, Failure> {
    let case = Case::new();
    provider.chat(&case.request()).await
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<missing>")
}

// ---------------------------------------------------------------------------------------
// OpenAI: the happy paths

#[tokio::test]
async fn openai_non_streaming_answer_and_the_request_sent() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(ProviderKind::OpenAi, server.base("ok"), false));
    let sent_at = Instant::now();
    let reply = chat(&p).await.unwrap();
    assert_eq!(reply.text, "Hello there");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        (Some(21), Some(3))
    );
    assert_eq!(reply.model.as_deref(), Some("gpt-test-0613"));
    assert_eq!(reply.request_id.as_deref(), Some("req-123"));
    assert_eq!(reply.http_status, 200);
    assert!(reply.first_token_at.unwrap() >= sent_at);

    let seen = server.log.last("ok");
    assert_eq!(header(&seen, "authorization"), format!("Bearer {KEY}"));
    assert_eq!(header(&seen, "traceparent"), TRACEPARENT);
    assert_eq!(header(&seen, "x-probity-run-id"), "run-42");
    assert_eq!(header(&seen, "x-team"), "probes");
    assert_eq!(
        header(&seen, "user-agent"),
        concat!("probity/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        seen.body,
        json!({
            "model": "test-model", "stream": false, "temperature": 0.7, "max_tokens": 400,
            "messages": [
                { "role": "system", "content": "You are terse." },
                { "role": "user", "content": "Say hello" },
                { "role": "assistant", "content": "Hello?" },
                { "role": "system", "content": "Answer in English." },
                { "role": "user", "content": "Say hello again" }
            ]
        })
    );
}

#[tokio::test]
async fn openai_streaming_answer_usage_and_include_usage() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("ok-stream"),
        true,
    ));
    let reply = chat(&p).await.unwrap();
    assert_eq!(reply.text, "Hello");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        (Some(21), Some(2))
    );
    assert_eq!(reply.model.as_deref(), Some("gpt-test-0613"));
    assert_eq!(reply.request_id.as_deref(), Some("req-stream-1"));
    assert!(reply.first_token_at.is_some());

    let seen = server.log.last("ok-stream");
    assert_eq!(seen.body["stream"], json!(true));
    assert_eq!(
        seen.body["stream_options"],
        json!({ "include_usage": true })
    );
    assert_eq!(header(&seen, "traceparent"), TRACEPARENT);
}

#[tokio::test]
async fn openai_first_token_is_the_first_content_not_the_role_chunk() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("slow-first"),
        true,
    ));
    let sent_at = Instant::now();
    let reply = chat(&p).await.unwrap();
    assert_eq!(reply.text, "Late");
    let ttft = reply.first_token_at.unwrap().duration_since(sent_at);
    assert!(
        ttft >= Duration::from_millis(200),
        "time to first token {ttft:?}"
    );
}

#[tokio::test]
async fn openai_request_id_falls_back_to_other_headers() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("request-id-fallback"),
        false,
    ));
    assert_eq!(
        chat(&p).await.unwrap().request_id.as_deref(),
        Some("8a1b2c3d4e-FRA")
    );
}

#[tokio::test]
async fn openai_stream_without_done_but_with_finish_reason_is_complete() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(ProviderKind::OpenAi, server.base("no-done"), true));
    let reply = chat(&p).await.unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.finish_reason.as_deref()),
        ("Fine", Some("stop"))
    );
}

#[tokio::test]
async fn openai_json_answer_to_a_stream_request_is_read_as_json() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("json-despite-stream"),
        true,
    ));
    assert_eq!(chat(&p).await.unwrap().text, "Not streamed");
}

#[tokio::test]
async fn openai_slow_drip_bodies_complete() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(ProviderKind::OpenAi, server.base("drip"), false));
    let sent_at = Instant::now();
    let reply = chat(&p).await.unwrap();
    let took = sent_at.elapsed();
    assert_eq!(reply.text, "Dripped answer");
    assert_eq!(reply.output_tokens, Some(3));
    assert!(took >= Duration::from_millis(700), "took {took:?}");
    // Not streamed: the first sign of an answer is the headers, long before the body ends.
    assert!(
        reply.first_token_at.unwrap().duration_since(sent_at) < took - Duration::from_millis(500)
    );

    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("drip-stream"),
        true,
    ));
    let reply = chat(&p).await.unwrap();
    assert_eq!(reply.text, "h\u{e9}llo w\u{f6}rld \u{1f600}");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn a_finished_stream_leaves_its_connection_for_the_next_request() {
    // Reading past `[DONE]` to the end of the body is what lets the pool keep the
    // connection; otherwise every sample would pay for a new handshake.
    let (addr, connections) = bad_server::keep_alive_stream(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n\
          data: [DONE]\n\n",
    )
    .await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        format!("http://{addr}/v1"),
        true,
    ));
    for _ in 0..3 {
        assert_eq!(chat(&p).await.unwrap().text, "Hi");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn openai_embeddings_in_input_order() {
    let server = Server::start(openai_app).await;
    let mut t = target(ProviderKind::OpenAi, server.base("emb"), false);
    let p = provider(&t);
    let texts = vec!["first".to_owned(), "second".to_owned()];
    let e = p.embed(&texts).await.unwrap();
    assert_eq!(e.vectors, vec![vec![1.0, 0.0, -0.5], vec![0.0, 1.0, 0.5]]);
    assert_eq!(e.input_tokens, Some(6));
    let seen = server.log.last("emb");
    assert_eq!(
        seen.body,
        json!({ "model": "text-embedding-3-small", "input": ["first", "second"] })
    );
    assert_eq!(header(&seen, "authorization"), format!("Bearer {KEY}"));

    t.embeddings_model = Some("my-embedder".into());
    t.base_url = server.base("emb2");
    provider(&t).embed(&texts).await.unwrap();
    assert_eq!(server.log.last("emb2").body["model"], json!("my-embedder"));
}

// ---------------------------------------------------------------------------------------
// OpenAI: every way it goes wrong

async fn openai_failure(scenario: &str, stream: bool) -> Failure {
    let server = Server::start(openai_app).await;
    let p = provider(&target(ProviderKind::OpenAi, server.base(scenario), stream));
    chat(&p).await.unwrap_err()
}

#[tokio::test]
async fn invalid_json_is_malformed() {
    let f = openai_failure("invalid-json", false).await;
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::MalformedResponse, Some(200))
    );
    assert!(f.message.contains("not valid JSON"), "{}", f.message);
}

#[tokio::test]
async fn missing_choices_is_malformed_and_says_so() {
    let f = openai_failure("no-choices", false).await;
    assert_eq!(f.class, ErrorClass::MalformedResponse);
    assert!(
        f.message
            .contains("has no `choices` (found keys `id`, `object`)"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_401_echoing_the_key_never_shows_the_key() {
    let server = Server::start(openai_app).await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        server.base("echo-auth"),
        false,
    ));
    let f = chat(&p).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Http4xx, Some(401)));
    assert_eq!(f.request_id.as_deref(), Some("req-401"));
    let url = format!("http://{}/echo-auth/chat/completions", server.addr);
    assert!(
        f.message
            .starts_with(&format!("HTTP 401 Unauthorized from {url}: ")),
        "{}",
        f.message
    );
    assert!(!f.message.contains(KEY), "{}", f.message);
    assert!(!f.message.contains(&KEY[..12]), "{}", f.message);
    assert!(f.message.contains("Bearer [REDACTED]"), "{}", f.message);
    assert!(!f.message.contains('\n'), "one line: {}", f.message);
    assert_eq!(f.retry_after, None);
    // The server did receive the key: the redaction is in the message, not the request.
    assert_eq!(
        header(&server.log.last("echo-auth"), "authorization"),
        format!("Bearer {KEY}")
    );
}

#[tokio::test]
async fn a_429_carries_retry_after() {
    let f = openai_failure("rate-limited", false).await;
    assert_eq!((f.class, f.http_status), (ErrorClass::Http429, Some(429)));
    assert_eq!(f.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(f.request_id.as_deref(), Some("req-429"));
    assert!(
        f.message.starts_with("HTTP 429 Too Many Requests from "),
        "{}",
        f.message
    );
    assert!(f.class.is_retryable());
}

#[tokio::test]
async fn a_500_is_5xx_with_the_body_on_one_line() {
    let f = openai_failure("error-500", false).await;
    assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(500)));
    assert!(
        f.message.ends_with(": internal boom at line 3"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_503_with_an_http_date_retry_after() {
    let f = openai_failure("error-503", true).await;
    assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(503)));
    let wait = f.retry_after.expect("Retry-After as a date");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(121),
        "{wait:?}"
    );
    assert!(
        f.message.starts_with("HTTP 503 Service Unavailable from "),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_connection_reset_before_the_status_is_connect() {
    let addr = bad_server::resetting().await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        format!("http://{addr}/v1"),
        false,
    ));
    let f = chat(&p).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Connect, None));
    assert!(
        f.message.starts_with(&format!(
            "could not reach http://{addr}/v1/chat/completions: "
        )),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_closed_port_is_connect() {
    let addr = bad_server::closed_port().await;
    let p = provider(&target(
        ProviderKind::Anthropic,
        format!("http://{addr}/v1"),
        true,
    ));
    let f = chat(&p).await.unwrap_err();
    assert_eq!(f.class, ErrorClass::Connect);
    assert!(f.message.contains("refused"), "{}", f.message);
}

#[tokio::test]
async fn a_non_streamed_body_cut_midway_is_malformed() {
    let addr = bad_server::raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"choices\": [{\"message\"",
    )
    .await;
    let p = provider(&target(
        ProviderKind::OpenAi,
        format!("http://{addr}/v1"),
        false,
    ));
    let f = chat(&p).await.unwrap_err();
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::MalformedResponse, Some(200))
    );
    assert!(
        f.message.starts_with("response body ended early"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_truncated_stream_is_interrupted_with_the_partial_text() {
    let f = openai_failure("truncated", true).await;
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::StreamInterrupted, Some(200))
    );
    assert_eq!(f.partial_text.as_deref(), Some("Partial answer"));
    assert_eq!(f.request_id.as_deref(), Some("req-trunc"));
    assert!(f.first_token_at.is_some());

    let f = openai_failure("cut", true).await;
    assert_eq!(f.class, ErrorClass::StreamInterrupted);
    assert_eq!(f.partial_text.as_deref(), Some("Cut short"));
}

#[tokio::test]
async fn content_filter_is_a_failure_streamed_or_not() {
    let f = openai_failure("content-filter", false).await;
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::ContentFilter, Some(200))
    );
    assert_eq!(f.partial_text, None);

    let f = openai_failure("content-filter-stream", true).await;
    assert_eq!(f.class, ErrorClass::ContentFilter);
    assert_eq!(f.partial_text.as_deref(), Some("Here is how to"));
}

#[tokio::test]
async fn an_error_inside_the_stream_is_classified() {
    let f = openai_failure("in-stream-error", true).await;
    assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(500)));
    assert_eq!(f.partial_text.as_deref(), Some("Start"));
    assert!(
        f.message.contains("server_error: The server had an error"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_non_utf8_body_is_malformed() {
    let f = openai_failure("non-utf8", false).await;
    assert_eq!(f.class, ErrorClass::MalformedResponse);
    assert!(f.message.contains("not UTF-8"), "{}", f.message);
}

#[tokio::test]
async fn bad_configuration_fails_at_build_naming_the_header_not_the_value() {
    let mut t = target(ProviderKind::OpenAi, "http://127.0.0.1:9/v1".into(), false);
    t.headers
        .insert("x-token".into(), Secret::new("hunter2-secret\r\nx: y"));
    let err = Provider::new(&t, Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`x-token`") && !err.contains("hunter2"),
        "{err}"
    );

    let t = target(ProviderKind::OpenAi, "not a url".into(), false);
    let err = Provider::new(&t, Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a URL"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Anthropic

#[tokio::test]
async fn anthropic_non_streaming_answer_and_the_request_sent() {
    let server = Server::start(anthropic_app).await;
    let mut t = target(ProviderKind::Anthropic, server.base("ok"), false);
    t.params.remove("max_tokens");
    let reply = chat(&provider(&t)).await.unwrap();
    assert_eq!(reply.text, "Hi there");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        (Some(31), Some(4))
    );
    assert_eq!(reply.model.as_deref(), Some("claude-test-20250101"));
    assert_eq!(reply.request_id.as_deref(), Some("req_ant_1"));

    let seen = server.log.last("ok");
    assert_eq!(header(&seen, "x-api-key"), KEY);
    assert_eq!(header(&seen, "anthropic-version"), "2023-06-01");
    assert_eq!(header(&seen, "authorization"), "<missing>");
    assert_eq!(header(&seen, "traceparent"), TRACEPARENT);
    assert_eq!(header(&seen, "x-probity-run-id"), "run-42");
    assert_eq!(
        seen.body,
        json!({
            "model": "test-model", "max_tokens": 1024, "stream": false, "temperature": 0.7,
            "system": "You are terse.\n\nAnswer in English.",
            "messages": [
                { "role": "user", "content": "Say hello" },
                { "role": "assistant", "content": "Hello?" },
                { "role": "user", "content": "Say hello again" }
            ]
        })
    );
}

#[tokio::test]
async fn anthropic_streaming_answer() {
    let server = Server::start(anthropic_app).await;
    let t = target(ProviderKind::Anthropic, server.base("ok-stream"), true);
    let reply = chat(&provider(&t)).await.unwrap();
    assert_eq!(reply.text, "Hi there");
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        (Some(25), Some(3))
    );
    assert_eq!(reply.model.as_deref(), Some("claude-test-20250101"));
    assert_eq!(reply.request_id.as_deref(), Some("req_ant_stream"));
    let seen = server.log.last("ok-stream");
    assert_eq!(
        (&seen.body["stream"], &seen.body["max_tokens"]),
        (&json!(true), &json!(400))
    );
    assert!(seen.body.get("stream_options").is_none());
}

#[tokio::test]
async fn anthropic_first_token_skips_empty_deltas() {
    let server = Server::start(anthropic_app).await;
    let t = target(ProviderKind::Anthropic, server.base("slow-first"), true);
    let sent_at = Instant::now();
    let reply = chat(&provider(&t)).await.unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.finish_reason.as_deref()),
        ("Late", Some("stop"))
    );
    assert_eq!(reply.request_id.as_deref(), Some("msg_01XFD"));
    let ttft = reply.first_token_at.unwrap().duration_since(sent_at);
    assert!(
        ttft >= Duration::from_millis(200),
        "time to first token {ttft:?}"
    );
}

#[tokio::test]
async fn anthropic_stop_reasons_are_normalised() {
    let server = Server::start(anthropic_app).await;
    let t = target(ProviderKind::Anthropic, server.base("max-tokens"), false);
    let reply = chat(&provider(&t)).await.unwrap();
    assert_eq!(reply.finish_reason.as_deref(), Some("length"));
    assert_eq!(reply.request_id.as_deref(), Some("msg_02ABC"));

    let t = target(ProviderKind::Anthropic, server.base("refusal"), false);
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::ContentFilter, Some(200))
    );
}

#[tokio::test]
async fn anthropic_error_events_are_classified() {
    let server = Server::start(anthropic_app).await;
    let t = target(ProviderKind::Anthropic, server.base("overloaded"), true);
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(529)));
    assert_eq!(f.partial_text.as_deref(), Some("Par"));
    assert!(
        f.message.contains("overloaded_error: Overloaded"),
        "{}",
        f.message
    );

    let t = target(
        ProviderKind::Anthropic,
        server.base("rate-limit-event"),
        true,
    );
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Http429, Some(429)));

    let t = target(
        ProviderKind::Anthropic,
        server.base("http-overloaded"),
        true,
    );
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Http5xx, Some(529)));
    assert_eq!(f.request_id.as_deref(), Some("req_529"));
    assert!(f.message.starts_with("HTTP 529 from "), "{}", f.message);
}

#[tokio::test]
async fn anthropic_stream_without_message_stop_is_interrupted() {
    let server = Server::start(anthropic_app).await;
    let t = target(ProviderKind::Anthropic, server.base("truncated"), true);
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!(f.class, ErrorClass::StreamInterrupted);
    assert_eq!(f.partial_text.as_deref(), Some("Hi the"));
}

#[tokio::test]
async fn anthropic_has_no_embeddings() {
    let t = target(
        ProviderKind::Anthropic,
        "http://127.0.0.1:9/v1".into(),
        false,
    );
    let f = provider(&t).embed(&["x".to_owned()]).await.unwrap_err();
    assert_eq!(f.class, ErrorClass::Http4xx);
}

// ---------------------------------------------------------------------------------------
// The http provider

fn rag_target(server: &Server, scenario: &str, text_pointer: &str) -> Target {
    let mut t = target(ProviderKind::Http, String::new(), false);
    t.api_key = None;
    t.http = Some(HttpSpec {
        method: reqwest::Method::POST,
        url: format!("http://{}/{scenario}", server.addr),
        body: json!({
            "query": "{{prompt}}",
            "instructions": "{{system}}",
            "filters": { "product": "{{vars.product}}", "tags": "{{json vars.tags}}" },
            "history": "{{json messages}}",
            "passages": "{{json context}}",
            "meta": ["{{case_id}}", "{{model}}", "t={{params.temperature}}", 3, true, null]
        }),
        response: HttpResponseMap {
            text: text_pointer.into(),
            context: Some("/retrieval/docs".into()),
            context_item: Some("/chunk/content".into()),
            input_tokens: Some("/usage/in".into()),
            output_tokens: Some("/usage/out".into()),
            finish_reason: Some("/result/finish".into()),
            model: Some("/result/engine".into()),
            timings: Default::default(),
        },
    });
    t
}

#[tokio::test]
async fn http_provider_renders_the_body_and_follows_the_pointers() {
    let server = Server::start(rag_app).await;
    let p = provider(&rag_target(&server, "rag", "/result/answer/text"));
    let reply = chat(&p).await.unwrap();
    assert_eq!(reply.text, "Defects are covered for 2 years.");
    assert_eq!(
        reply.context,
        vec!["The warranty covers defects.", "Water damage is excluded."]
    );
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        (Some(120), Some(9))
    );
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(reply.model.as_deref(), Some("rag-v2"));
    assert_eq!(reply.request_id.as_deref(), Some("rag-req-7"));

    let seen = server.log.last("rag");
    assert_eq!(header(&seen, "traceparent"), TRACEPARENT);
    assert_eq!(header(&seen, "x-team"), "probes");
    assert_eq!(header(&seen, "authorization"), "<missing>");
    assert_eq!(
        seen.body,
        json!({
            "query": "Say hello again",
            "instructions": "You are terse.\n\nAnswer in English.",
            "filters": { "product": "kettle", "tags": ["a", "b"] },
            "history": [
                { "role": "system", "content": "You are terse." },
                { "role": "user", "content": "Say hello" },
                { "role": "assistant", "content": "Hello?" },
                { "role": "system", "content": "Answer in English." },
                { "role": "user", "content": "Say hello again" }
            ],
            "passages": ["The warranty covers defects."],
            "meta": ["warranty", "test-model", "t=0.7", 3, true, null]
        })
    );
}

#[tokio::test]
async fn http_provider_pointer_failures_name_the_pointer_and_type() {
    let server = Server::start(rag_app).await;
    let p = provider(&rag_target(
        &server,
        "rag-shape-changed",
        "/result/answer/text",
    ));
    let f = chat(&p).await.unwrap_err();
    assert_eq!(
        (f.class, f.http_status),
        (ErrorClass::MalformedResponse, Some(200))
    );
    assert!(
        f.message.contains("pointer `/result/answer/text` (response.text) does not resolve: `/result/answer` is an array of 1 item, no index `text`"),
        "{}",
        f.message
    );
    assert!(
        !f.message.contains("Defects"),
        "content leaked: {}",
        f.message
    );

    let p = provider(&rag_target(&server, "rag", "/result/answer"));
    let f = chat(&p).await.unwrap_err();
    assert!(
        f.message.contains("found an object, expected a string"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn http_provider_template_problems() {
    let server = Server::start(rag_app).await;
    let mut t = rag_target(&server, "rag", "/result/answer/text");
    if let Some(http) = t.http.as_mut() {
        http.body = json!({ "q": "{{vars.plan}}" });
    }
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!((f.class, f.http_status), (ErrorClass::Http4xx, None));
    assert!(
        f.message
            .contains("http.body at `/q`: undefined template variable"),
        "{}",
        f.message
    );

    if let Some(http) = t.http.as_mut() {
        http.body = json!({ "q": "{{#each x}}" });
    }
    let err = Provider::new(&t, Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.body at `/q`: template syntax"), "{err}");

    t.http = None;
    let err = Provider::new(&t, Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs an `http:` section"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Completeness of streams, usage bounds, hints and secrets in URLs

#[tokio::test]
async fn done_before_every_finish_reason_is_an_interrupted_stream() {
    // `[DONE]` alone proves nothing: llama-cpp-python sends it after the role chunk when it
    // abandons a stream. The partial text and the first token's time are kept.
    let f = openai_failure("done-before-finish", true).await;
    assert_eq!(f.class, ErrorClass::StreamInterrupted, "{f:?}");
    assert_eq!(f.partial_text.as_deref(), Some("Partial"));
    assert!(f.first_token_at.is_some());
    assert!(f.message.contains("finish_reason"), "{}", f.message);
    let f = openai_failure("role-then-done", true).await;
    assert_eq!(f.class, ErrorClass::StreamInterrupted);
    assert_eq!((f.partial_text, f.first_token_at), (None, None));
    // With `n > 1`, every choice the stream opened must finish, not only the first.
    let f = openai_failure("second-choice-unfinished", true).await;
    assert_eq!(f.class, ErrorClass::StreamInterrupted);
    assert!(ErrorClass::StreamInterrupted.is_retryable());
}

#[tokio::test]
async fn anthropic_message_stop_without_a_stop_reason_is_interrupted() {
    let server = Server::start(anthropic_app).await;
    let t = target(
        ProviderKind::Anthropic,
        server.base("stop-without-reason"),
        true,
    );
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!(f.class, ErrorClass::StreamInterrupted, "{f:?}");
    assert_eq!(f.partial_text.as_deref(), Some("Hi"));
    assert!(f.message.contains("stop_reason"), "{}", f.message);
}

#[tokio::test]
async fn an_embeddings_usage_no_request_can_have_is_malformed() {
    // 2^64 − 1 tokens would wrap the run's totals (and panic the scoring task in debug).
    let server = Server::start(openai_app).await;
    let t = target(ProviderKind::OpenAi, server.base("emb-huge-usage"), false);
    let f = provider(&t).embed(&["x".to_owned()]).await.unwrap_err();
    assert_eq!(f.class, ErrorClass::MalformedResponse, "{f:?}");
    assert!(f.message.contains("input tokens"), "{}", f.message);
}

#[tokio::test]
async fn a_404_on_a_chat_path_without_v1_hints_at_base_url() {
    // Anthropic's SDKs take `https://api.anthropic.com`; users paste it.
    let server = Server::start(openai_app).await;
    for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
        let t = target(kind, format!("http://{}", server.addr), false);
        let f = chat(&provider(&t)).await.unwrap_err();
        assert_eq!(f.http_status, Some(404), "{kind:?}");
        assert!(
            f.message.contains("does base_url need to end in `/v1`?"),
            "{}",
            f.message
        );
    }
    // With `/v1` in the path a 404 means something else: no hint.
    let t = target(
        ProviderKind::OpenAi,
        format!("http://{}/v1/missing", server.addr),
        false,
    );
    let f = chat(&provider(&t)).await.unwrap_err();
    assert_eq!(f.http_status, Some(404));
    assert!(!f.message.contains("hint"), "{}", f.message);
}

#[tokio::test]
async fn a_secret_in_the_url_path_is_hidden_in_every_message() {
    // `base_url: https://gw.example.com/${TENANT_TOKEN}/v1`: the URL is quoted by every
    // failure, and a server may echo the path back.
    const TOKEN: &str = "tenant-tok-5f4e3d2c";
    let server = Server::start(openai_app).await;
    let t = target(
        ProviderKind::OpenAi,
        format!("http://{}/{TOKEN}", server.addr),
        false,
    );
    let hidden = [Secret::new(TOKEN)];
    let f = chat(&Provider::hiding(&t, Duration::from_secs(5), &hidden).unwrap())
        .await
        .unwrap_err();
    assert_eq!(f.http_status, Some(404));
    assert!(!f.message.contains(TOKEN), "{}", f.message);
    assert!(f.message.contains("[REDACTED]"), "{}", f.message);
    // Unreachable, too.
    let addr = bad_server::closed_port().await;
    let t = target(
        ProviderKind::OpenAi,
        format!("http://{addr}/{TOKEN}/v1"),
        true,
    );
    let f = chat(&Provider::hiding(&t, Duration::from_secs(5), &hidden).unwrap())
        .await
        .unwrap_err();
    assert_eq!(f.class, ErrorClass::Connect);
    assert!(!f.message.contains(TOKEN), "{}", f.message);
}
