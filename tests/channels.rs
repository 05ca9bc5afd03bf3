//! The network alert channels against receivers that check what arrives: local axum
//! servers for Slack, PagerDuty and the generic webhook (payloads field by field against
//! the documented shapes, the HMAC recomputed, statuses mapped to retryable or not), and
//! real servers for the rest: a Prometheus Alertmanager and an aiosmtpd SMTP server,
//! started by `support/` helpers (installed by `scripts/test`; missing → the test fails).

#[path = "support/alertmanager.rs"]
mod alertmanager;
#[path = "support/process.rs"]
mod process;
#[path = "support/smtp.rs"]
mod smtp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use probity::alert::channels::{self, ChannelError};
use probity::alert::{Action, Notification, Notifier};
use probity::compare::Severity;
use probity::config::Secret;
use probity::config::alerts::{RawChannel, SmtpTls};
use serde_json::Value;
use sha2::Sha256;

const TIMEOUT: Duration = Duration::from_secs(5);
/// Model output an attacker could control: markup, entities, a Slack mention, bidi.
const HOSTILE: &str = "<script>alert(1)</script> & <!channel> \u{202E}gnp.exe";

fn notification(action: Action) -> Notification {
    let mut labels = BTreeMap::new();
    labels.insert("target".to_string(), "support-bot-prod".to_string());
    labels.insert("team".to_string(), "assist".to_string());
    Notification {
        delivery_id: "dlv-0001".to_string(),
        dedup_key: "support-bot/error_rate/9f3a".to_string(),
        action,
        severity: Severity::Critical,
        probe: "support-bot".to_string(),
        rule: "error_rate".to_string(),
        summary: "Error rate 5.2% (threshold 2%) on support-bot".to_string(),
        details: vec![
            ("Top error".to_string(), "timeout (31 of 48)".to_string()),
            ("Example".to_string(), HOSTILE.to_string()),
        ],
        labels,
        started_at: Utc.with_ymd_and_hms(2026, 12, 1, 13, 58, 0).unwrap(),
        ended_at: match action {
            Action::Trigger => None,
            Action::Resolve => Some(Utc.with_ymd_and_hms(2026, 12, 1, 15, 2, 0).unwrap()),
        },
        link: Some("http://127.0.0.1:1/runs/42.json".to_string()),
        test: false,
        mail: None,
    }
}

/// A canned answer: status, headers, body.
type Answer = (StatusCode, Vec<(&'static str, &'static str)>, &'static str);

/// What a receiver got, and the answers it gives in turn (the last one repeats).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl Receiver {
    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
    fn json(&self, i: usize) -> Value {
        serde_json::from_slice(&self.requests()[i].1).expect("a JSON body")
    }
}

async fn record(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.got.lock().unwrap().push((headers, body));
    let (status, headers, body) = {
        let mut answers = r.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers
                .first()
                .cloned()
                .unwrap_or((StatusCode::OK, vec![], "ok"))
        }
    };
    let mut response = (status, body).into_response();
    for (k, v) in headers {
        response
            .headers_mut()
            .insert(k, HeaderValue::from_static(v));
    }
    response
}

/// An axum receiver on 127.0.0.1:0 answering every POST path with `answers` in turn.
async fn receiver(answers: Vec<Answer>) -> (SocketAddr, Receiver) {
    let state = Receiver {
        answers: Arc::new(Mutex::new(answers)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

fn build(raw: RawChannel, secrets: &[Secret]) -> Box<dyn Notifier> {
    channels::build("chan", &raw, TIMEOUT, secrets).expect("the channel builds")
}

fn slack(addr: SocketAddr) -> Box<dyn Notifier> {
    build(
        RawChannel::Slack {
            webhook_url: format!("http://{addr}/services/T0/B0/SLACKSECRET"),
        },
        &[Secret::new(format!(
            "http://{addr}/services/T0/B0/SLACKSECRET"
        ))],
    )
}

fn pagerduty(addr: SocketAddr) -> Box<dyn Notifier> {
    build(
        RawChannel::Pagerduty {
            routing_key: "R0UTINGKEY".to_string(),
            url: Some(format!("http://{addr}/v2/enqueue")),
        },
        &[Secret::new("R0UTINGKEY")],
    )
}

#[tokio::test]
async fn slack_sends_text_and_escaped_mrkdwn_blocks() {
    let (addr, rx) = receiver(vec![]).await;
    let chan = slack(addr);
    chan.notify(&notification(Action::Trigger)).await.unwrap();
    let mut drill = notification(Action::Resolve);
    drill.test = true;
    chan.notify(&drill).await.unwrap();

    let (headers, _) = &rx.requests()[0];
    assert_eq!(headers["content-type"], "application/json");
    let body = rx.json(0);
    assert_eq!(
        body["text"],
        "CRITICAL: Error rate 5.2% (threshold 2%) on support-bot"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    for b in &blocks[..2] {
        assert_eq!(b["type"], "section");
        assert_eq!(b["text"]["type"], "mrkdwn");
        assert!(b["text"]["text"].as_str().unwrap().len() <= 3000);
    }
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("*CRITICAL* Error rate 5.2%")
    );
    let details = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        details.contains("*Top error:* timeout (31 of 48)"),
        "{details}"
    );
    // Nothing of the model's output becomes markup, a mention or reversed text.
    assert!(
        details.contains(
            "*Example:* &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt; [U+202E]gnp.exe"
        ),
        "{details}"
    );
    assert!(!details.contains('<') && !details.contains('\u{202E}'));
    assert_eq!(blocks[2]["type"], "context");
    let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
    assert!(
        context.contains("probe `support-bot`") && context.contains("since 2026-12-01 13:58 UTC")
    );

    let resolved = rx.json(1);
    assert!(
        resolved["text"]
            .as_str()
            .unwrap()
            .starts_with("[TEST] RESOLVED: ")
    );
    assert!(
        resolved["blocks"][2]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("resolved 2026-12-01 15:02 UTC")
    );
}

#[tokio::test]
async fn slack_truncates_long_model_text_below_the_section_limit() {
    let (addr, rx) = receiver(vec![]).await;
    let mut n = notification(Action::Trigger);
    n.summary = "<&>".repeat(5000);
    n.details = (0..40)
        .map(|i| (format!("k{i}"), "&".repeat(600)))
        .collect();
    slack(addr).notify(&n).await.unwrap();
    let body = rx.json(0);
    for b in body["blocks"].as_array().unwrap() {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000, "{} chars", t.chars().count());
        }
    }
    assert!(body["text"].as_str().unwrap().ends_with('…'));
}

#[tokio::test]
async fn pagerduty_trigger_and_resolve_follow_events_v2() {
    let (addr, rx) = receiver(vec![(
        StatusCode::ACCEPTED,
        vec![],
        r#"{"status":"success"}"#,
    )])
    .await;
    let chan = pagerduty(addr);
    chan.notify(&notification(Action::Trigger)).await.unwrap();
    chan.notify(&notification(Action::Resolve)).await.unwrap();

    let t = rx.json(0);
    assert_eq!(t["routing_key"], "R0UTINGKEY");
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["dedup_key"], "support-bot/error_rate/9f3a");
    let p = &t["payload"];
    assert_eq!(
        p["summary"],
        "Error rate 5.2% (threshold 2%) on support-bot"
    );
    assert_eq!(p["source"], "support-bot-prod");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["timestamp"], "2026-12-01T13:58:00Z");
    assert_eq!(p["component"], "support-bot");
    assert_eq!(p["class"], "error_rate");
    assert_eq!(p["custom_details"]["Top error"], "timeout (31 of 48)");
    assert_eq!(p["custom_details"]["Example"], HOSTILE);
    assert_eq!(p["custom_details"]["labels"]["team"], "assist");
    assert_eq!(t["links"][0]["href"], "http://127.0.0.1:1/runs/42.json");

    let r = rx.json(1);
    assert_eq!(
        r,
        serde_json::json!({
            "routing_key": "R0UTINGKEY",
            "event_action": "resolve",
            "dedup_key": "support-bot/error_rate/9f3a",
        })
    );
}

#[tokio::test]
async fn pagerduty_severities_and_test_mark() {
    let (addr, rx) = receiver(vec![(StatusCode::ACCEPTED, vec![], "{}")]).await;
    let chan = pagerduty(addr);
    for severity in [Severity::Warning, Severity::Info] {
        let mut n = notification(Action::Trigger);
        n.severity = severity;
        n.test = true;
        chan.notify(&n).await.unwrap();
    }
    assert_eq!(rx.json(0)["payload"]["severity"], "warning");
    assert_eq!(rx.json(1)["payload"]["severity"], "info");
    assert!(
        rx.json(1)["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("[TEST] ")
    );
}

#[tokio::test]
async fn pagerduty_400_is_permanent_429_and_503_are_retryable() {
    let (addr, _rx) = receiver(vec![
        (
            StatusCode::BAD_REQUEST,
            vec![],
            r#"{"status":"invalid event","errors":["'payload.summary' is missing"]}"#,
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            vec![("retry-after", "17")],
            "slow down",
        ),
        (StatusCode::SERVICE_UNAVAILABLE, vec![], "busy"),
        (StatusCode::ACCEPTED, vec![], "{}"),
    ])
    .await;
    let chan = pagerduty(addr);
    let n = notification(Action::Trigger);

    let bad = chan.notify(&n).await.unwrap_err();
    assert!(!bad.retryable);
    assert!(
        bad.message.contains("400") && bad.message.contains("payload.summary"),
        "{}",
        bad.message
    );

    let limited = chan.notify(&n).await.unwrap_err();
    assert!(limited.retryable);
    assert_eq!(limited.retry_after, Some(Duration::from_secs(17)));

    let down = chan.notify(&n).await.unwrap_err();
    assert!(down.retryable && down.retry_after.is_none());
    assert!(down.message.contains("503"));

    chan.notify(&n).await.unwrap();
}

type HmacSha256 = Hmac<Sha256>;

#[tokio::test]
async fn webhook_signs_timestamp_and_body() {
    let (addr, rx) = receiver(vec![]).await;
    let chan = build(
        RawChannel::Webhook {
            url: format!("http://{addr}/hook"),
            secret: Some("s3cret".to_string()),
        },
        &[],
    );
    let n = notification(Action::Trigger);
    let before = Utc::now().timestamp();
    chan.notify(&n).await.unwrap();
    let after = Utc::now().timestamp();

    let (headers, body) = &rx.requests()[0];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-probity-delivery"], "dlv-0001");
    let ts: i64 = headers["x-probity-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((before..=after).contains(&ts));
    // The receiver's check: HMAC-SHA256(secret, "<timestamp>.<body>"), hex, sha256= prefix.
    let mut mac = HmacSha256::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        headers["x-probity-signature"],
        format!("sha256={expected}").as_str()
    );
    // The body is the notification itself, model text kept as data.
    let back: Notification = serde_json::from_slice(body).unwrap();
    assert_eq!(back, n);
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["action"], "trigger");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["started_at"], "2026-12-01T13:58:00Z");

    // A tampered body does not verify.
    let mut mac = HmacSha256::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&body[1..]);
    let forged: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(forged, expected);
}

#[tokio::test]
async fn webhook_without_secret_is_unsigned_and_keeps_its_delivery_id() {
    let (addr, rx) = receiver(vec![
        (StatusCode::SERVICE_UNAVAILABLE, vec![], ""),
        (StatusCode::NO_CONTENT, vec![], ""),
    ])
    .await;
    let chan = build(
        RawChannel::Webhook {
            url: format!("http://{addr}/hook"),
            secret: None,
        },
        &[],
    );
    let n = notification(Action::Resolve);
    assert!(chan.notify(&n).await.unwrap_err().retryable);
    chan.notify(&n).await.unwrap();
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    for (headers, _) in &got {
        assert!(headers.get("x-probity-signature").is_none());
        assert_eq!(headers["x-probity-delivery"], "dlv-0001");
    }
}

#[tokio::test]
async fn hanging_receiver_is_a_retryable_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let chan = channels::build(
        "hang",
        &RawChannel::Webhook {
            url: format!("http://{addr}/hook"),
            secret: None,
        },
        Duration::from_millis(300),
        &[],
    )
    .unwrap();
    // The outer bound only keeps a broken timeout from hanging the suite.
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        chan.notify(&notification(Action::Trigger)),
    )
    .await
    .expect("the channel's own timeout ends the attempt")
    .unwrap_err();
    assert!(err.retryable);
    assert!(err.message.contains("timed out"), "{}", err.message);
}

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    // The receiver echoes the secret path back in its error body.
    let (addr, _rx) = receiver(vec![(
        StatusCode::INTERNAL_SERVER_ERROR,
        vec![],
        "no such hook /services/T0/B0/SLACKSECRET",
    )])
    .await;
    let err = slack(addr)
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(err.retryable);
    assert!(!err.message.contains("SLACKSECRET"), "{}", err.message);
    assert!(err.message.contains("[REDACTED]"), "{}", err.message);

    // A refused connection to a URL holding the secret.
    let closed = alertmanager::free_port();
    let url = format!("http://127.0.0.1:{closed}/services/T0/B0/SLACKSECRET");
    let chan = build(
        RawChannel::Slack {
            webhook_url: url.clone(),
        },
        &[Secret::new(url)],
    );
    let err = chan
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(err.retryable);
    assert!(!err.message.contains("SLACKSECRET"), "{}", err.message);
    assert!(err.message.contains("could not connect"), "{}", err.message);
}

#[test]
fn console_is_not_a_network_channel() {
    let err = channels::build("term", &RawChannel::Console {}, TIMEOUT, &[])
        .err()
        .unwrap();
    assert!(matches!(err, ChannelError::Local { .. }));
    assert!(err.to_string().contains("alert::local"));
}

#[tokio::test]
async fn alertmanager_receives_fires_and_resolves() {
    let am = alertmanager::Alertmanager::start().await;
    let chan = build(
        RawChannel::Alertmanager {
            url: am.url.clone(),
            ends_after: None,
        },
        &[],
    );
    let mut n = notification(Action::Trigger);
    // A firing alert that started a minute ago (Alertmanager ignores none, but endsAt
    // for the resolve must lie after startsAt and before now to end it at once).
    n.started_at = Utc::now() - chrono::Duration::minutes(1);
    chan.notify(&n).await.unwrap();
    // Re-sending the firing alert (each run does) keeps one alert, not two.
    chan.notify(&n).await.unwrap();

    let alerts = am.alerts("?active=true").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "error_rate");
    assert_eq!(a["labels"]["probe"], "support-bot");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["target"], "support-bot-prod");
    assert_eq!(a["labels"]["team"], "assist");
    assert_eq!(
        a["annotations"]["summary"],
        "Error rate 5.2% (threshold 2%) on support-bot"
    );
    let details = a["annotations"]["details"].as_str().unwrap();
    assert!(
        details.contains("Top error: timeout (31 of 48)"),
        "{details}"
    );
    assert!(details.contains("[U+202E]") && !details.contains('\u{202E}'));
    assert_eq!(a["generatorURL"], "http://127.0.0.1:1/runs/42.json");
    assert_eq!(a["status"]["state"], "active");

    let mut resolve = n.clone();
    resolve.action = Action::Resolve;
    resolve.ended_at = Some(Utc::now());
    chan.notify(&resolve).await.unwrap();
    let active = am.alerts("?active=true").await;
    assert!(active.is_empty(), "still active: {active:?}");
}

#[tokio::test]
async fn alertmanager_rejection_is_permanent() {
    let am = alertmanager::Alertmanager::start().await;
    let chan = build(
        RawChannel::Alertmanager {
            url: am.url.clone(),
            ends_after: None,
        },
        &[],
    );
    let mut n = notification(Action::Resolve);
    // endsAt before startsAt: Alertmanager answers 400.
    n.ended_at = Some(n.started_at - chrono::Duration::hours(1));
    let err = chan.notify(&n).await.unwrap_err();
    assert!(!err.retryable, "{}", err.message);
    assert!(err.message.contains("400"), "{}", err.message);
}

fn email(port: u16) -> Box<dyn Notifier> {
    build(
        RawChannel::Email {
            smtp: format!("smtp://127.0.0.1:{port}"),
            tls: Some(SmtpTls::None),
            username: None,
            password: None,
            from: "Probity <probity@example.test>".to_string(),
            to: vec![
                "oncall@example.test".to_string(),
                "lead@example.test".to_string(),
            ],
            ca_file: None,
        },
        &[],
    )
}

#[tokio::test]
async fn email_arrives_with_both_parts_escaped() {
    let server = smtp::Smtp::start().await;
    let chan = email(server.port);
    let mut n = notification(Action::Trigger);
    n.summary = format!("Error rate 5.2% on support-bot: {HOSTILE}");
    chan.notify(&n).await.unwrap();
    let mut drill = notification(Action::Resolve);
    drill.test = true;
    chan.notify(&drill).await.unwrap();

    let mut got = server.messages();
    assert_eq!(got.len(), 2);
    got.sort_by(|a, b| a.subject.cmp(&b.subject));
    let (m, r) = (&got[0], &got[1]);
    assert_eq!(
        m.subject,
        "[PROBITY CRITICAL] Error rate 5.2% on support-bot: <script>alert(1)</script> & <!channel> [U+202E]gnp.exe"
    );
    assert_eq!(m.from, "Probity <probity@example.test>");
    assert_eq!(m.to, "oncall@example.test, lead@example.test");
    assert_eq!(m.content_type, "multipart/alternative");
    let header = |name: &str| {
        m.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("Message-ID").as_deref(),
        Some("<dlv-0001@probity.invalid>")
    );
    assert!(
        m.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("Date"))
    );
    assert_eq!(m.parts.len(), 2);
    let (plain_type, plain) = &m.parts[0];
    let (html_type, html) = &m.parts[1];
    assert_eq!(plain_type, "text/plain");
    assert_eq!(html_type, "text/html");
    assert!(plain.contains("Top error: timeout (31 of 48)"), "{plain}");
    assert!(plain.contains("Example: <script>alert(1)</script> & <!channel> [U+202E]gnp.exe"));
    assert!(plain.contains("Since: 2026-12-01 13:58:00 UTC"));
    assert!(
        html.contains(
            "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt; [U+202E]gnp.exe</td>"
        ),
        "{html}"
    );
    assert!(!html.contains("<script>") && !html.contains('\u{202E}'));
    assert!(!plain.contains('\u{202E}') && !m.subject.contains('\u{202E}'));

    assert_eq!(
        r.subject,
        "[TEST] [PROBITY RESOLVED] Error rate 5.2% (threshold 2%) on support-bot"
    );
    assert!(r.parts[0].1.contains("Resolved: 2026-12-01 15:02:00 UTC"));
    assert!(r.parts[0].1.contains("This is a test notification"));
}

#[tokio::test]
async fn email_to_a_closed_port_is_retryable() {
    let closed = alertmanager::free_port();
    let err = email(closed)
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(err.retryable, "{}", err.message);
}

/// A scripted SMTP server (real servers accept everything): greets, accepts EHLO and
/// MAIL, then answers RCPT with `reply`, so the channel's reading of SMTP codes is tested.
async fn smtp_refusing(reply: &'static str) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.ok();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" | "HELO" => "250 fake\r\n".to_string(),
                        "MAIL" | "RSET" | "NOOP" => "250 OK\r\n".to_string(),
                        "RCPT" => format!("{reply}\r\n"),
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            return;
                        }
                        _ => "500 what\r\n".to_string(),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn smtp_5xx_is_permanent_and_4xx_retryable() {
    let permanent = smtp_refusing("550 5.1.1 no such user").await;
    let err = email(permanent)
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{}", err.message);
    assert!(err.message.contains("no such user"), "{}", err.message);

    let transient = smtp_refusing("451 4.3.0 try again later").await;
    let err = email(transient)
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(err.retryable, "{}", err.message);
}

#[tokio::test]
async fn smtp_server_that_never_greets_is_a_retryable_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let chan = channels::build(
        "mail",
        &RawChannel::Email {
            smtp: format!("smtp://127.0.0.1:{port}"),
            tls: Some(SmtpTls::None),
            username: Some("probity".to_string()),
            password: Some("PASSW0RD".to_string()),
            from: "probity@example.test".to_string(),
            to: vec!["oncall@example.test".to_string()],
            ca_file: None,
        },
        Duration::from_millis(300),
        &[Secret::new("PASSW0RD")],
    )
    .unwrap();
    // The outer bound only keeps a broken timeout from hanging the suite.
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        chan.notify(&notification(Action::Trigger)),
    )
    .await
    .expect("the channel's own timeout ends the attempt")
    .unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(!err.message.contains("PASSW0RD"));
}

#[test]
fn invalid_addresses_are_build_errors() {
    let err = channels::build(
        "mail",
        &RawChannel::Email {
            smtp: "smtp://127.0.0.1:25".to_string(),
            tls: None,
            username: None,
            password: None,
            from: "not an address".to_string(),
            to: vec!["oncall@example.test".to_string()],
            ca_file: None,
        },
        TIMEOUT,
        &[],
    )
    .err()
    .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("channel `mail`") && text.contains("`from`"),
        "{text}"
    );
}

#[tokio::test]
async fn pagerduty_long_dedup_keys_stay_stable_and_within_255() {
    let (addr, rx) = receiver(vec![(StatusCode::ACCEPTED, vec![], "{}")]).await;
    let chan = pagerduty(addr);
    let mut n = notification(Action::Trigger);
    n.dedup_key = "k".repeat(400);
    chan.notify(&n).await.unwrap();
    n.action = Action::Resolve;
    chan.notify(&n).await.unwrap();
    let (t, r) = (rx.json(0), rx.json(1));
    let key = t["dedup_key"].as_str().unwrap();
    assert!(key.len() <= 255 && key.starts_with("sha256:"), "{key}");
    assert_eq!(r["dedup_key"], key);
}

#[test]
fn alertmanager_labels_are_valid_names_and_drills_are_marked() {
    let mut n = notification(Action::Trigger);
    n.labels
        .insert("model.version".to_string(), "2024-08-06".to_string());
    n.labels.insert("9lives".to_string(), "x".to_string());
    n.labels.insert("empty".to_string(), String::new());
    n.test = true;
    let now = Utc::now();
    let body = channels::alertmanager::payload(&n, now, Duration::from_secs(1800));
    let labels = &body[0]["labels"];
    assert_eq!(labels["model_version"], "2024-08-06");
    assert_eq!(labels["_9lives"], "x");
    assert!(labels.get("empty").is_none());
    assert_eq!(labels["test"], "true");
    // Firing: it ends by itself unless re-sent within `ends_after`.
    let ends = now + chrono::Duration::seconds(1800);
    assert_eq!(
        body[0]["endsAt"],
        ends.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert!(
        body[0]["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("[TEST] ")
    );
}

// ----- e-mail over TLS, against aiosmtpd with a throwaway CA -----

const SMTP_USER: &str = "probity";
const SMTP_PASSWORD: &str = "corr3ct-horse-battery";

fn secure_email(
    port: u16,
    tls: SmtpTls,
    password: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<Box<dyn Notifier>, ChannelError> {
    channels::build(
        "mail",
        &RawChannel::Email {
            smtp: format!("smtp://127.0.0.1:{port}"),
            tls: Some(tls),
            username: Some(SMTP_USER.to_string()),
            password: Some(password.to_string()),
            from: "probity@example.test".to_string(),
            to: vec!["oncall@example.test".to_string()],
            ca_file: ca_file.map(|p| p.display().to_string()),
        },
        TIMEOUT,
        &[Secret::new(password)],
    )
}

#[tokio::test]
async fn email_over_starttls_with_login_arrives() {
    let (server, ca) =
        smtp::Smtp::start_secure(smtp::Secure::Starttls, SMTP_USER, SMTP_PASSWORD).await;
    let chan = secure_email(server.port, SmtpTls::Starttls, SMTP_PASSWORD, Some(&ca)).unwrap();
    chan.notify(&notification(Action::Trigger)).await.unwrap();
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].subject,
        "[PROBITY CRITICAL] Error rate 5.2% (threshold 2%) on support-bot"
    );

    // A wrong password: refused for good (535), naming the channel, the password unshown.
    let wrong = "not-the-password";
    let chan = secure_email(server.port, SmtpTls::Starttls, wrong, Some(&ca)).unwrap();
    let err = chan
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{}", err.message);
    assert!(err.message.starts_with("mail: SMTP"), "{}", err.message);
    assert!(err.message.contains("535"), "{}", err.message);
    assert!(!err.message.contains(wrong), "{}", err.message);

    // Without the CA the certificate is not trusted: nothing is sent in the clear.
    let chan = secure_email(server.port, SmtpTls::Starttls, SMTP_PASSWORD, None).unwrap();
    let err = chan
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("certificate") || err.message.contains("UnknownIssuer"),
        "{}",
        err.message
    );

    // `tls: none` to a server that requires STARTTLS: refused, and the error says so.
    let chan = secure_email(server.port, SmtpTls::None, SMTP_PASSWORD, None).unwrap();
    let err = chan
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{}", err.message);
    assert!(err.message.starts_with("mail: SMTP"), "{}", err.message);
    assert!(
        err.message.contains("set `tls: starttls`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(SMTP_PASSWORD), "{}", err.message);
    // Without a login configured it is MAIL that the server refuses.
    let chan = build(
        RawChannel::Email {
            smtp: format!("smtp://127.0.0.1:{}", server.port),
            tls: Some(SmtpTls::None),
            username: None,
            password: None,
            from: "probity@example.test".to_string(),
            to: vec!["oncall@example.test".to_string()],
            ca_file: None,
        },
        &[],
    );
    let err = chan
        .notify(&notification(Action::Trigger))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{}", err.message);
    assert!(err.message.contains("STARTTLS"), "{}", err.message);
    assert!(
        err.message
            .contains("requires an encrypted connection: set `tls: starttls`"),
        "{}",
        err.message
    );
    assert_eq!(server.messages().len(), 1, "only the first message arrived");
}

#[tokio::test]
async fn email_over_implicit_tls_with_login_arrives() {
    let (server, ca) =
        smtp::Smtp::start_secure(smtp::Secure::Implicit, SMTP_USER, SMTP_PASSWORD).await;
    let chan = secure_email(server.port, SmtpTls::Tls, SMTP_PASSWORD, Some(&ca)).unwrap();
    let mut resolve = notification(Action::Resolve);
    resolve.test = true;
    chan.notify(&resolve).await.unwrap();
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].subject.starts_with("[TEST] [PROBITY RESOLVED]"),
        "{}",
        got[0].subject
    );
}

#[test]
fn a_bad_ca_file_is_a_build_error_naming_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let err = secure_email(25, SmtpTls::Starttls, "pw", Some(&missing))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("channel `mail`") && err.contains("`ca_file`"),
        "{err}"
    );
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let err = secure_email(25, SmtpTls::Starttls, "pw", Some(&junk))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no PEM certificate"), "{err}");
    // A CA with no TLS to check it with is a mistake, not a silent no-op.
    let (ca, _, _) = smtp::issue_certificates(dir.path());
    let err = secure_email(25, SmtpTls::None, "pw", Some(&ca))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`tls` is `none`"), "{err}");
}
