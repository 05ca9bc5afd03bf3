//! Latency by component (issue 13), end to end: an endpoint on 127.0.0.1 that sleeps known
//! amounts in "retrieval" and "generation" and says so in `Server-Timing` (and, for an
//! `http` target, in its JSON), probed the way `probity run` probes. The breakdown probity
//! stores is compared with what the server measured itself, never with a speed target.

#[path = "support/process.rs"]
mod process;
#[path = "support/project.rs"]
mod project;
#[path = "support/prometheus.rs"]
mod prometheus;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use probity::pipeline::{RunOptions, RunOutcome, RunStatus};
use probity::runner::Timings;
use probity::store::Store;
use project::Project;
use serde_json::{Value, json};

/// How far probity's figure of an interval may be from the server's own: the two clocks
/// measure the same thing from either end of a loopback socket, on a loaded 2-core machine.
const SLACK_MS: f64 = 30.0;
const RETRIEVAL: Duration = Duration::from_millis(60);
const GENERATION: Duration = Duration::from_millis(90);
/// The sleeps between streamed content chunks.
const GAPS_MS: [u64; 6] = [20, 60, 20, 60, 20, 120];

/// What the server measured, per request.
#[derive(Default)]
struct Measured {
    /// retrieval, generation and the whole handler, in ms.
    work: Vec<(f64, f64, f64)>,
    /// The gaps between the content chunks it sent, per streamed request.
    gaps: Vec<Vec<f64>>,
}

type Shared = Arc<Mutex<Measured>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sleeps in retrieval then generation, measuring both.
async fn work(seen: &Shared) -> (f64, f64) {
    let start = Instant::now();
    tokio::time::sleep(RETRIEVAL).await;
    let retrieval = ms(start.elapsed());
    let mid = Instant::now();
    tokio::time::sleep(GENERATION).await;
    let generation = ms(mid.elapsed());
    seen.lock()
        .unwrap()
        .work
        .push((retrieval, generation, ms(start.elapsed())));
    (retrieval, generation)
}

async fn chat(State(seen): State<Shared>, body: axum::body::Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap();
    if request["stream"] == json!(true) {
        return stream(seen).await;
    }
    let (retrieval, generation) = work(&seen).await;
    let answer = json!({
        "id": "c1", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}
    });
    Response::builder()
        .header("content-type", "application/json")
        // A marker without dur and a quoted description: not components, not a problem.
        .header(
            "server-timing",
            format!("retrieval;dur={retrieval:.3};desc=\"vector, db\", cache;desc=miss"),
        )
        .header("server-timing", format!("generation;dur={generation:.3}"))
        .body(Body::from(answer.to_string()))
        .unwrap()
}

/// Content chunks sent with known sleeps between them; the server notes when it sent each.
async fn stream(seen: Shared) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(16);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Value| {
            let c = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            format!("data: {c}\n\n")
        };
        let _ = tx
            .send(chunk(json!({"role": "assistant"}), Value::Null))
            .await;
        let mut sent = vec![Instant::now()];
        let _ = tx.send(chunk(json!({"content": "t0 "}), Value::Null)).await;
        for (i, gap) in GAPS_MS.iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(*gap)).await;
            sent.push(Instant::now());
            let _ = tx
                .send(chunk(
                    json!({"content": format!("t{} ", i + 1)}),
                    Value::Null,
                ))
                .await;
        }
        let gaps = sent.windows(2).map(|w| ms(w[1] - w[0])).collect();
        seen.lock().unwrap().gaps.push(gaps);
        let _ = tx.send(chunk(json!({}), json!("stop"))).await;
        let _ = tx.send("data: [DONE]\n\n".to_owned()).await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (Ok::<_, Infallible>(s), rx))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("server-timing", "generation;dur=5")
        .body(Body::from_stream(body))
        .unwrap()
}

/// A RAG service: the components in its JSON and a `Server-Timing` whose `retrieval` the
/// JSON overrides.
async fn rag(State(seen): State<Shared>) -> Response {
    let (retrieval, generation) = work(&seen).await;
    let answer = json!({
        "answer": "ok",
        "meta": { "retrieval_ms": retrieval, "generation_ms": generation, "rerank_ms": null }
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("server-timing", "retrieval;dur=99999, edge;dur=1")
        .body(Body::from(answer.to_string()))
        .unwrap()
}

async fn start() -> (u16, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/rag", post(rag))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

const GOLDEN: &str = "name: g\ncases:\n  - id: one\n    messages: [{ role: user, content: hi }]\n";

async fn run(target: &str) -> (RunOutcome, Vec<Timings>) {
    let probe = format!(
        "name: bot\n{target}golden_sets: [golden-sets/g.yaml]\nsamples: 3\nconcurrency: 1\ntimeout: 10s\n"
    );
    let project =
        Project::with_files(&[("probes/bot.yaml", &probe), ("golden-sets/g.yaml", GOLDEN)]);
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::Complete);
    let mut rows = store.observations(&outcome.run_id).unwrap();
    rows.sort_by_key(|r| r.observation.seq);
    let timings = rows
        .into_iter()
        .map(|r| {
            assert!(r.observation.is_ok(), "{:?}", r.observation.error);
            r.observation
                .timings
                .expect("every answered attempt has timings")
        })
        .collect();
    (outcome, timings)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= SLACK_MS
}

#[tokio::test]
async fn server_timing_breakdown_matches_what_the_server_measured() {
    let (port, seen) = start().await;
    // `localhost`, so the first connect resolves a name (an IP literal needs no DNS).
    let target = format!(
        "target:\n  provider: openai\n  base_url: http://localhost:{port}/v1\n  model: m\n  stream: false\n"
    );
    let (outcome, timings) = run(&target).await;
    let work = std::mem::take(&mut seen.lock().unwrap().work);
    assert_eq!((timings.len(), work.len()), (3, 3));
    for (i, (t, (retrieval, generation, handler))) in timings.iter().zip(&work).enumerate() {
        // The header's figures, to the microsecond it printed.
        assert!(
            (t.server["retrieval"] - retrieval).abs() < 0.01,
            "{i}: {t:?}"
        );
        assert!(
            (t.server["generation"] - generation).abs() < 0.01,
            "{i}: {t:?}"
        );
        assert_eq!(
            t.server.len(),
            2,
            "a marker without dur is no component: {t:?}"
        );
        // The first byte comes after the server's work, and not long after.
        let ttfb = t.ttfb_ms.unwrap();
        assert!(
            ttfb >= handler - 1.0 && close(ttfb, *handler),
            "{i}: ttfb {ttfb} vs {handler}"
        );
        // What is left after the server's components: the connection's own phases (on the
        // first attempt) and the loopback round trip.
        let overhead = t.network_overhead_ms.unwrap();
        let phases = t.dns_ms.unwrap_or(0.0) + t.connect_ms.unwrap_or(0.0);
        assert!(
            overhead >= phases - 1.0 && overhead < phases + SLACK_MS,
            "{i}: overhead {overhead}, dns + connect {phases}"
        );
    }
    // The first attempt opened the connection (resolving `localhost`), the others rode it.
    let first = &timings[0];
    assert!(!first.reused_connection, "{first:?}");
    assert!(
        first.dns_ms.is_some() && first.connect_ms.is_some(),
        "{first:?}"
    );
    for t in &timings[1..] {
        assert!(t.reused_connection, "{t:?}");
        assert_eq!((t.dns_ms, t.connect_ms), (None, None), "{t:?}");
    }
    // The run's JSON document summarises the same: probity's phases and the server's.
    let doc = probity::report::json::run_document(&outcome);
    for scope in [
        &doc["summary"]["components"],
        &doc["cases"][0]["components"],
    ] {
        assert_eq!(scope["dns"]["samples"], 1, "{scope}");
        assert_eq!(scope["connect"]["reused_connection"], 0, "{scope}");
        assert_eq!(scope["ttfb"]["samples"], 3, "{scope}");
        assert_eq!(scope["ttfb"]["reused_connection"], 2, "{scope}");
        assert_eq!(scope["network_overhead"]["samples"], 3, "{scope}");
        let retrieval = &scope["retrieval"];
        let max = work.iter().map(|w| w.0).fold(0.0, f64::max);
        assert!(
            (retrieval["max"].as_f64().unwrap() - max).abs() < 0.01,
            "{retrieval}"
        );
        assert!(scope.get("cache").is_none(), "{scope}");
    }
}

#[tokio::test]
async fn streamed_token_gaps_match_the_server_sleeps() {
    let (port, seen) = start().await;
    let target = format!(
        "target:\n  provider: openai\n  base_url: http://127.0.0.1:{port}/v1\n  model: m\n  stream: true\n"
    );
    let (_, timings) = run(&target).await;
    let gaps = std::mem::take(&mut seen.lock().unwrap().gaps);
    assert_eq!((timings.len(), gaps.len()), (3, 3));
    for (t, mut sent) in timings.iter().zip(gaps) {
        sent.sort_by(f64::total_cmp);
        let p50 = probity::stats::quantile(&sent, 0.5).unwrap();
        let p95 = probity::stats::quantile(&sent, 0.95).unwrap();
        let (got50, got95) = (t.gap_p50_ms.unwrap(), t.gap_p95_ms.unwrap());
        assert!(
            close(got50, p50) && close(got95, p95),
            "{t:?} vs server {sent:?}"
        );
        assert_eq!(t.server.get("generation"), Some(&5.0));
    }
    // An IP literal: the new connection has a connect and no DNS phase.
    assert!(timings[0].connect_ms.is_some() && timings[0].dns_ms.is_none());
    assert!(timings[1..].iter().all(|t| t.reused_connection));
}

#[tokio::test]
async fn http_target_components_come_from_its_json_pointers() {
    let (port, seen) = start().await;
    let target = format!(
        "target:\n  provider: http\n  base_url: http://127.0.0.1:{port}\n  model: m\n  url: http://127.0.0.1:{port}/rag\n  body: {{ q: \"{{{{prompt}}}}\" }}\n  response:\n    text: /answer\n    timings: {{ retrieval_ms: /meta/retrieval_ms, generation: /meta/generation_ms, rerank_ms: /meta/rerank_ms }}\n"
    );
    let (_, timings) = run(&target).await;
    let work = std::mem::take(&mut seen.lock().unwrap().work);
    for (t, (retrieval, generation, _)) in timings.iter().zip(&work) {
        // The body wins over the header for `retrieval`; `edge` comes from the header only;
        // a null pointer is no component.
        assert_eq!(t.server.get("retrieval"), Some(retrieval), "{t:?}");
        assert_eq!(t.server.get("generation"), Some(generation), "{t:?}");
        assert_eq!(t.server.get("edge"), Some(&1.0), "{t:?}");
        assert!(!t.server.contains_key("rerank"), "{t:?}");
    }
}

/// Which client port served each attempt (by its `traceparent` span id), in arrival order.
type Ports = Arc<Mutex<Vec<(String, u16)>>>;

async fn by_port(
    State(ports): State<Ports>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    let span = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('-').nth(2))
        .unwrap_or_default()
        .to_owned();
    let wait = 5 + (peer.port() % 4) as u64 * 10;
    ports.lock().unwrap().push((span, peer.port()));
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let answer = json!({
        "id": "c1", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap()
}

/// Under concurrency, every attempt charged a connect is the first request its connection
/// carried, and every attempt flagged reused rode a connection an earlier request opened:
/// the server's view of client ports decides, not timing.
#[tokio::test]
async fn concurrent_attempts_are_charged_only_their_own_connects() {
    let ports = Ports::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(by_port))
        .with_state(ports.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: http://127.0.0.1:{port}/v1\n  model: m\n  stream: false\ngolden_sets: [golden-sets/g.yaml]\nsamples: 24\nconcurrency: 4\ntimeout: 10s\n"
    );
    let project =
        Project::with_files(&[("probes/bot.yaml", &probe), ("golden-sets/g.yaml", GOLDEN)]);
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&project.probe("k"), &store, &RunOptions::default()).await;
    let rows = store.observations(&outcome.run_id).unwrap();
    let seen = ports.lock().unwrap().clone();
    assert_eq!((rows.len(), seen.len()), (24, 24));
    let mut opened = 0;
    for row in &rows {
        let obs = &row.observation;
        let t = obs.timings.as_ref().unwrap();
        let at = seen
            .iter()
            .position(|(span, _)| *span == obs.span_id)
            .unwrap();
        let first_on_its_port = !seen[..at].iter().any(|(_, p)| *p == seen[at].1);
        assert_eq!(!t.reused_connection, first_on_its_port, "{obs:?}");
        assert_eq!(t.connect_ms.is_some(), first_on_its_port, "{t:?}");
        opened += usize::from(first_on_its_port);
    }
    assert!(
        opened >= 1 && opened < 24,
        "{opened} connections for 24 attempts"
    );
}

/// The simulator says where its time went: `generation` on chat answers, `retrieval` and
/// `generation` on its RAG endpoint (header and JSON), so the demo shows a breakdown.
#[tokio::test]
async fn the_simulator_reports_its_components() {
    let profile = probity::sim::Profile {
        latency: probity::sim::Latency::fixed(Duration::from_millis(40)),
        ..probity::sim::Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 2\nconcurrency: 1\n", profile).await;
    let store = Store::open(&project.db()).unwrap();
    let mut probe = project.probe("k");
    probe.target.stream = false;
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let doc = probity::report::json::run_document(&outcome);
    let components = &doc["summary"]["components"];
    assert_eq!(components["generation"]["samples"], 8, "{components}");
    assert!(
        components["generation"]["p50"].as_f64().unwrap() >= 39.0,
        "{components}"
    );
    assert!(components["network_overhead"]["samples"].as_u64().unwrap() == 8);
    // `/metrics`: each component's p50 and p95 in seconds, lint clean for promtool.
    let metrics = probity::metrics::Metrics::new();
    metrics.record_run(&probe, &outcome, &store);
    let open = metrics.encode();
    let series = |component: &str, stat: &str| {
        let prefix = format!(
            "probity_component_latency_seconds{{probe=\"bot\",target=\"default\",component=\"{component}\",stat=\"{stat}\"}} "
        );
        open.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(|v| v.parse::<f64>().unwrap())
            .unwrap_or_else(|| panic!("no {component} {stat} in\n{open}"))
    };
    let p95 = components["generation"]["p95"].as_f64().unwrap() / 1000.0;
    assert!((series("generation", "p95") - p95).abs() < 1e-9);
    assert!(series("ttfb", "p50") > 0.0);
    let (ok, said) = prometheus::promtool(
        &["check", "metrics"],
        &probity::metrics::to_prometheus_text(&open),
    );
    assert!(ok && said.trim().is_empty(), "promtool: {said}");

    let rag = format!(
        "name: rag\ntarget:\n  provider: http\n  url: {}/rag/ask\n  body: {{ question: \"{{{{prompt}}}}\" }}\n  response: {{ text: /answer, timings: {{ retrieval_ms: /meta/retrieval_ms }} }}\ngolden_sets: [golden-sets/support.yaml]\nsamples: 2\nconcurrency: 1\n",
        sim.base_url()
    );
    std::fs::write(project.probe_file(), rag).unwrap();
    let outcome = project::run(&project.probe("k"), &store, &RunOptions::default()).await;
    let doc = probity::report::json::run_document(&outcome);
    let components = &doc["summary"]["components"];
    // retrieval from the JSON pointer, generation from the header: a quarter and the rest.
    let (retrieval, generation) = (
        components["retrieval"]["mean"].as_f64().unwrap(),
        components["generation"]["mean"].as_f64().unwrap(),
    );
    assert!(retrieval >= 9.0 && generation >= 29.0, "{components}");
    assert!(generation > retrieval, "{components}");
    sim.shutdown().await.unwrap();
}

fn component_evidence(components: &[(&str, Vec<f64>)]) -> probity::summary::Evidence {
    let mut e = probity::summary::Evidence::default();
    e.rates.insert(
        "sample_fail".into(),
        probity::summary::Count { events: 0, n: 200 },
    );
    for (name, values) in components {
        e.continuous.insert(
            format!("component/{name}"),
            probity::stats::Reservoir {
                cap: 5000,
                seen: values.len() as u64,
                values: values.clone(),
            },
        );
    }
    e
}

/// A server component is compared with the baseline like latency: retrieval three times
/// slower is drift ("median retrieval time"), an unchanged generation is not, and a
/// component only one side has is not compared.
#[test]
fn a_slower_server_component_is_drift_against_the_baseline() {
    let base: Vec<f64> = (0..200).map(|i| 50.0 + (i % 20) as f64).collect();
    let slower: Vec<f64> = base.iter().map(|v| v * 3.0).collect();
    let baseline = component_evidence(&[
        ("retrieval", base.clone()),
        ("generation", base.clone()),
        ("ttfb", base.clone()),
    ]);
    let current = component_evidence(&[
        ("retrieval", slower),
        ("generation", base.clone()),
        ("rerank", base.clone()),
    ]);
    let drift = probity::config::Drift::default();
    let report = probity::compare::compare(&baseline, &current, None, &drift, "t", 7);
    let finding = report
        .findings
        .iter()
        .find(|f| f.metric == "component/retrieval_median")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert!(
        finding.message.contains("retrieval time"),
        "{}",
        finding.message
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.metric.starts_with("component/generation"))
    );
    let tested: Vec<&str> = report.tests.iter().map(|t| t.metric.as_str()).collect();
    assert!(tested.contains(&"component/generation_p95"), "{tested:?}");
    assert!(
        !tested
            .iter()
            .any(|m| m.contains("rerank") || m.contains("ttfb")),
        "{tested:?}"
    );
}
