//! Hostile responses, tried by machine: whatever a server sends — any status, any headers
//! (`Retry-After` and `retry-after-ms` in every legal and illegal form), bodies of random
//! bytes, JSON of the wrong shape, event streams with random event names, delivered in
//! pieces split at random byte positions and cut (or reset) anywhere — each provider
//! (openai, anthropic, http; streamed and not) returns a classified failure or a valid
//! reply, never panics, never hangs past the timeout, and never shows its key.
//!
//! The server is a raw socket (`tokio::net`), so framing can be broken too (wrong
//! `Content-Length`, a body cut mid-way, a reset). Bounded for `cargo test`; the
//! `#[ignore]`d `*_long` tests run many more cases: `cargo test --test provider_props --
//! --ignored`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use probity::config::{HttpResponseMap, HttpSpec, ProviderKind, Secret, Target};
use probity::golden::{Message, Role};
use probity::provider::{ChatRequest, ErrorClass, Provider};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk-prop-0123456789abcdef";
/// Longer than any honest answer here takes; a provider still waiting then has hung.
const HANG: Duration = Duration::from_secs(5);
/// Cases per property in `cargo test`, and in the long runs.
const CASES: u32 = 160;
const LONG_CASES: u32 = 5_000;

/// How the body's length is declared.
#[derive(Debug, Clone)]
enum Length {
    /// `Content-Length` equal to what is sent.
    Exact,
    /// `Content-Length` off by this much (the body then looks cut, or over-long).
    Wrong(i64),
    /// No length: the body ends when the connection closes.
    Close,
    /// `Transfer-Encoding: chunked`, one chunk per piece.
    Chunked,
}

/// One response, as bytes on the wire.
#[derive(Debug, Clone)]
struct Wire {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    length: Length,
    /// Where the body is split into separately written pieces.
    splits: Vec<usize>,
    /// Stop writing after this many body bytes.
    cut_at: Option<usize>,
    /// End with a reset instead of a clean close.
    reset: bool,
}

/// Reads one request (headers and a `Content-Length` body), as a real server would before
/// answering; unread input would turn the close into a reset.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        let n = stream.read(&mut piece).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&piece[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}

async fn write(stream: &mut TcpStream, wire: &Wire) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} Whatever\r\n", wire.status);
    for (name, value) in &wire.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = match wire.cut_at {
        Some(at) => &wire.body[..at.min(wire.body.len())],
        None => &wire.body[..],
    };
    match wire.length {
        Length::Exact => head.push_str(&format!("content-length: {}\r\n", wire.body.len())),
        Length::Wrong(delta) => {
            let n = (wire.body.len() as i64 + delta).max(0);
            head.push_str(&format!("content-length: {n}\r\n"));
        }
        Length::Close => head.push_str("connection: close\r\n"),
        Length::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut start = 0;
    let mut cuts: Vec<usize> = wire.splits.iter().map(|s| (*s).min(body.len())).collect();
    cuts.sort_unstable();
    cuts.push(body.len());
    for end in cuts {
        if end <= start {
            continue;
        }
        let piece = &body[start..end];
        if matches!(wire.length, Length::Chunked) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await?;
            stream.write_all(piece).await?;
            stream.write_all(b"\r\n").await?;
        } else {
            stream.write_all(piece).await?;
        }
        stream.flush().await?;
        start = end;
        // Let the client read each piece on its own.
        tokio::task::yield_now().await;
    }
    if matches!(wire.length, Length::Chunked) && wire.cut_at.is_none() {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await
}

/// A server that answers each connection's request with the response in `next`.
async fn server(next: Arc<Mutex<Option<Wire>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let wire = next.lock().unwrap().clone();
            tokio::spawn(async move {
                let _ = read_request(&mut stream).await;
                if let Some(wire) = wire {
                    let _ = write(&mut stream, &wire).await;
                    if wire.reset {
                        let _ = stream.set_zero_linger();
                        return;
                    }
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------
// Strategies

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => Just(200u16),
        1 => prop::sample::select(vec![201u16, 204, 301, 400, 401, 404, 408, 429, 500, 502, 503, 529]),
        1 => 100u16..=999,
    ]
}

/// `Retry-After` in every legal form and many illegal ones.
fn retry_after_value() -> impl Strategy<Value = String> {
    let now = chrono::Utc::now();
    let soon = (now + chrono::Duration::seconds(3))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    prop_oneof![
        (0u64..200).prop_map(|n| n.to_string()),
        Just("99999999999999999999999999".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just(" 7 ".to_owned()),
        Just(String::new()),
        Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        Just("Sunday, 06-Nov-94 08:49:37 GMT".to_owned()),
        Just("Sun Nov  6 08:49:37 1994".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        Just("Mon, 32 Foo 2024 25:61:61 GMT".to_owned()),
        Just(soon),
        "[ -~]{0,40}",
    ]
}

fn retry_after_ms_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..5000).prop_map(|n| n.to_string()),
        Just("0.5".to_owned()),
        Just("-3".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("1e400".to_owned()),
        Just("184467440737095516160000".to_owned()),
        "[ -~]{0,20}",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("text/event-stream".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        Just("text/plain".to_owned()),
        "[ -~]{0,30}",
    ];
    (
        prop::option::of(content_type),
        prop::option::of(retry_after_value()),
        prop::option::of(retry_after_ms_value()),
        prop::option::of("[ -~]{0,40}"),
        prop::collection::vec(("x-[a-z]{1,8}", "[ -~]{0,30}"), 0..3),
    )
        .prop_map(|(ct, ra, ms, rid, extra)| {
            let mut h = Vec::new();
            if let Some(ct) = ct {
                h.push(("content-type".to_owned(), ct));
            }
            if let Some(ra) = ra {
                h.push(("retry-after".to_owned(), ra));
            }
            if let Some(ms) = ms {
                h.push(("retry-after-ms".to_owned(), ms));
            }
            if let Some(rid) = rid {
                h.push(("x-request-id".to_owned(), rid));
            }
            h.extend(extra);
            h
        })
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "choices",
                    "message",
                    "content",
                    "delta",
                    "index",
                    "finish_reason",
                    "usage",
                    "prompt_tokens",
                    "completion_tokens",
                    "model",
                    "error",
                    "type",
                    "text",
                    "stop_reason",
                    "input_tokens",
                    "output_tokens",
                    "answer",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Answers that are nearly right: the real shapes with any value in any field.
fn near_answer() -> impl Strategy<Value = Value> {
    (any_json(), any_json(), any_json()).prop_map(|(content, finish, usage)| {
        json!({
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                          "finish_reason": finish }],
            "usage": usage,
            "type": "message", "content": [{ "type": "text", "text": content }],
            "stop_reason": finish,
            "answer": content,
            "passages": usage,
        })
    })
}

/// One SSE event: a random or real event name, data that is JSON (of any shape, or of the
/// real chunk shapes) or not.
fn sse_event() -> impl Strategy<Value = String> {
    let name = prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "message_delta",
            "message_stop",
            "ping",
            "error",
            "content_block_stop",
            "completion",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ]);
    let data = prop_oneof![
        any_json().prop_map(|v| v.to_string()),
        near_chunk().prop_map(|v| v.to_string()),
        Just("[DONE]".to_owned()),
        "[ -~]{0,40}",
        Just(String::new()),
    ];
    (name, data, prop::bool::ANY).prop_map(|(name, data, crlf)| {
        let mut e = String::new();
        if let Some(name) = name {
            e.push_str(&format!("event: {name}\n"));
        }
        e.push_str(&format!("data: {data}\n\n"));
        if crlf { e.replace('\n', "\r\n") } else { e }
    })
}

fn near_chunk() -> impl Strategy<Value = Value> {
    (any_json(), any_json(), 0u64..3, any_json()).prop_map(|(delta, finish, index, usage)| {
        json!({
            "choices": [{ "index": index, "delta": { "content": delta }, "finish_reason": finish }],
            "usage": usage,
            "type": "content_block_delta", "delta": { "type": "text_delta", "text": delta },
            "message": { "usage": usage },
        })
    })
}

/// Valid answers in each API's shape (one JSON object serves all three), streamed or not,
/// so that cutting and splitting them is tried too.
fn valid_answer() -> impl Strategy<Value = Vec<u8>> {
    let text = "[a-zA-Z ]{0,30}";
    (text, prop::bool::ANY).prop_map(|(text, streamed)| {
        if !streamed {
            return json!({
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": text },
                              "finish_reason": "stop" }],
                "type": "message", "content": [{ "type": "text", "text": text }],
                "stop_reason": "end_turn", "answer": text, "passages": [text],
            })
            .to_string()
            .into_bytes();
        }
        let chunk = json!({ "choices": [{ "index": 0, "delta": { "content": text },
                                          "finish_reason": "stop" }] });
        let delta = json!({ "type": "content_block_delta", "index": 0,
                            "delta": { "type": "text_delta", "text": text } });
        format!(
            "data: {chunk}\n\nevent: content_block_delta\ndata: {delta}\n\n\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\ndata: [DONE]\n\n"
        )
        .into_bytes()
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        valid_answer(),
        prop::collection::vec(any::<u8>(), 0..300),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        near_answer().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(sse_event(), 0..8).prop_map(|e| e.concat().into_bytes()),
        // A body that echoes the key: no message may repeat it.
        Just(format!("{{\"error\": {{\"message\": \"bad key Bearer {KEY}\"}}}}").into_bytes()),
    ]
}

fn wire() -> impl Strategy<Value = Wire> {
    (
        status(),
        headers(),
        body(),
        prop_oneof![
            3 => Just(Length::Exact),
            1 => (-50i64..50).prop_map(Length::Wrong),
            1 => Just(Length::Close),
            2 => Just(Length::Chunked),
        ],
        prop::collection::vec(0usize..400, 0..6),
        prop::option::weighted(0.2, 0usize..400),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(status, headers, body, length, splits, cut_at, reset)| Wire {
                status,
                headers,
                body,
                length,
                splits,
                cut_at,
                reset,
            },
        )
}

// ---------------------------------------------------------------------------------------
// The property

fn target(kind: ProviderKind, addr: SocketAddr, stream: bool) -> Target {
    let http = (kind == ProviderKind::Http).then(|| HttpSpec {
        method: reqwest::Method::POST,
        url: format!("http://{addr}/ask"),
        body: json!({ "q": "{{prompt}}" }),
        response: HttpResponseMap {
            text: "/answer".into(),
            context: Some("/passages".into()),
            context_item: None,
            input_tokens: Some("/usage/in".into()),
            output_tokens: Some("/usage/out".into()),
            finish_reason: Some("/finish".into()),
            model: Some("/model".into()),
            timings: Default::default(),
        },
    });
    Target {
        name: "default".into(),
        provider: kind,
        base_url: format!("http://{addr}/v1"),
        model: "m".into(),
        api_key: Some(Secret::new(KEY)),
        stream,
        params: Default::default(),
        labels: BTreeMap::new(),
        headers: BTreeMap::new(),
        http,
        embeddings_model: None,
        pricing: Default::default(),
    }
}

/// Runs `cases` hostile responses against `kind`; returns how many ran. The bounded runs
/// use a fixed seed (the same cases every time, so `cargo test` cannot flake); the long
/// runs a random one.
fn hostile_responses(kind: ProviderKind, cases: u32, seeded: bool) -> usize {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let next = Arc::new(Mutex::new(None));
    let addr = rt.block_on(server(next.clone()));
    let ran = AtomicUsize::new(0);
    let outcomes: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = if seeded {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    } else {
        TestRunner::new(config)
    };
    let messages = vec![Message {
        role: Role::User,
        content: "How long do I have to ask for a refund?".into(),
    }];
    let vars = serde_json::Map::new();
    let result = runner.run(&(wire(), prop::bool::ANY), |(wire, stream)| {
        ran.fetch_add(1, Ordering::Relaxed);
        // Building a client needs the runtime's context.
        let _inside = rt.enter();
        *next.lock().unwrap() = Some(wire.clone());
        // A new client per case: a pooled connection the server closed would make the
        // next case's outcome depend on the last one.
        let provider = Provider::new(&target(kind, addr, stream), Duration::from_secs(2))
            .map_err(|e| TestCaseError::fail(format!("build: {e}")))?;
        let request = ChatRequest {
            case_id: "c",
            messages: &messages,
            vars: &vars,
            context: &[],
            headers: Default::default(),
        };
        let outcome = rt.block_on(tokio::time::timeout(HANG, provider.chat(&request)));
        let Ok(outcome) = outcome else {
            return Err(TestCaseError::fail("hung past the timeout"));
        };
        let class = outcome.as_ref().map_or_else(|f| f.class.as_str(), |_| "ok");
        *outcomes.lock().unwrap().entry(class).or_default() += 1;
        match outcome {
            Ok(reply) => {
                prop_assert!((200..300).contains(&reply.http_status), "{reply:?}");
            }
            Err(f) => {
                prop_assert!(!f.message.is_empty());
                prop_assert!(!f.message.contains(KEY), "{}", f.message);
                if let Some(status) = f.http_status {
                    let expected = match status {
                        429 => Some(ErrorClass::Http429),
                        400..=499 => Some(ErrorClass::Http4xx),
                        500..=599 => Some(ErrorClass::Http5xx),
                        _ => None,
                    };
                    // A 2xx may carry an error of any class in its body.
                    if !(200..300).contains(&status) {
                        prop_assert_eq!(
                            Some(f.class),
                            expected.or(Some(ErrorClass::MalformedResponse))
                        );
                    }
                }
                if let Some(wait) = f.retry_after {
                    prop_assert!(wait <= Duration::from_secs(24 * 60 * 60));
                    prop_assert!(matches!(f.class, ErrorClass::Http429 | ErrorClass::Http5xx));
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{kind:?}: {e}");
    }
    let ran = ran.load(Ordering::Relaxed);
    let outcomes = outcomes.into_inner().unwrap();
    eprintln!("{kind:?}: {ran} cases, none failed; outcomes {outcomes:?}");
    // A harness that only ever produced one outcome (say, every case `connect`) would
    // test nothing: the responses must reach the parser in all their variety.
    assert!(outcomes.contains_key("ok"), "{outcomes:?}");
    assert!(outcomes.len() >= 4, "{outcomes:?}");
    ran
}

#[test]
fn openai_survives_hostile_responses() {
    assert!(hostile_responses(ProviderKind::OpenAi, CASES, true) >= CASES as usize);
}

#[test]
fn anthropic_survives_hostile_responses() {
    assert!(hostile_responses(ProviderKind::Anthropic, CASES, true) >= CASES as usize);
}

#[test]
fn http_survives_hostile_responses() {
    assert!(hostile_responses(ProviderKind::Http, CASES, true) >= CASES as usize);
}

#[test]
#[ignore = "long run: cargo test --test provider_props -- --ignored"]
fn openai_survives_hostile_responses_long() {
    hostile_responses(ProviderKind::OpenAi, LONG_CASES, false);
}

#[test]
#[ignore = "long run: cargo test --test provider_props -- --ignored"]
fn anthropic_survives_hostile_responses_long() {
    hostile_responses(ProviderKind::Anthropic, LONG_CASES, false);
}

#[test]
#[ignore = "long run: cargo test --test provider_props -- --ignored"]
fn http_survives_hostile_responses_long() {
    hostile_responses(ProviderKind::Http, LONG_CASES, false);
}
