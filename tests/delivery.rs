//! Delivery through the binary: which channels a command needs (an unset `${VAR}` blocks
//! only the commands that would use its channel), acknowledging incidents, Alertmanager's
//! re-sent firing alerts, and a `probity run` killed with SIGKILL in the middle of a
//! delivery, completed by the next run without a receiver seeing anything twice.

#[path = "support/alertmanager.rs"]
mod alertmanager;
#[path = "support/process.rs"]
mod process;
#[path = "support/project.rs"]
mod project;

use std::path::Path;
use std::sync::{Arc, Mutex};

use probity::alert::{Action, Notification};
use probity::sim::Profile;
use project::{PLACEHOLDER, Project, text};

async fn probity(project: &Project, args: &[&str]) -> std::process::Output {
    project::probity_in(project.root(), &[("PROBITY_TEST_KEY", "k")], args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unset_variable_blocks_only_commands_that_use_its_channel() {
    let project = Project::new(PLACEHOLDER, "alerts: { route: default }\n");
    let alerts = "channels:\n  console: { type: console }\n  pager: { type: pagerduty, routing_key: \"${PROBITY_NO_SUCH_PD_KEY}\" }\n  spare: { type: slack, webhook_url: \"${PROBITY_NO_SUCH_SLACK_URL}\" }\nroutes:\n  default: { critical: [console] }\n  paging: { critical: [pager, console] }\n";
    std::fs::write(project.root().join("probes/alerts.yaml"), alerts).unwrap();

    // The probe's route uses only the console: the run goes (and cannot probe: exit 3),
    // and its "could not probe" page is printed.
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("alert [CRITICAL]"),
        "{}",
        text(&out.stderr)
    );
    // A fire drill of the console alone needs no variable either, nor the probe's own
    // secrets: it loads only the alerts file (PROBITY_TEST_KEY unset here).
    let out = project::probity_in(
        project.root(),
        &[],
        &["alert", "test", "--channel", "console"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A misspelt channel gets a did-you-mean.
    let out = probity(&project, &["alert", "test", "--channel", "consol"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr)
            .contains("no channel `consol` in the alerts file (did you mean `console`?)"),
        "{}",
        text(&out.stderr)
    );

    // A drill of the pager names the variable, the channel and the file: exit 2.
    let out = probity(&project, &["alert", "test", "--channel", "pager"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("probes/alerts.yaml:3:42: channel `pager` needs environment variable `PROBITY_NO_SUCH_PD_KEY`, which is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("PROBITY_NO_SUCH_SLACK_URL"), "{stderr}");

    // validate: the routed pager's variable is an error, the unrouted spare's is not.
    let out = probity(&project, &["validate"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "channels.pager.routing_key: environment variable `PROBITY_NO_SUCH_PD_KEY` is not set"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("PROBITY_NO_SUCH_SLACK_URL"), "{stderr}");
    assert!(stderr.contains("1 error in 1 file"), "{stderr}");
    // --no-secrets counts every variable as set.
    let out = probity(&project, &["validate", "--no-secrets"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Once the probe routes through the pager, the run refuses before any request.
    project.aim("alerts: { route: default }", "alerts: { route: paging }");
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("channel `pager` needs environment variable `PROBITY_NO_SUCH_PD_KEY`"),
        "{stderr}"
    );
    assert!(stderr.contains("probes/alerts.yaml"), "{stderr}");
    // Set, validate passes.
    let out = project::probity_in(
        project.root(),
        &[
            ("PROBITY_TEST_KEY", "k"),
            ("PROBITY_NO_SUCH_PD_KEY", "0123456789abcdef0123456789abcdef"),
        ],
        &["validate"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// 30% of answers are malformed JSON: the error rate is over the critical limit.
fn failing_profile() -> Profile {
    let mut p = Profile::default();
    p.errors.rate_malformed = 0.3;
    p
}

fn read_sink(path: &Path) -> Vec<Notification> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => vec![],
    }
}

fn of_rule(sent: &[Notification], rule: &str, action: Action) -> usize {
    sent.iter()
        .filter(|n| n.rule == rule && n.action == action)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledged_incident_sends_no_reminders_and_still_resolves() {
    // `repeat: 1ms`: without the acknowledgement every failing run sends a reminder.
    let project = Project::new(
        PLACEHOLDER,
        "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default, repeat: 1ms }\n",
    );
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  log: { type: file, path: alerts.jsonl }\nroutes:\n  default: { critical: [log], warning: [log] }\n",
    )
    .unwrap();
    let failing = project::start_sim(&project.golden(), failing_profile()).await;
    let healthy = project::start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &failing.base_url());
    let sink = project.root().join("alerts.jsonl");
    const RULE: &str = "threshold:error_rate";

    for _ in 0..2 {
        let out = probity(&project, &["run", "bot"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    }
    assert_eq!(
        of_rule(&read_sink(&sink), RULE, Action::Trigger),
        2,
        "the trigger and one reminder"
    );

    let out = probity(&project, &["alert", "list"]).await;
    let listed = text(&out.stdout);
    let line = listed
        .lines()
        .find(|l| l.contains(RULE))
        .unwrap_or_else(|| panic!("{listed}"));
    let id = line
        .strip_prefix('#')
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let out = probity(&project, &["alert", "ack", &id, "--reason", "ana is on it"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("incident #{id} acknowledged")),
        "{}",
        text(&out.stdout)
    );
    let out = probity(&project, &["alert", "list"]).await;
    let listed = text(&out.stdout);
    let line = listed.lines().find(|l| l.contains(RULE)).unwrap();
    assert!(line.contains("firing"), "{line}");
    assert!(line.contains("[acknowledged "), "{line}");
    assert!(line.contains(": ana is on it]"), "{line}");

    // Still failing: tracked, but no reminder.
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(of_rule(&read_sink(&sink), RULE, Action::Trigger), 2);
    // Healthy again: the acknowledged incident resolves, and the channel hears of it.
    project.aim(&failing.base_url(), &healthy.base_url());
    let out = probity(&project, &["run", "bot"]).await;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(of_rule(&read_sink(&sink), RULE, Action::Resolve), 1);
    // A resolved (or unknown) incident cannot be acknowledged.
    let out = probity(&project, &["alert", "ack", &id]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(&format!("no open incident #{id}")),
        "{}",
        text(&out.stderr)
    );
    failing.shutdown().await.unwrap();
    healthy.shutdown().await.unwrap();
}

/// The probe's `threshold:error_rate` alert in Alertmanager, if it is active there.
async fn active_error_rate(am: &alertmanager::Alertmanager) -> Option<serde_json::Value> {
    am.alerts("?active=true")
        .await
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "threshold:error_rate")
}

fn ends_at(alert: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    alert["endsAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no endsAt: {alert}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn alertmanager_keeps_a_firing_incident_active_across_runs() {
    let am = alertmanager::Alertmanager::start().await;
    // No `repeat`: only the Alertmanager refresh re-sends the alert.
    let project = Project::new(
        PLACEHOLDER,
        "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default }\n",
    );
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        format!(
            "channels:\n  am: {{ type: alertmanager, url: \"{}\", ends_after: 30m }}\n  log: {{ type: file, path: alerts.jsonl }}\nroutes:\n  default: {{ critical: [am, log], warning: [am, log] }}\n",
            am.url
        ),
    )
    .unwrap();
    let failing = project::start_sim(&project.golden(), failing_profile()).await;
    let healthy = project::start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &failing.base_url());
    let sink = project.root().join("alerts.jsonl");

    let before = chrono::Utc::now();
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let first = active_error_rate(&am)
        .await
        .expect("the firing alert is active");
    // It would outlive Alertmanager's resolve_timeout (5m) without a resend.
    assert!(
        ends_at(&first) > before + chrono::Duration::minutes(29),
        "{first}"
    );

    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let second = active_error_rate(&am)
        .await
        .expect("still active after the second run");
    assert!(
        ends_at(&second) > ends_at(&first),
        "re-sent by the second run: {first} then {second}"
    );
    assert!(first["fingerprint"].is_string(), "{first}");
    assert_eq!(
        first["fingerprint"], second["fingerprint"],
        "the same alert, not a second one"
    );
    // The other channels heard of it once: the refresh is for Alertmanager only.
    assert_eq!(
        of_rule(&read_sink(&sink), "threshold:error_rate", Action::Trigger),
        1
    );
    let out = probity(&project, &["alert", "outbox"]).await;
    assert!(
        text(&out.stdout).contains("outbox empty"),
        "{}",
        text(&out.stdout)
    );

    project.aim(&failing.base_url(), &healthy.base_url());
    let out = probity(&project, &["run", "bot"]).await;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    assert!(
        active_error_rate(&am).await.is_none(),
        "resolved after the healthy run"
    );
    failing.shutdown().await.unwrap();
    healthy.shutdown().await.unwrap();
}

/// A webhook receiver that records every request (its `X-Probity-Delivery` and body) and
/// whether it answered; the first request it gets is never answered (it hangs), so the
/// sender is caught in the middle of a delivery.
#[derive(Clone, Default)]
struct Hanging {
    /// (delivery id, notification, answered 200).
    got: Arc<Mutex<Vec<(String, Notification, bool)>>>,
    first: Arc<tokio::sync::Notify>,
}

async fn hanging_receiver() -> (std::net::SocketAddr, Hanging) {
    async fn record(
        axum::extract::State(h): axum::extract::State<Hanging>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let id = headers
            .get("X-Probity-Delivery")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let n: Notification = serde_json::from_slice(&body).expect("a notification");
        let first = {
            let mut got = h.got.lock().unwrap();
            let first = got.is_empty();
            got.push((id, n, !first));
            first
        };
        if first {
            h.first.notify_one();
            std::future::pending::<()>().await;
        }
        axum::http::StatusCode::OK
    }
    let state = Hanging::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(record))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_delivery_then_the_next_run_delivers_everything_once() {
    let (addr, hook) = hanging_receiver().await;
    let project = Project::new(
        PLACEHOLDER,
        "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default }\n",
    );
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        format!(
            "channels:\n  hook: {{ type: webhook, url: \"http://{addr}/hook\", secret: s3cret }}\nroutes:\n  default: {{ critical: [hook], warning: [hook] }}\n"
        ),
    )
    .unwrap();
    let sim = project::start_sim(&project.golden(), failing_profile()).await;
    project.aim(PLACEHOLDER, &sim.base_url());

    // `probity run`, killed with SIGKILL while the receiver holds its first notification.
    let mut child = tokio::process::Command::new(project::BIN)
        .args(["run", "bot"])
        .current_dir(project.root())
        .env("PROBITY_TEST_KEY", "k")
        .env("NO_COLOR", "1")
        .env_remove("PROBITY_DB")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::select! {
        _ = hook.first.notified() => {}
        status = child.wait() => panic!("the run ended before delivering: {status:?}"),
    }
    child.kill().await.unwrap(); // SIGKILL: no handler, no cleanup runs
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "{status:?}");
    let (hung_id, hung, _) = hook.got.lock().unwrap()[0].clone();

    // The notification the receiver held is still owed.
    let out = probity(&project, &["alert", "outbox"]).await;
    let pending = text(&out.stdout);
    assert!(pending.contains(&hung_id), "{pending}");
    assert!(pending.contains("pending"), "{pending}");

    // The next run delivers it (same delivery id and dedup key) and everything else.
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = probity(&project, &["alert", "outbox"]).await;
    assert!(
        text(&out.stdout).contains("outbox empty"),
        "{}",
        text(&out.stdout)
    );

    let got = hook.got.lock().unwrap().clone();
    let accepted: Vec<&(String, Notification, bool)> =
        got.iter().filter(|(_, _, ok)| *ok).collect();
    let resent = accepted
        .iter()
        .find(|(id, _, _)| *id == hung_id)
        .unwrap_or_else(|| panic!("the held notification was not re-sent: {got:?}"));
    assert_eq!(resent.1, hung, "the resend is the same notification");
    // Nothing accepted twice: not per delivery id, not per dedup key and action.
    let mut ids = std::collections::BTreeSet::new();
    let mut keys = std::collections::BTreeSet::new();
    for (id, n, _) in &accepted {
        assert!(ids.insert(id.clone()), "delivery {id} accepted twice");
        assert!(
            keys.insert((n.dedup_key.clone(), n.action == Action::Resolve)),
            "{} {:?} accepted twice",
            n.dedup_key,
            n.action
        );
    }
    // Every delivery the receiver saw was in the end accepted.
    for (id, _, _) in &got {
        assert!(ids.contains(id), "{id} never accepted");
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_ends_after_is_a_validation_error_at_its_key() {
    let project = Project::new(PLACEHOLDER, "alerts: { route: default }\n");
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  am: { type: alertmanager, url: \"http://127.0.0.1:9093\", ends_after: soon }\nroutes:\n  default: { critical: [am] }\n",
    )
    .unwrap();
    let out = probity(&project, &["validate"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("probes/alerts.yaml:2:71: channels.am.ends_after: invalid duration: `soon` is not a duration"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: write a number and a unit"),
        "{stderr}"
    );
}

#[test]
fn a_run_writing_an_incident_read_before_an_ack_keeps_the_ack() {
    use probity::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let now = chrono::Utc::now();
    let mut incident = probity::store::IncidentRecord {
        id: 0,
        key: "bot|threshold:error_rate|default|".into(),
        probe: "bot".into(),
        rule: "threshold:error_rate".into(),
        target: "default".into(),
        labels: Default::default(),
        severity: "critical".into(),
        opened_at: now,
        last_seen: now,
        runs_failing: 1,
        firing: true,
        notified_at: Some(now),
        acknowledged_at: None,
        silenced: false,
        resolved_at: None,
        summary: "error rate 30%".into(),
        told: vec!["log".into()],
    };
    incident.id = store.save_incident(&incident, &[], now).unwrap();
    // A run read it (unacknowledged), someone acknowledges, then the run writes it back.
    let read_by_run = store.open_incident(&incident.key).unwrap().unwrap();
    store
        .acknowledge_incident(incident.id, Some("on it"), now)
        .unwrap()
        .unwrap();
    let mut written = read_by_run;
    written.runs_failing += 1;
    store.save_incident(&written, &[], now).unwrap();
    let after = store.open_incident(&incident.key).unwrap().unwrap();
    assert!(after.acknowledged_at.is_some());
    assert_eq!(after.runs_failing, 2);
    assert_eq!(
        store.ack_reason(incident.id).unwrap().as_deref(),
        Some("on it")
    );
}
