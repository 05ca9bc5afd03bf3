//! The runner against endpoints that misbehave: 429 with `Retry-After` (the wait is
//! honoured), 5xx retried with backoff, a hang past the timeout, a connection reset, a
//! truncated stream, invalid JSON, a slow drip — each attempt recorded and classified.

#[path = "support/bad_server.rs"]
mod bad_server;
#[path = "support/project.rs"]
mod project;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use probity::config::Probe;
use probity::pipeline::{Quiet, RunOptions, RunOutcome, RunStatus, run_probe};
use probity::store::{ObservationRow, Store};
use project::Project;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// What the scripted endpoint does for one request.
#[derive(Clone, Copy, Debug)]
enum Act {
    Ok,
    TooMany,
    /// 429 with a `Retry-After` beyond what probity waits for.
    TooManyForLong,
    /// An answer whose usage claims 2^64 − 1 input tokens.
    HugeUsage,
    /// A whole stream, `[DONE]` included, then the body kept open for 2 s.
    StreamHeldOpen,
    Unavailable,
    Hang,
    InvalidJson,
    TruncatedStream,
    SlowDrip,
    /// What llama-cpp-python sends to a stream it abandons: the role chunk, then `[DONE]`.
    RoleThenDone,
    /// Some content, then `[DONE]` with no finish_reason.
    ContentThenDone,
    /// An answer after 50 ms (keeps requests in flight).
    OkSlow,
}

#[derive(Default)]
struct Seen {
    arrivals: Vec<Instant>,
    /// What each arrival was answered with, in arrival order.
    acts: Vec<Act>,
    headers: Vec<HeaderMap>,
    bodies: Vec<serde_json::Value>,
}

/// The script still to play and what was seen so far.
type Script = (Arc<Mutex<std::vec::IntoIter<Act>>>, Arc<Mutex<Seen>>);

async fn play(
    axum::extract::State((script, seen)): axum::extract::State<Script>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let act = {
        // One lock order (script, then seen) so arrivals and acts stay paired.
        let mut script = script.lock().unwrap();
        let act = script.next().unwrap_or(Act::Ok);
        let mut s = seen.lock().unwrap();
        s.arrivals.push(Instant::now());
        s.acts.push(act);
        s.headers.push(headers);
        s.bodies.push(serde_json::from_slice(&body).unwrap());
        act
    };
    respond(act).await
}

/// An OpenAI-like endpoint that plays `script` in order (then answers normally).
async fn scripted(script: Vec<Act>) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state: Script = (Arc::new(Mutex::new(script.into_iter())), seen.clone());
    let app = Router::new()
        .route("/v1/chat/completions", post(play))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

fn completion() -> serde_json::Value {
    json!({
        "id": "c1", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "You can ask within 30 days."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7}
    })
}

async fn respond(act: Act) -> Response {
    match act {
        Act::Ok => axum::Json(completion()).into_response(),
        Act::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response(),
        Act::TooManyForLong => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "600")],
            "come back in ten minutes",
        )
            .into_response(),
        Act::StreamHeldOpen => {
            let answer = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Within 30 days.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
            let stream = futures_util::stream::iter([answer, ""]).then(|c| async move {
                if c.is_empty() {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Ok::<_, std::io::Error>(c)
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Act::HugeUsage => {
            let mut answer = completion();
            answer["usage"]["prompt_tokens"] = json!(u64::MAX);
            axum::Json(answer).into_response()
        }
        Act::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        Act::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            axum::Json(completion()).into_response()
        }
        Act::InvalidJson => {
            ([("content-type", "application/json")], "{\"choices\": [").into_response()
        }
        Act::RoleThenDone => {
            let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n";
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Act::ContentThenDone => {
            let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"You can\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n";
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Act::OkSlow => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            axum::Json(completion()).into_response()
        }
        Act::TruncatedStream => {
            let body =
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"You can\"}}]}\n\n";
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Act::SlowDrip => {
            let text = serde_json::to_vec(&completion()).unwrap();
            let chunks: Vec<Vec<u8>> = text.chunks(16).map(<[u8]>::to_vec).collect();
            let stream = futures_util::stream::iter(
                chunks.into_iter().map(Ok::<_, std::io::Error>),
            )
            .then(|c| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                c
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

use futures_util::StreamExt;

/// A project aimed at `base_url` and its probe, cut to one case: that keeps the script's
/// order easy to follow.
fn one_case(base_url: &str, body: &str, stream: bool) -> (Project, Probe) {
    let project = Project::new(base_url, body);
    let mut probe = project.probe("sk-runner-test");
    probe.target.stream = stream;
    probe.golden_sets[0].cases.truncate(1);
    (project, probe)
}

async fn run(base_url: &str, body: &str, stream: bool) -> (RunOutcome, Vec<ObservationRow>) {
    let (project, probe) = one_case(base_url, body, stream);
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let rows = store.observations(&outcome.run_id).unwrap();
    (outcome, rows)
}

fn statuses(rows: &[ObservationRow]) -> Vec<(&'static str, u32, bool)> {
    rows.iter()
        .map(|r| {
            (
                r.observation.status.as_str(),
                r.observation.attempt,
                r.observation.final_attempt,
            )
        })
        .collect()
}

const ONE_SAMPLE: &str = "samples: 1\nconcurrency: 1\nretries: { max: 2, base_delay: 50ms, max_delay: 200ms }\ntimeout: 2s\n";

#[tokio::test]
async fn retry_after_is_honoured_and_every_attempt_recorded() {
    let (url, seen) = scripted(vec![Act::TooMany, Act::Ok]).await;
    let (outcome, rows) = run(&url, ONE_SAMPLE, false).await;
    assert_eq!(statuses(&rows), [("http_429", 1, false), ("ok", 2, true)]);
    let arrivals = &seen.lock().unwrap().arrivals;
    let waited = arrivals[1] - arrivals[0];
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before Retry-After: 1"
    );
    let f = &outcome.primary().unwrap().summary.figures;
    assert_eq!((f.samples, f.answered, f.retries), (1, 1, 1));
    assert_eq!(f.attempt_errors.get("http_429"), Some(&1));
    assert!(
        f.errors.is_empty(),
        "a retried error is not the sample's error"
    );
    // The latency of the sample includes the wait: it is what a user would have seen.
    assert!(f.latency_ms.max.unwrap() >= 1000.0);
}

#[tokio::test]
async fn a_retry_after_beyond_patience_ends_the_sample() {
    // Retrying before the ten minutes the server asked for would only waste an attempt.
    let (url, seen) = scripted(vec![Act::TooManyForLong, Act::Ok]).await;
    let (_, rows) = run(&url, ONE_SAMPLE, false).await;
    assert_eq!(statuses(&rows), [("http_429", 1, true)]);
    assert_eq!(seen.lock().unwrap().arrivals.len(), 1);
}

#[tokio::test]
async fn a_usage_no_answer_can_have_is_malformed_and_the_run_still_ends() {
    // 2^64 − 1 tokens would overflow SQLite's integers and the cost sums: the attempt is a
    // malformed response (not retried), the next sample is stored, and the run ends.
    let (url, _) = scripted(vec![Act::HugeUsage]).await;
    let body = ONE_SAMPLE.replace("samples: 1", "samples: 2");
    let (outcome, rows) = run(&url, &body, false).await;
    assert_eq!(
        statuses(&rows),
        [("malformed_response", 1, true), ("ok", 1, true)]
    );
    assert!(
        rows[0]
            .observation
            .error
            .as_deref()
            .unwrap()
            .contains("input tokens")
    );
    assert_eq!(outcome.status, RunStatus::Complete);
}

#[tokio::test]
async fn a_streamed_answer_ends_at_its_end_marker() {
    // The server keeps the body open after `[DONE]`: the answer was complete, and the wait
    // for the connection to close is not the endpoint's latency.
    let (url, _) = scripted(vec![Act::StreamHeldOpen]).await;
    let (_, rows) = run(&url, ONE_SAMPLE, true).await;
    assert_eq!(statuses(&rows), [("ok", 1, true)]);
    let latency = rows[0].observation.latency_ms.unwrap();
    assert!(
        latency < 40.0,
        "latency {latency} ms includes the wait after [DONE]"
    );
}

#[tokio::test]
async fn a_cancelled_run_sends_no_retry_and_is_not_complete() {
    // Two samples at once: one is answered, the other waits out a 429's `Retry-After: 1`
    // when the run is cancelled. Every sample was already dispatched, yet the run was cut
    // short, and no paid request follows the cancel.
    let (url, seen) = scripted(vec![Act::TooMany, Act::Ok]).await;
    let project = Project::new(
        &url,
        &ONE_SAMPLE.replace("concurrency: 1", "concurrency: 2"),
    );
    let mut probe = project.probe("sk-runner-test");
    probe.target.stream = false;
    probe.golden_sets[0].cases.truncate(2);
    let store = Store::open(&project.db()).unwrap();
    let cancel = CancellationToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        later.cancel();
    });
    let started = Instant::now();
    let outcome = run_probe(&probe, &store, &RunOptions::default(), &Quiet, cancel)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "waited out the retry"
    );
    assert_eq!(
        seen.lock().unwrap().arrivals.len(),
        2,
        "a retry followed the cancel"
    );
    assert_eq!(outcome.status, RunStatus::Interrupted);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (url, seen) = scripted(vec![Act::Unavailable, Act::Unavailable, Act::Unavailable]).await;
    let (outcome, rows) = run(&url, ONE_SAMPLE, false).await;
    assert_eq!(
        statuses(&rows),
        [
            ("http_5xx", 1, false),
            ("http_5xx", 2, false),
            ("http_5xx", 3, true)
        ]
    );
    assert_eq!(rows[2].observation.http_status, Some(503));
    assert_eq!(seen.lock().unwrap().arrivals.len(), 3, "max 2 retries");
    // Every request failed: nothing was probed.
    assert_eq!(outcome.exit_code, probity::exit::COULD_NOT_PROBE);
    assert!(
        outcome
            .status_reason
            .unwrap()
            .contains("every request failed (1 http_5xx)")
    );
}

#[tokio::test]
async fn a_hang_times_out_and_is_not_retried() {
    let (url, seen) = scripted(vec![Act::Hang]).await;
    let started = Instant::now();
    let (_, rows) = run(
        &url,
        &ONE_SAMPLE.replace("timeout: 2s", "timeout: 300ms"),
        false,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(statuses(&rows), [("timeout", 1, true)]);
    assert_eq!(
        rows[0].observation.error.as_deref(),
        Some("no complete answer within 300ms")
    );
    assert_eq!(seen.lock().unwrap().arrivals.len(), 1);
}

#[tokio::test]
async fn malformed_and_truncated_answers_are_classified() {
    let (url, _) = scripted(vec![Act::InvalidJson]).await;
    let (_, rows) = run(&url, ONE_SAMPLE, false).await;
    assert_eq!(statuses(&rows), [("malformed_response", 1, true)]);

    // A cut stream is retried like the other retryable classes.
    let (url, _) = scripted(vec![Act::TruncatedStream]).await;
    let (_, rows) = run(&url, ONE_SAMPLE, true).await;
    assert_eq!(
        statuses(&rows),
        [("stream_interrupted", 1, false), ("ok", 2, true)]
    );
    assert_eq!(
        rows[0].observation.output.as_deref(),
        Some("You can"),
        "the partial answer is kept"
    );
}

#[tokio::test]
async fn a_stream_ended_by_done_before_its_finish_reason_is_an_error_never_an_answer() {
    // llama-cpp-python ends a running stream this way when a second request arrives: at
    // concurrency 2 nearly every answer was stored as an `ok` empty answer.
    let script = vec![Act::RoleThenDone, Act::ContentThenDone, Act::RoleThenDone];
    let (url, seen) = scripted(script).await;
    let (outcome, rows) = run(&url, ONE_SAMPLE, true).await;
    assert_eq!(
        statuses(&rows),
        [
            ("stream_interrupted", 1, false),
            ("stream_interrupted", 2, false),
            ("stream_interrupted", 3, true)
        ]
    );
    assert_eq!(seen.lock().unwrap().arrivals.len(), 3, "retried, max 2");
    let second = &rows[1].observation;
    assert_eq!(
        second.output.as_deref(),
        Some("You can"),
        "partial text kept"
    );
    assert!(second.ttft_ms.is_some(), "TTFT of the partial answer kept");
    assert!(second.error.as_deref().unwrap().contains("finish_reason"));
    let f = &outcome.primary().unwrap().summary.figures;
    assert_eq!((f.samples, f.answered), (1, 0));
    assert_eq!(f.errors.get("stream_interrupted"), Some(&1));
    assert!(
        rows.iter().all(|r| r.scores.is_none()),
        "an interrupted stream is never scored"
    );
}

#[tokio::test]
async fn a_retry_after_pauses_every_new_request_to_the_target() {
    retry_after_pauses("").await;
}

#[tokio::test]
async fn a_retry_after_pauses_a_paced_schedule_too() {
    // Paced, the schedule moves back by the pause (no burst of overdue samples after it).
    retry_after_pauses("rate_limit: { requests_per_second: 40 }\n").await;
}

/// The first request is answered 429 `Retry-After: 1`; the others are in flight or not yet
/// sent. Those in flight finish; nothing new may arrive until the second has passed.
async fn retry_after_pauses(pacing: &str) {
    let mut script = vec![Act::TooMany];
    script.extend(std::iter::repeat_n(Act::OkSlow, 200));
    let (url, seen) = scripted(script).await;
    let body = format!(
        "samples: 40\nconcurrency: 8\nretries: {{ max: 2, base_delay: 50ms, max_delay: 200ms }}\ntimeout: 5s\n{pacing}"
    );
    let (outcome, rows) = run(&url, &body, false).await;
    let seen = seen.lock().unwrap();
    let limited = seen
        .acts
        .iter()
        .position(|a| matches!(a, Act::TooMany))
        .unwrap();
    let at = seen.arrivals[limited];
    // Requests sent before the client read the 429 may still be arriving just after it
    // (more so on a loaded machine); one arriving 200 ms later was sent during the pause.
    let window = at + Duration::from_millis(200)..at + Duration::from_secs(1);
    let inside: Vec<Duration> = seen
        .arrivals
        .iter()
        .filter(|t| window.contains(t))
        .map(|t| *t - at)
        .collect();
    assert!(
        inside.is_empty(),
        "requests arrived inside the Retry-After window: {inside:?}"
    );
    // Only the (at most 7) requests already in flight may arrive at the same moment.
    let with_it = seen
        .arrivals
        .iter()
        .filter(|t| **t > at && **t < at + Duration::from_secs(1))
        .count();
    assert!(with_it <= 7, "{with_it} arrivals during the pause");
    assert_eq!(
        rows.iter().filter(|r| r.observation.final_attempt).count(),
        40
    );
    // The pause is reported, and the samples it held back are flagged and measured from
    // its end (their latency is the server's answer time, not the pause).
    assert!(
        outcome.runner.rate_limited_ms >= 1000,
        "{:?}",
        outcome.runner
    );
    let f = &outcome.primary().unwrap().summary.figures;
    assert!(f.rate_limited_ms >= 1000);
    let json = serde_json::to_value(&outcome.primary().unwrap().summary).unwrap();
    assert!(json["rate_limited_ms"].as_u64().unwrap() >= 1000, "{json}");
    let delayed: Vec<&ObservationRow> = rows.iter().filter(|r| r.observation.delayed).collect();
    assert!(!delayed.is_empty());
    assert!(
        delayed
            .iter()
            .filter(|r| r.observation.attempt == 1)
            .all(|r| r.observation.latency_ms.unwrap() < 900.0),
        "a held-back sample's latency includes the pause"
    );
}

#[tokio::test]
async fn a_closed_port_is_given_up_on_after_five_connect_failures() {
    // 10 samples × 3 attempts would take 30 refused connections and their back-off.
    let addr = bad_server::closed_port().await;
    let url = format!("http://{addr}/v1");
    let body = "samples: 10\nconcurrency: 1\nretries: { max: 2, base_delay: 10ms, max_delay: 20ms }\ntimeout: 2s\n";
    let (outcome, rows) = run(&url, body, false).await;
    assert_eq!(rows.len(), 5, "{:?}", statuses(&rows));
    let why = outcome.runner.unreachable.as_deref().unwrap();
    assert!(
        why.starts_with(&format!(
            "target `default`: could not reach http://{addr}/v1/chat/completions: "
        )),
        "{why}"
    );
    assert!(why.to_lowercase().contains("refused"), "{why}");
    assert_eq!(
        outcome.runner.skipped_unreachable, 8,
        "{:?}",
        outcome.runner
    );
}

#[tokio::test]
async fn a_slow_drip_completes_within_the_timeout() {
    let (url, _) = scripted(vec![Act::SlowDrip]).await;
    let (_, rows) = run(&url, ONE_SAMPLE, false).await;
    assert_eq!(statuses(&rows), [("ok", 1, true)]);
    assert!(rows[0].observation.latency_ms.unwrap() >= 200.0);
    assert_eq!(rows[0].observation.output_tokens, Some(7));
}

#[tokio::test]
async fn connection_resets_are_connect_errors_and_retried() {
    let addr = bad_server::resetting().await;
    let (_, rows) = run(&format!("http://{addr}/v1"), ONE_SAMPLE, false).await;
    assert_eq!(
        statuses(&rows),
        [
            ("connect", 1, false),
            ("connect", 2, false),
            ("connect", 3, true)
        ]
    );
}

#[tokio::test]
async fn every_request_carries_trace_headers() {
    let (url, seen) = scripted(vec![Act::TooMany, Act::Ok]).await;
    let (outcome, rows) = run(&url, ONE_SAMPLE, false).await;
    let seen = seen.lock().unwrap();
    let mut trace_ids = Vec::new();
    for (headers, row) in seen.headers.iter().zip(&rows) {
        assert_eq!(headers["x-probity-run-id"], outcome.run_id.as_str());
        let tp = headers["traceparent"].to_str().unwrap();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(
            parts[2], row.observation.span_id,
            "the stored span id is the one sent"
        );
        trace_ids.push(parts[1].to_string());
    }
    assert_eq!(trace_ids[0], trace_ids[1], "one trace per run");
    assert_eq!(trace_ids[0], outcome.trace_id);
    assert_eq!(seen.headers[0]["authorization"], "Bearer sk-runner-test");
}

#[tokio::test]
async fn every_request_carries_the_output_bound_it_reserved_for() {
    // The case's `expect.max_tokens` is a check on the answer, not a bound the endpoint is
    // sent: without a `max_tokens` in the target's params, a request is sent the default
    // bound its budget reservation assumed, so one long answer cannot overspend.
    let (url, seen) = scripted(vec![]).await;
    run(&url, "samples: 1\nbudget: { max_cost_usd: 1.0 }\n", false).await;
    assert_eq!(seen.lock().unwrap().bodies[0]["max_tokens"], 1024);
    // The target's own bound is sent as it is, and no other.
    let (url, seen) = scripted(vec![]).await;
    let body = "samples: 1\nbudget: { max_cost_usd: 1.0 }\n";
    let project = Project::new(&url, body);
    let mut probe = project.probe("sk-runner-test");
    probe.target.stream = false;
    probe.golden_sets[0].cases.truncate(1);
    probe
        .target
        .params
        .insert("max_completion_tokens".into(), 50.into());
    let store = Store::open(&project.db()).unwrap();
    project::run(&probe, &store, &RunOptions::default()).await;
    let sent = &seen.lock().unwrap().bodies[0];
    assert_eq!(sent["max_completion_tokens"], 50);
    assert!(sent.get("max_tokens").is_none(), "{sent}");
}

/// A golden set of CJK prompts: characters ÷ 4 counts them at a quarter of their tokens.
const CJK_GOLDEN: &str = r#"name: cjk
cases:
  - id: refund
    messages:
      - { role: user, content: "请详细说明退款政策：购买后多少天内可以申请退款？需要提供哪些材料？退款多久到账？如果商品已经拆封，是否仍然可以退款？会员计划和普通订单的规则是否不同？请逐条列出所有条件、例外情况和办理流程，并说明联系客服的方式。" }
  - id: shipping
    messages:
      - { role: user, content: "標準配送にはどのくらい時間がかかりますか？離島や山間部への配送、週末や祝日の扱い、追跡番号の確認方法、配送先の変更、不在時の再配達の手順についても、すべて詳しく教えてください。" }
"#;

#[tokio::test]
async fn the_budget_holds_for_cjk_prompts_and_answers_at_the_output_bound() {
    // Every answer uses its whole `max_tokens` (long answers cut to it) and every prompt is
    // CJK, which a characters ÷ 4 estimate under-counts about fourfold: reservations that
    // low let eight requests in flight spend far past the limit.
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: false\n  params: {{ max_tokens: 40 }}\ngolden_sets: [golden-sets/cjk.yaml]\nsamples: 30\nconcurrency: 8\ntimeout: 5s\npricing: {{ input_per_mtok: 1000, output_per_mtok: 1000 }}\nbudget: {{ max_cost_usd: 1.5 }}\n",
        project::PLACEHOLDER
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/cjk.yaml", CJK_GOLDEN),
    ]);
    let profile = probity::sim::Profile {
        length_scale: 40.0,
        ..Default::default()
    };
    let sim = project::start_sim(&project.golden(), profile).await;
    project.aim(project::PLACEHOLDER, &sim.base_url());
    let probe = project.probe("sk-runner-test");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let rows = store.observations(&outcome.run_id).unwrap();
    let answered: Vec<&ObservationRow> = rows.iter().filter(|r| r.observation.is_ok()).collect();
    assert!(answered.len() >= 3, "{:?}", statuses(&rows));
    assert!(
        answered
            .iter()
            .all(|r| r.observation.output_tokens == Some(40)),
        "every answer uses the full output bound"
    );
    let stored: f64 = rows.iter().map(|r| r.observation.cost_usd).sum();
    assert!(
        stored <= 1.5 + 1e-9,
        "stored spend {stored} > max_cost_usd 1.5"
    );
    assert!(outcome.runner.spent_usd <= 1.5 + 1e-9);
    assert!(outcome.runner.skipped_budget > 0, "the budget did bind");
}

#[tokio::test]
async fn an_interrupted_stream_counts_against_the_budget() {
    // Every stream is cut after its role chunk, and retried. The server may have generated
    // (and billed) the answer: each attempt counts its worst case, so the run stops
    // sending at the limit instead of retrying for free forever.
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: true\n  params: {{ max_tokens: 40 }}\ngolden_sets: [golden-sets/cjk.yaml]\nsamples: 30\nconcurrency: 4\ntimeout: 5s\nretries: {{ max: 2, base_delay: 1ms }}\npricing: {{ input_per_mtok: 1000, output_per_mtok: 1000 }}\nbudget: {{ max_cost_usd: 1.5 }}\n",
        project::PLACEHOLDER
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/cjk.yaml", CJK_GOLDEN),
    ]);
    let mut profile = probity::sim::Profile::default();
    profile.errors.rate_interrupt = 1.0;
    let sim = project::start_sim(&project.golden(), profile).await;
    project.aim(project::PLACEHOLDER, &sim.base_url());
    let probe = project.probe("sk-runner-test");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert!(outcome.runner.spent_usd > 0.0, "cut streams cost something");
    assert!(outcome.runner.spent_usd <= 1.5 + 1e-9);
    assert!(outcome.runner.skipped_budget > 0, "the budget did bind");
}

#[tokio::test]
async fn a_tiny_request_rate_neither_panics_nor_overflows_the_schedule() {
    // 1e-300 per second is 1e300 s between requests (`Duration::from_secs_f64` panics);
    // 1e-19 fits a Duration, and twice it does not (`every * paced` panics). Validation
    // rejects such rates; the runner must be safe on its own.
    use probity::provider::Provider;
    use probity::runner::{Budget, Endpoint, Redactor, Runner, Settings};
    for rps in [1e-300, 1e-19, 0.0, f64::NAN] {
        let (url, seen) = scripted(vec![]).await;
        let (_project, probe) = one_case(&url, ONE_SAMPLE, false);
        let cases: Vec<probity::golden::Case> = probe.golden_sets[0].cases.clone();
        let target = probe.target.clone();
        let runner = Runner {
            run_id: "r".into(),
            trace_id: probity::runner::new_trace_id(),
            cases: Arc::new(cases),
            endpoints: Arc::new(vec![Endpoint {
                provider: Provider::new(&target, Duration::from_secs(2)).unwrap(),
                target,
            }]),
            settings: Settings {
                concurrency: 1,
                requests_per_second: Some(rps),
                timeout: Duration::from_secs(2),
                retries: probe.retries,
                output_reservation_tokens: 1024,
            },
            budget: Arc::new(Budget::new(None)),
            redactor: Arc::new(Redactor::for_probe(&probe)),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.cancel();
        });
        let report = tokio::spawn(runner.run(3, tx, cancel)).await;
        let report = report.unwrap_or_else(|e| panic!("rps {rps:e}: the runner panicked: {e}"));
        while rx.try_recv().is_ok() {}
        assert!(report.interrupted, "rps {rps:e}");
        assert_eq!(report.sent, 1, "rps {rps:e}: only the first is due");
        assert_eq!(seen.lock().unwrap().arrivals.len(), 1);
    }
}

#[tokio::test]
async fn an_http_target_reserves_the_configured_output_tokens() {
    // An `http` body is the user's template: no output bound can be sent, so the budget
    // reserves `budget.output_reservation_tokens` for each answer. Reserving a million
    // output tokens at $1 per million fits no request into $0.50; the default 1024 does.
    let run_with = |reservation: &'static str| async move {
        let probe = format!(
            "name: bot\ntarget:\n  provider: http\n  url: {}/rag/ask\n  method: POST\n  body: {{ question: \"{{{{prompt}}}}\" }}\n  response: {{ text: /answer, context: /passages, context_item: /text }}\ngolden_sets: [golden-sets/support.yaml]\nsamples: 2\ntimeout: 5s\npricing: {{ input_per_mtok: 1, output_per_mtok: 1 }}\nbudget: {{ max_cost_usd: 0.5{reservation} }}\n",
            project::PLACEHOLDER
        );
        let project = Project::with_files(&[
            ("probes/bot.yaml", &probe),
            ("golden-sets/support.yaml", project::GOLDEN),
        ]);
        let sim = project::start_sim(&project.golden(), Default::default()).await;
        project.aim(project::PLACEHOLDER, &sim.base_url());
        let probe = project.probe("unused");
        let store = Store::open(&project.db()).unwrap();
        project::run(&probe, &store, &RunOptions::default())
            .await
            .runner
    };
    let default = run_with("").await;
    assert_eq!(
        (default.sent, default.skipped_budget),
        (8, 0),
        "{default:?}"
    );
    let huge = run_with(", output_reservation_tokens: 1000000").await;
    assert_eq!((huge.sent, huge.skipped_budget), (0, 8), "{huge:?}");
}
