//! Alerts over sequences of runs against the simulator: incidents (dedup, `for`, `repeat`,
//! recovery, silences, inhibition) with the file channel as the real sink, and the outbox's
//! delivery (retries, non-retryable errors, a hanging channel, a resend after a crash).

#[path = "support/project.rs"]
mod project;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use probity::alert::incidents::{Evaluation, FireAfter, Policy, evaluate};
use probity::alert::outbox::{RetryPolicy, deliver};
use probity::alert::routing::{build_notifiers, channels_for, route_channels};
use probity::alert::{Action, Notification, Notifier, NotifyError, rules};
use probity::config::AlertRouting;
use probity::config::alerts::{RawChannel, RawRoute};
use probity::pipeline::{RunOptions, RunStatus};
use probity::sim::{Profile, SimHandle};
use probity::store::Store;
use project::{PLACEHOLDER, Project, text};

fn routing(file: &Path) -> AlertRouting {
    AlertRouting {
        file: PathBuf::from("probes/alerts.yaml"),
        channels: BTreeMap::from([(
            "log".to_string(),
            RawChannel::File {
                path: file.display().to_string(),
            },
        )]),
        routes: BTreeMap::from([(
            "default".to_string(),
            RawRoute {
                critical: vec!["log".into()],
                warning: vec!["log".into()],
                info: vec![],
            },
        )]),
        secrets: vec![],
        unset: BTreeMap::new(),
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(1),
        max_wait: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
    }
}

/// A probe aimed at either a fast simulator (healthy) or a slow one (its p95 latency is
/// over the critical limit), alerting through a file channel.
struct Rig {
    project: Project,
    fast: SimHandle,
    slow: SimHandle,
    aimed: String,
    store: Store,
    sink: PathBuf,
    routing: AlertRouting,
    policy: Policy,
    /// The run's clock: an hour per step unless a step says otherwise.
    now: DateTime<Utc>,
}

/// 30% of answers are malformed JSON (not retried): the error rate is far over the
/// critical limit, while enough answers come back for the run to probe.
fn failing_profile() -> Profile {
    let mut p = Profile::default();
    p.errors.rate_malformed = 0.3;
    p
}

impl Rig {
    async fn new(policy: Policy) -> Rig {
        let project = Project::new(
            PLACEHOLDER,
            "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\n",
        );
        let fast = project::start_sim(&project.golden(), Profile::default()).await;
        let slow = project::start_sim(&project.golden(), failing_profile()).await;
        let store = Store::open(&project.db()).unwrap();
        let sink = project.root().join("alerts.jsonl");
        let routing = routing(&sink);
        Rig {
            project,
            fast,
            slow,
            aimed: PLACEHOLDER.to_string(),
            store,
            sink,
            routing,
            policy,
            now: Utc::now(),
        }
    }

    /// One run (healthy, slow, or could-not-probe), then alert evaluation and delivery.
    async fn step(&mut self, kind: &str, advance: TimeDelta) -> Evaluation {
        let url = match kind {
            "slow" => self.slow.base_url(),
            // Nothing listens on port 9: every request is refused, the run cannot probe.
            "dead" => PLACEHOLDER.to_string(),
            _ => self.fast.base_url(),
        };
        self.project.aim(&self.aimed, &url);
        self.aimed = url;
        let probe = self.project.probe("k");
        let outcome = project::run(&probe, &self.store, &RunOptions::default()).await;
        if kind != "dead" {
            assert_eq!(
                outcome.status,
                RunStatus::Complete,
                "{:?}",
                outcome.status_reason
            );
        }
        self.now += advance;
        // The per-case rules fire too, but which cases fail varies from run to run; the
        // tests follow the error-rate rule (and could-not-probe) only.
        let signals: Vec<_> = rules::signals(&outcome.findings, &outcome.target_info)
            .into_iter()
            .filter(|s| s.rule == "threshold:error_rate" || s.rule == rules::COULD_NOT_PROBE)
            .collect();
        let routing = self.routing.clone();
        let route = move |s| channels_for(&routing, "default", s).unwrap();
        let eval = evaluate(
            &self.store,
            &outcome.probe,
            &signals,
            &self.policy,
            &route,
            Some("report.json"),
            self.now,
        )
        .unwrap();
        let names = route_channels(&self.routing, "default").unwrap();
        let notifiers = build_notifiers(&self.routing, &names, Duration::from_secs(5)).unwrap();
        let report = deliver(&self.store, &notifiers, &fast_policy(), self.now)
            .await
            .unwrap();
        assert_eq!(report.count("sent"), report.rows.len(), "{report:?}");
        eval
    }

    fn sent(&self) -> Vec<Notification> {
        read_sink(&self.sink)
    }
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

const HOUR: TimeDelta = TimeDelta::hours(1);

#[tokio::test]
async fn one_notification_per_incident_after_for_with_reminders_and_one_resolve() {
    let mut rig = Rig::new(Policy {
        fire_after: FireAfter::Runs(2),
        repeat: Some(Duration::from_secs(4 * 3600)),
    })
    .await;
    // First failing run: tracked, below `for: 2`, nothing sent.
    let e = rig.step("slow", HOUR).await;
    assert_eq!(e.pending.len(), 1, "{e:?}");
    assert!(rig.sent().is_empty());
    // Second: fires, one trigger.
    let e = rig.step("slow", HOUR).await;
    assert_eq!(e.fired.len(), 1, "{e:?}");
    assert_eq!(e.fired[0].0, "threshold:error_rate");
    let sent = rig.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, Action::Trigger);
    assert_eq!(sent[0].rule, "threshold:error_rate");
    assert!(
        sent[0].summary.contains("critical limit"),
        "{}",
        sent[0].summary
    );
    assert!(
        sent[0]
            .details
            .iter()
            .any(|(k, v)| k == "since" && v.contains("2 failing runs")),
        "{:?}",
        sent[0].details
    );
    // Still failing within `repeat`: no second notification (dedup).
    rig.step("slow", HOUR).await;
    rig.step("slow", HOUR).await;
    assert_eq!(rig.sent().len(), 1);
    // 4h after the trigger: one reminder, same dedup key, its own delivery id.
    let e = rig.step("slow", TimeDelta::hours(2)).await;
    assert_eq!(e.reminded.len(), 1, "{e:?}");
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].dedup_key, sent[0].dedup_key);
    assert_ne!(sent[1].delivery_id, sent[0].delivery_id);
    // Recovery: one resolve to the channel that was told; a further healthy run: nothing.
    let e = rig.step("fast", HOUR).await;
    assert_eq!(e.resolved.len(), 1, "{e:?}");
    rig.step("fast", HOUR).await;
    let sent = rig.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].action, Action::Resolve);
    assert_eq!(sent[2].dedup_key, sent[0].dedup_key);
    assert!(rig.store.open_incidents(Some("bot")).unwrap().is_empty());
    // A new failure later is a new incident with a new dedup key.
    rig.step("slow", HOUR).await;
    let sent = rig.sent();
    assert_eq!(sent.len(), 3, "for: 2 again");
    rig.step("slow", HOUR).await;
    let sent = rig.sent();
    assert_eq!(sent.len(), 4);
    assert_ne!(sent[3].dedup_key, sent[0].dedup_key);
}

#[tokio::test]
async fn for_as_a_duration_fires_once_the_rule_failed_that_long() {
    let mut rig = Rig::new(Policy {
        fire_after: FireAfter::Duration(Duration::from_secs(30 * 60)),
        repeat: None,
    })
    .await;
    rig.step("slow", TimeDelta::minutes(10)).await;
    rig.step("slow", TimeDelta::minutes(10)).await;
    assert!(rig.sent().is_empty(), "10 minutes in");
    rig.step("slow", TimeDelta::minutes(25)).await;
    assert_eq!(rig.sent().len(), 1, "35 minutes in");
    // No `repeat`: never reminded.
    rig.step("slow", TimeDelta::hours(24)).await;
    assert_eq!(rig.sent().len(), 1);
}

#[tokio::test]
async fn a_silence_keeps_an_incident_quiet_but_tracked() {
    let mut rig = Rig::new(Policy::default()).await;
    let id = rig
        .store
        .add_silence(
            "bot",
            None,
            rig.now + TimeDelta::hours(3),
            "maintenance",
            rig.now,
        )
        .unwrap();
    let e = rig.step("slow", HOUR).await;
    assert_eq!(e.silenced.len(), 1, "{e:?}");
    rig.step("slow", HOUR).await;
    assert!(rig.sent().is_empty());
    let open = rig.store.open_incidents(Some("bot")).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].runs_failing, 2);
    assert!(open[0].silenced);
    // Lifted: the next failing run tells, once.
    assert!(rig.store.remove_silence(id).unwrap());
    assert!(!rig.store.remove_silence(id).unwrap());
    rig.step("slow", HOUR).await;
    rig.step("slow", HOUR).await;
    let sent = rig.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .details
            .iter()
            .any(|(k, v)| k == "since" && v.contains("3 failing runs")),
        "{:?}",
        sent[0].details
    );
    // A silence of another rule does not cover this one.
    rig.store
        .add_silence(
            "bot",
            Some("drift:latency_p95"),
            rig.now + TimeDelta::hours(9),
            "x",
            rig.now,
        )
        .unwrap();
    rig.step("fast", HOUR).await;
    assert_eq!(rig.sent().len(), 2, "the resolve goes out");
}

#[tokio::test]
async fn could_not_probe_inhibits_the_latency_rule_and_keeps_its_incident() {
    let mut rig = Rig::new(Policy::default()).await;
    rig.step("slow", HOUR).await;
    assert_eq!(rig.sent().len(), 1);
    // The probe cannot probe: could_not_probe fires (critical); the latency incident is
    // neither resolved nor re-notified.
    let e = rig.step("dead", HOUR).await;
    assert_eq!(e.fired.len(), 1, "{e:?}");
    assert_eq!(e.fired[0].0, "could_not_probe");
    assert!(e.resolved.is_empty(), "{e:?}");
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].rule, "could_not_probe");
    assert_eq!(sent[1].severity, probity::compare::Severity::Critical);
    let open: Vec<String> = rig
        .store
        .open_incidents(Some("bot"))
        .unwrap()
        .into_iter()
        .map(|i| i.rule)
        .collect();
    assert_eq!(open, vec!["threshold:error_rate", "could_not_probe"]);
    // Healthy again: both resolve, one each.
    let e = rig.step("fast", HOUR).await;
    assert_eq!(e.resolved.len(), 2, "{e:?}");
    let sent = rig.sent();
    assert_eq!(sent.len(), 4);
    assert!(sent[2..].iter().all(|n| n.action == Action::Resolve));
}

// ----- delivery -----

/// Fails retryably `fail` times, then accepts; counts calls.
struct Flaky {
    name: String,
    fail: u32,
    retryable: bool,
    calls: AtomicU32,
    accepted: Mutex<Vec<String>>,
}

impl Flaky {
    fn new(name: &str, fail: u32, retryable: bool) -> Flaky {
        Flaky {
            name: name.into(),
            fail,
            retryable,
            calls: AtomicU32::new(0),
            accepted: Mutex::new(vec![]),
        }
    }
}

impl Notifier for Flaky {
    fn name(&self) -> &str {
        &self.name
    }
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.fail {
                return Err(NotifyError {
                    retryable: self.retryable,
                    retry_after: Some(Duration::from_millis(2)),
                    message: format!("503 number {call}"),
                });
            }
            self.accepted.lock().unwrap().push(n.delivery_id.clone());
            Ok(())
        })
    }
}

/// Never answers.
struct Hang;

impl Notifier for Hang {
    fn name(&self) -> &str {
        "hang"
    }
    fn notify<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(futures_util::future::pending())
    }
}

/// A store with one firing incident queued for each of `channels`.
fn queued(dir: &Path, channels: &[&str]) -> (Store, DateTime<Utc>) {
    let store = Store::open(&dir.join("a.db")).unwrap();
    let now = Utc::now();
    let signal = rules::Signal {
        rule: "threshold:error_rate".into(),
        target: "default".into(),
        severity: probity::compare::Severity::Critical,
        message: "error rate 5.2% is above the critical limit 2%".into(),
        labels: BTreeMap::from([("env".to_string(), "prod".to_string())]),
        cause: None,
        details: vec![],
    };
    let names: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
    let route = move |_| names.clone();
    let e = evaluate(
        &store,
        "bot",
        &[signal],
        &Policy::default(),
        &route,
        None,
        now,
    )
    .unwrap();
    assert_eq!(e.queued, channels.len());
    (store, now)
}

fn boxed(n: impl Notifier + 'static) -> Box<dyn Notifier> {
    Box::new(n)
}

#[tokio::test]
async fn a_channel_failing_twice_then_accepting_gets_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, now) = queued(dir.path(), &["pd"]);
    let flaky = std::sync::Arc::new(Flaky::new("pd", 2, true));
    struct Shared(std::sync::Arc<Flaky>);
    impl Notifier for Shared {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
            self.0.notify(n)
        }
    }
    let notifiers = BTreeMap::from([("pd".to_string(), boxed(Shared(flaky.clone())))]);
    let report = deliver(&store, &notifiers, &fast_policy(), now)
        .await
        .unwrap();
    assert_eq!(report.count("sent"), 1, "{report:?}");
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    assert_eq!(flaky.accepted.lock().unwrap().len(), 1);
    let rows = store.outbox_all().unwrap();
    assert_eq!(rows[0].status, "sent");
    assert_eq!(rows[0].attempts, 3);
    // Delivered rows are not sent again.
    let report = deliver(&store, &notifiers, &fast_policy(), now)
        .await
        .unwrap();
    assert!(report.rows.is_empty());
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_non_retryable_error_is_not_retried_and_a_down_channel_stays_pending() {
    let dir = tempfile::tempdir().unwrap();
    let (store, now) = queued(dir.path(), &["bad", "down", "ok"]);
    let notifiers = BTreeMap::from([
        ("bad".to_string(), boxed(Flaky::new("bad", 9, false))),
        ("down".to_string(), boxed(Flaky::new("down", 99, true))),
        ("ok".to_string(), boxed(Flaky::new("ok", 0, true))),
    ]);
    let report = deliver(&store, &notifiers, &fast_policy(), now)
        .await
        .unwrap();
    let status: BTreeMap<&str, (&str, u32)> = report
        .rows
        .iter()
        .map(|r| (r.channel.as_str(), (r.status, r.attempts)))
        .collect();
    assert_eq!(status["bad"], ("failed", 1));
    assert_eq!(status["down"], ("pending", 3));
    assert_eq!(status["ok"], ("sent", 1));
    let undelivered = store.outbox_undelivered().unwrap();
    assert_eq!(undelivered.len(), 2);
    assert!(
        undelivered.iter().all(|r| r
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("503"))),
        "{undelivered:?}"
    );
    // The next run retries the pending row only (its Retry-After has passed by then).
    let later = now + TimeDelta::minutes(1);
    let report = deliver(&store, &notifiers, &fast_policy(), later)
        .await
        .unwrap();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].channel, "down");
}

#[tokio::test]
async fn a_hanging_channel_times_out_and_the_others_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (store, now) = queued(dir.path(), &["hang", "ok"]);
    let notifiers = BTreeMap::from([
        ("hang".to_string(), boxed(Hang)),
        ("ok".to_string(), boxed(Flaky::new("ok", 0, true))),
    ]);
    let policy = RetryPolicy {
        attempts: 1,
        timeout: Duration::from_millis(50),
        ..fast_policy()
    };
    let report = deliver(&store, &notifiers, &policy, now).await.unwrap();
    let hang = report.rows.iter().find(|r| r.channel == "hang").unwrap();
    assert_eq!(hang.status, "pending");
    assert!(
        hang.error
            .as_deref()
            .unwrap()
            .starts_with("no answer within"),
        "{hang:?}"
    );
    let ok = report.rows.iter().find(|r| r.channel == "ok").unwrap();
    assert_eq!(ok.status, "sent");
}

#[tokio::test]
async fn a_crash_between_send_and_mark_resends_with_the_same_delivery_id() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("out.jsonl");
    let (store, now) = queued(dir.path(), &["log"]);
    // The channel accepted it, and the process died before the row was marked sent.
    let row = store.due_outbox(now).unwrap().remove(0);
    let n: Notification = serde_json::from_value(row.notification).unwrap();
    let file = probity::alert::local::FileChannel {
        name: "log".into(),
        path: sink.clone(),
    };
    file.notify(&n).await.unwrap();
    drop(store);
    // The next run, with the store reopened, delivers it again with the same ids.
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    let routing = routing(&sink);
    let notifiers =
        build_notifiers(&routing, &["log".to_string()], Duration::from_secs(1)).unwrap();
    let report = deliver(&store, &notifiers, &fast_policy(), now)
        .await
        .unwrap();
    assert_eq!(report.count("sent"), 1);
    let sent = read_sink(&sink);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].delivery_id, sent[1].delivery_id);
    assert_eq!(sent[0].dedup_key, sent[1].dedup_key);
}

#[test]
fn a_channel_that_cannot_be_built_is_a_configuration_error() {
    let mut r = routing(Path::new("x.jsonl"));
    r.channels.insert(
        "chat".into(),
        RawChannel::Slack {
            webhook_url: "not a url".into(),
        },
    );
    let err = build_notifiers(&r, &["chat".to_string()], Duration::from_secs(1))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("`webhook_url` is not a URL"),
        "{err}"
    );
    assert!(err.to_string().contains("probes/alerts.yaml"), "{err}");
    // A network channel builds through `channels::build`.
    r.channels.insert(
        "chat".into(),
        RawChannel::Slack {
            webhook_url: "http://127.0.0.1:9/hook".into(),
        },
    );
    assert!(build_notifiers(&r, &["chat".to_string()], Duration::from_secs(1)).is_ok());
    assert!(channels_for(&r, "nope", probity::compare::Severity::Info).is_err());
}

// ----- the probe's `alerts:` keys -----

#[test]
fn alerts_for_and_repeat_are_read_from_the_probe() {
    let p = Project::new(
        PLACEHOLDER,
        "alerts: { route: default, for: 2, repeat: 4h }\n",
    );
    let probe = p.probe("k");
    assert_eq!(probe.alert_fire_after, FireAfter::Runs(2));
    assert_eq!(probe.alert_repeat, Some(Duration::from_secs(4 * 3600)));
    assert_eq!(Policy::of(&probe).fire_after, FireAfter::Runs(2));
    let p = Project::new(PLACEHOLDER, "alerts: { route: default, for: 30m }\n");
    let probe = p.probe("k");
    assert_eq!(
        probe.alert_fire_after,
        FireAfter::Duration(Duration::from_secs(1800))
    );
    assert_eq!(probe.alert_repeat, None);
    let probe = Project::new(PLACEHOLDER, "").probe("k");
    assert_eq!(probe.alert_fire_after, FireAfter::Runs(1));
}

#[test]
fn a_bad_for_or_repeat_is_an_error_at_its_key() {
    for (body, key, says) in [
        (
            "alerts:\n  route: default\n  for: 0\n",
            "alerts.for",
            "whole number of runs",
        ),
        (
            "alerts:\n  route: default\n  for: 1.5\n",
            "alerts.for",
            "whole number of runs",
        ),
        (
            "alerts:\n  route: default\n  repeat: soon\n",
            "alerts.repeat",
            "invalid duration",
        ),
        (
            "alerts:\n  route: default\n  repeat: 0s\n",
            "alerts.repeat",
            "longer than 0",
        ),
    ] {
        let p = Project::new(PLACEHOLDER, body);
        let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "k".to_string());
        let err = probity::config::load_paths(&[p.probe_file()], &env)
            .err()
            .unwrap_or_else(|| panic!("{body} loads"))
            .to_string();
        assert!(err.contains(key) && err.contains(says), "{body}: {err}");
        // The line of the key: `name`, the target (six lines), `golden_sets`, `alerts`,
        // `route`, then the key on line 11.
        assert!(err.contains("bot.yaml:11:"), "{body}: {err}");
    }
}

// ----- the commands -----

async fn probity(project: &Project, args: &[&str]) -> std::process::Output {
    project::probity_in(project.root(), &[("PROBITY_TEST_KEY", "k")], args).await
}

const ALERTS_YAML: &str = "channels:\n  log: { type: file, path: alerts.jsonl }\n  console: { type: console }\nroutes:\n  default: { critical: [log, console], warning: [log] }\n";

#[tokio::test(flavor = "multi_thread")]
async fn run_alerts_through_the_file_and_console_channels_and_alert_commands_manage_them() {
    let project = Project::new(
        PLACEHOLDER,
        "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default }\n",
    );
    std::fs::write(project.root().join("probes/alerts.yaml"), ALERTS_YAML).unwrap();
    let sim = project::start_sim(&project.golden(), failing_profile()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let sink = project.root().join("alerts.jsonl");

    let out = probity(&project, &["run", "bot", "--out", "report.json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("alert [CRITICAL] Error rate"), "{stderr}");
    let sent = read_sink(&sink);
    let trigger = sent
        .iter()
        .find(|n| n.rule == "threshold:error_rate")
        .unwrap_or_else(|| panic!("{sent:?}"));
    // The alert links to the run's HTML report (issue 11), not to the JSON document.
    let link = trigger.link.as_deref().unwrap_or_default();
    assert!(
        link.starts_with("reports/bot/") && link.ends_with(".html"),
        "{link}"
    );
    assert!(project.root().join(link).is_file(), "{link}");
    // The cause beside the symptom: the top error class with its count, and in the
    // details the counts with one example error text.
    assert!(
        trigger
            .summary
            .contains(" on bot (default), top error: malformed_response ("),
        "{}",
        trigger.summary
    );
    let errors = trigger
        .details
        .iter()
        .find(|(k, _)| k == "errors")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{:?}", trigger.details));
    assert!(
        errors.starts_with("malformed_response ") && errors.contains("; e.g. malformed_response: "),
        "{errors}"
    );

    let out = probity(&project, &["alert", "list"]).await;
    let listed = text(&out.stdout);
    assert!(
        listed.contains("firing") && listed.contains("threshold:error_rate"),
        "{listed}"
    );

    let out = probity(
        &project,
        &[
            "alert",
            "silence",
            "bot",
            "--rule",
            "threshold:error_rate",
            "--for",
            "2h",
            "--reason",
            "known",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("silence 1:"),
        "{}",
        text(&out.stdout)
    );
    let out = probity(&project, &["alert", "silences"]).await;
    assert!(text(&out.stdout).contains("known"), "{}", text(&out.stdout));
    let out = probity(&project, &["alert", "unsilence", "1"]).await;
    assert_eq!(out.status.code(), Some(0));
    let out = probity(&project, &["alert", "unsilence", "1"]).await;
    assert_eq!(out.status.code(), Some(2), "a second time: no such silence");
    let out = probity(&project, &["alert", "outbox"]).await;
    assert!(
        text(&out.stdout).contains("outbox empty"),
        "{}",
        text(&out.stdout)
    );

    // --no-alerts: nothing changes, nothing is sent.
    let before = read_sink(&sink).len();
    let out = probity(&project, &["run", "bot", "--no-alerts"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read_sink(&sink).len(), before);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_channel_with_an_unset_variable_is_exit_2_before_any_request() {
    let project = Project::new(PLACEHOLDER, "alerts: { route: default }\n");
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  chat: { type: slack, webhook_url: \"${PROBITY_NO_SUCH_SLACK_URL}\" }\nroutes:\n  default: { warning: [chat] }\n",
    )
    .unwrap();
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("PROBITY_NO_SUCH_SLACK_URL"), "{stderr}");
    assert!(stderr.contains("alerts.yaml"), "{stderr}");
    // --no-alerts: the routing file is not needed, the run goes (and cannot probe).
    let out = probity(&project, &["run", "bot", "--no-alerts"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_test_sends_a_marked_trigger_and_resolve_to_each_channel() {
    let project = Project::new(PLACEHOLDER, "");
    std::fs::write(project.root().join("probes/alerts.yaml"), ALERTS_YAML).unwrap();
    let out = probity(&project, &["alert", "test"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "log: trigger accepted in",
        "log: resolve accepted in",
        "console: trigger accepted in",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert!(
        text(&out.stderr).contains("alert [TEST CRITICAL]"),
        "{}",
        text(&out.stderr)
    );
    let sent = read_sink(&project.root().join("alerts.jsonl"));
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|n| n.test));
    assert_eq!(sent[0].dedup_key, sent[1].dedup_key);
    assert_eq!(sent[1].action, Action::Resolve);
    // --no-resolve, one channel; the route's warning level has only `log`.
    let out = probity(
        &project,
        &["alert", "test", "--severity", "warning", "--no-resolve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read_sink(&project.root().join("alerts.jsonl")).len(), 3);
    // Info goes nowhere on this route: a usage error, not a silent pass.
    let out = probity(&project, &["alert", "test", "--severity", "info"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    // A channel that cannot deliver: exit 1.
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  log: { type: file, path: no/such/dir/a.jsonl }\nroutes:\n  default: { critical: [log] }\n",
    )
    .unwrap();
    let out = probity(&project, &["alert", "test", "--channel", "log"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("log: trigger FAILED"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gate_alerts_only_with_the_alert_flag() {
    let project = Project::new(
        PLACEHOLDER,
        "samples: 8\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default }\n",
    );
    std::fs::write(project.root().join("probes/alerts.yaml"), ALERTS_YAML).unwrap();
    let sim = project::start_sim(&project.golden(), failing_profile()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let sink = project.root().join("alerts.jsonl");
    let out = probity(&project, &["run", "bot", "--no-alerts"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = probity(&project, &["baseline", "promote", "latest"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let gate = ["gate", "bot", "--candidate", "default"];
    let out = probity(&project, &gate).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        read_sink(&sink).is_empty(),
        "a gate does not alert by default"
    );
    let out = probity(&project, &[&gate[..], &["--alert"]].concat()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        read_sink(&sink)
            .iter()
            .any(|n| n.rule == "threshold:error_rate"),
        "{}",
        text(&out.stderr)
    );
    sim.shutdown().await.unwrap();
}

// ----- custom rules, info notes and message content, through `after_run` -----

/// Routing with one file channel per severity: `page` (critical), `chat` (warning) and
/// `mail` (info), so a test sees which severity went where.
fn tiered_routing(root: &Path) -> AlertRouting {
    let file = |name: &str| RawChannel::File {
        path: root.join(format!("{name}.jsonl")).display().to_string(),
    };
    AlertRouting {
        file: PathBuf::from("probes/alerts.yaml"),
        channels: BTreeMap::from([
            ("page".to_string(), file("page")),
            ("chat".to_string(), file("chat")),
            ("mail".to_string(), file("mail")),
        ]),
        routes: BTreeMap::from([(
            "default".to_string(),
            RawRoute {
                critical: vec!["page".into()],
                warning: vec!["chat".into()],
                info: vec!["mail".into()],
            },
        )]),
        secrets: vec![],
        unset: BTreeMap::new(),
    }
}

/// A project run by hand, each run followed by `after_run` as `publish` calls it.
struct Tiered {
    project: Project,
    store: Store,
    routing: AlertRouting,
    now: DateTime<Utc>,
}

impl Tiered {
    fn new(body: &str) -> Tiered {
        let project = Project::new(PLACEHOLDER, body);
        let store = Store::open(&project.db()).unwrap();
        let routing = tiered_routing(project.root());
        Tiered {
            project,
            store,
            routing,
            now: Utc::now(),
        }
    }

    /// Edits the probe file (`from` → `to`).
    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.project.probe_file()).unwrap();
        assert!(text.contains(from), "{from} not in {text}");
        std::fs::write(self.project.probe_file(), text.replace(from, to)).unwrap();
    }

    /// One run against `sim`, then alerting; returns the run's id and what alerting did.
    async fn step(&mut self, url: &str) -> (String, probity::alert::after_run::Activity) {
        let text = std::fs::read_to_string(self.project.probe_file()).unwrap();
        let url_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("base_url:"))
            .unwrap()
            .to_string();
        self.edit(&url_line, &format!("  base_url: {url}"));
        let probe = self.project.probe("k");
        let outcome = project::run(&probe, &self.store, &RunOptions::default()).await;
        self.now += HOUR;
        let activity = probity::alert::after_run::after_run(
            &self.store,
            &self.routing,
            &probe,
            &outcome,
            Some("reports/run.html"),
            self.now,
        )
        .await
        .unwrap()
        .expect("the probe has alerts");
        assert_eq!(
            activity.delivery.count("sent"),
            activity.delivery.rows.len(),
            "{:?}",
            activity.delivery
        );
        (outcome.run_id.clone(), activity)
    }

    fn sent(&self, channel: &str) -> Vec<Notification> {
        read_sink(&self.project.root().join(format!("{channel}.jsonl")))
    }

    fn sent_of(&self, channel: &str, rule: &str) -> Vec<Notification> {
        self.sent(channel)
            .into_iter()
            .filter(|n| n.rule == rule)
            .collect()
    }
}

fn detail<'a>(n: &'a Notification, key: &str) -> Option<&'a str> {
    n.details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_rule_fires_once_with_its_limit_in_the_message_and_its_recovery_goes_to_info() {
    let mut t = Tiered::new(
        "samples: 2\npricing: { input_per_mtok: 1, output_per_mtok: 1 }\nalerts:\n  route: default\n  rules:\n    - { name: cost-spike, metric: cost_per_request_usd, op: \">\", value: 0.002, severity: warning }\n",
    );
    let sim = project::start_sim(&t.project.golden(), Profile::default()).await;
    let (_, a) = t.step(&sim.base_url()).await;
    assert!(a.evaluation.fired.is_empty(), "cheap: {:?}", a.evaluation);

    // The price goes up a hundredfold: every request costs more than $0.002.
    t.edit(
        "input_per_mtok: 1, output_per_mtok: 1",
        "input_per_mtok: 100, output_per_mtok: 100",
    );
    let (_, a) = t.step(&sim.base_url()).await;
    assert_eq!(
        a.evaluation.fired,
        vec![("cost-spike".to_string(), "default".to_string())]
    );
    let chat = t.sent_of("chat", "cost-spike");
    assert_eq!(chat.len(), 1, "{chat:?}");
    let n = &chat[0];
    assert_eq!(n.severity, probity::compare::Severity::Warning);
    assert!(
        n.summary.starts_with("Cost per request $0.")
            && n.summary
                .contains(" (rule cost-spike: > $0.00200) on bot (default)"),
        "{}",
        n.summary
    );
    assert_eq!(n.link.as_deref(), Some("reports/run.html"));
    assert_eq!(detail(n, "details"), Some("reports/run.html"));
    assert!(
        t.sent_of("page", "cost-spike").is_empty(),
        "a warning pages no one"
    );

    // Still expensive: the incident continues, nothing new is sent (no `repeat`).
    let (_, a) = t.step(&sim.base_url()).await;
    assert!(
        a.evaluation.fired.is_empty() && a.evaluation.queued == 0,
        "{:?}",
        a.evaluation
    );
    assert_eq!(t.sent_of("chat", "cost-spike").len(), 1);

    // Cheap again: one resolve to the channel that was told, and the recovery to `mail`.
    t.edit(
        "input_per_mtok: 100, output_per_mtok: 100",
        "input_per_mtok: 1, output_per_mtok: 1",
    );
    let (_, a) = t.step(&sim.base_url()).await;
    assert_eq!(
        a.evaluation.resolved,
        vec![("cost-spike".to_string(), "default".to_string())]
    );
    let chat = t.sent_of("chat", "cost-spike");
    assert_eq!(chat.len(), 2);
    assert_eq!(chat[1].action, Action::Resolve);
    assert_eq!(chat[1].dedup_key, chat[0].dedup_key);
    let mail = t.sent_of("mail", "cost-spike");
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].action, Action::Resolve);
    assert_eq!(mail[0].dedup_key, chat[0].dedup_key);
    let incidents = t.store.incidents("bot").unwrap();
    let spike: Vec<_> = incidents
        .iter()
        .filter(|i| i.rule == "cost-spike")
        .collect();
    assert_eq!(spike.len(), 1);
    assert!(spike[0].resolved_at.is_some() && spike[0].runs_failing == 2);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn could_not_probe_inhibits_a_custom_rule_and_keeps_its_incident_open() {
    let mut t = Tiered::new(
        "samples: 8\nalerts:\n  route: default\n  rules:\n    - { name: errors, metric: error_rate, op: \">=\", value: 0.1, severity: critical }\n",
    );
    let failing = project::start_sim(&t.project.golden(), failing_profile()).await;
    let healthy = project::start_sim(&t.project.golden(), Profile::default()).await;
    let (_, a) = t.step(&failing.base_url()).await;
    assert!(
        a.evaluation
            .fired
            .contains(&("errors".to_string(), "default".to_string())),
        "{:?}",
        a.evaluation
    );
    let page = t.sent_of("page", "errors");
    assert_eq!(page.len(), 1);
    assert!(
        page[0].summary.starts_with("Error rate ")
            && page[0].summary.contains("(rule errors: >= 10.0%)"),
        "{}",
        page[0].summary
    );

    // Nothing answers: the error rate is 100%, but only could-not-probe speaks.
    let (_, a) = t.step(PLACEHOLDER).await;
    let fired = &a.evaluation.fired;
    assert!(
        !fired.is_empty() && fired.iter().all(|f| f.0 == rules::COULD_NOT_PROBE),
        "only could-not-probe fires: {:?}",
        a.evaluation
    );
    assert!(a.evaluation.resolved.is_empty(), "{:?}", a.evaluation);
    let open = t.store.open_incidents(Some("bot")).unwrap();
    let errors = open
        .iter()
        .find(|i| i.rule == "errors")
        .expect("still open");
    assert_eq!(errors.runs_failing, 1, "not counted while inhibited");

    let (_, a) = t.step(&healthy.base_url()).await;
    assert!(
        a.evaluation
            .resolved
            .contains(&("errors".to_string(), "default".to_string())),
        "{:?}",
        a.evaluation
    );
    failing.shutdown().await.unwrap();
    healthy.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn info_notes_tell_a_new_baseline_a_new_model_and_new_labels_once_each() {
    let mut t = Tiered::new(
        "samples: 8\nalerts:\n  route: default\n  rules:\n    - { name: errors, metric: error_rate, op: \">=\", value: 0.1, severity: critical }\n",
    );
    t.edit(
        "  stream: true\n",
        "  stream: true\n  labels: { model_version: 2024-07-18 }\n",
    );
    let healthy = project::start_sim(&t.project.golden(), Profile::default()).await;
    let failing = project::start_sim(&t.project.golden(), failing_profile()).await;
    let (first, a) = t.step(&healthy.base_url()).await;
    assert!(
        a.evaluation.info.is_empty(),
        "nothing to compare with: {:?}",
        a.evaluation
    );
    let out = project::probity_in(
        t.project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["baseline", "promote", &first],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The next run compares with the promoted one: one note, to the info channel only.
    let (_, a) = t.step(&healthy.base_url()).await;
    assert_eq!(
        a.evaluation.info,
        vec![("info:baseline".to_string(), "default".to_string())]
    );
    let mail = t.sent_of("mail", "info:baseline");
    assert_eq!(mail.len(), 1, "{:?}", t.sent("mail"));
    assert_eq!(mail[0].severity, probity::compare::Severity::Info);
    assert!(mail[0].summary.contains(&first), "{}", mail[0].summary);
    assert_eq!(detail(&mail[0], "baseline run"), Some(first.as_str()));
    assert!(t.sent("chat").is_empty() && t.sent("page").is_empty());

    // A run that could not probe compared with nothing: the run after it is not told of
    // the same baseline again (nor of a model change: no answer reported a model).
    let (_, a) = t.step(PLACEHOLDER).await;
    assert!(a.evaluation.info.is_empty(), "{:?}", a.evaluation);

    // A model update: the endpoint reports another model, the label moves, errors rise.
    t.edit("model: sim-model", "model: sim-model-2");
    t.edit("model_version: 2024-07-18", "model_version: 2024-08-06");
    let (_, a) = t.step(&failing.base_url()).await;
    let mut info = a.evaluation.info.clone();
    info.sort();
    assert_eq!(
        info,
        vec![
            ("info:labels".to_string(), "default".to_string()),
            ("info:model".to_string(), "default".to_string()),
        ]
    );
    let model = &t.sent_of("mail", "info:model")[0];
    assert!(
        model
            .summary
            .contains("now reports model sim-model-2 (was sim-model)"),
        "{}",
        model.summary
    );
    let labels = &t.sent_of("mail", "info:labels")[0];
    assert!(
        labels
            .summary
            .contains("model_version 2024-07-18 → 2024-08-06"),
        "{}",
        labels.summary
    );
    // The page names the change since the baseline, with when it started.
    let page = t.sent_of("page", "errors");
    assert_eq!(page.len(), 1, "{:?}", t.sent("page"));
    let change = detail(&page[0], "model change").unwrap_or_else(|| panic!("{:?}", page[0]));
    assert!(
        change.starts_with("model_version 2024-07-18 → 2024-08-06 since ")
            && change.ends_with(" UTC"),
        "{change}"
    );
    let reported = detail(&page[0], "reported model").unwrap_or_else(|| panic!("{:?}", page[0]));
    assert!(
        reported.starts_with("sim-model → sim-model-2 since "),
        "{reported}"
    );
    assert_eq!(detail(&page[0], "labels"), Some("model_version=2024-08-06"));

    // Nothing changed since: no note again (the incident resolves, and that goes to mail).
    let before = t.sent("mail").len();
    let (_, a) = t.step(&healthy.base_url()).await;
    assert!(a.evaluation.info.is_empty(), "{:?}", a.evaluation);
    let mail = t.sent("mail");
    assert!(
        mail[before..]
            .iter()
            .all(|n| n.action == Action::Resolve && !n.rule.starts_with("info:")),
        "{mail:?}"
    );

    // A silence of `info:labels` holds that note back; other notes still go.
    t.store
        .add_silence(
            "bot",
            Some("info:labels"),
            t.now + HOUR * 4,
            "relabelling",
            t.now,
        )
        .unwrap();
    t.edit("model_version: 2024-08-06", "model_version: 2024-09-01");
    t.edit("model: sim-model-2", "model: sim-model-3");
    let (_, a) = t.step(&healthy.base_url()).await;
    assert_eq!(
        a.evaluation.info,
        vec![("info:model".to_string(), "default".to_string())]
    );
    assert_eq!(t.sent_of("mail", "info:labels").len(), 1);
    healthy.shutdown().await.unwrap();
    failing.shutdown().await.unwrap();
}

#[test]
fn custom_rules_are_read_from_the_probe() {
    let p = Project::new(
        PLACEHOLDER,
        "alerts:\n  route: default\n  rules:\n    - { name: cost-spike, metric: cost_per_request_usd, op: \">\", value: 0.002, severity: warning }\n    - { name: slow, metric: latency_ms.p95, op: \">=\", value: 800, severity: critical }\n",
    );
    let probe = p.probe("k");
    let rules = &probe.alert_rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].name, "cost-spike");
    assert_eq!(rules[0].metric, "cost_per_request_usd");
    assert_eq!(rules[0].op, probity::config::RuleOp::Gt);
    assert_eq!(rules[0].value, 0.002);
    assert!(!rules[0].critical);
    assert_eq!(rules[1].op, probity::config::RuleOp::Ge);
    assert!(rules[1].critical);
}

#[test]
fn a_bad_custom_rule_is_an_error_at_its_key_with_a_did_you_mean() {
    let rule =
        |fields: &str| format!("alerts:\n  route: default\n  rules:\n    - {{ {fields} }}\n");
    for (body, key, says) in [
        (
            rule("name: c, metric: cost_per_requst_usd, op: \">\", value: 1, severity: warning"),
            "metric",
            "unknown metric `cost_per_requst_usd`\n  hint: did you mean `cost_per_request_usd`?",
        ),
        (
            rule("name: c, metric: latency_p95, op: \">\", value: 1, severity: warning"),
            "metric",
            "did you mean `latency_ms.p95`?",
        ),
        (
            rule("name: c, metric: error_rate, op: \"=>\", value: 1, severity: warning"),
            "op",
            "unknown op `=>`",
        ),
        (
            rule("name: c, metric: error_rate, op: \">\", value: 1, severity: critcal"),
            "severity",
            "did you mean `critical`?",
        ),
        (
            rule("name: c, metric: error_rate, op: \">\", value: 1, severity: info"),
            "severity",
            "one-shot",
        ),
        (
            rule("name: \"a b\", metric: error_rate, op: \">\", value: 1, severity: warning"),
            "name",
            "cannot name a rule",
        ),
        (
            format!(
                "{}    - {{ name: c, metric: pass_rate, op: \"<\", value: 1, severity: warning }}\n",
                rule("name: c, metric: error_rate, op: \">\", value: 1, severity: warning")
            ),
            "name",
            "a second rule named `c`",
        ),
    ] {
        let p = Project::new(PLACEHOLDER, &body);
        // A key that no message contains (errors show it as `${PROBITY_TEST_KEY}`).
        let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "s3cr3t-42".to_string());
        let err = probity::config::load_paths(&[p.probe_file()], &env)
            .err()
            .unwrap_or_else(|| panic!("{body} loads"))
            .to_string();
        let key = format!(
            "alerts.rules[{}].{key}",
            usize::from(body.matches("name: c,").count() > 1)
        );
        assert!(err.contains(&key) && err.contains(says), "{body}: {err}");
        // `name`, the target (six lines), `golden_sets`, `alerts`, `route`, `rules`, then
        // the rule on line 12 (the duplicate on 13).
        assert!(
            err.contains("bot.yaml:12:") || err.contains("bot.yaml:13:"),
            "{body}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_metric_is_a_key_of_the_run_document_summary() {
    let (project, sim) = Project::with_sim(
        "samples: 2\npricing: { input_per_mtok: 1, output_per_mtok: 1 }\n",
        Profile::default(),
    )
    .await;
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&project.probe("k"), &store, &RunOptions::default()).await;
    let doc = probity::report::json::run_document(&outcome);
    for m in probity::alert::metric::METRICS {
        if m.name == "cost_per_request_usd" {
            continue; // derived: cost_usd / requests
        }
        let mut v = &doc["summary"];
        for key in m.name.split('.') {
            assert!(
                v.get(key).is_some(),
                "`{}` is not in the summary: {v}",
                m.name
            );
            v = &v[key];
        }
        assert!(
            v.is_number() || v.is_null() || v.get("value").is_some_and(|x| x.is_number()),
            "{}: {v}",
            m.name
        );
    }
    let cost = probity::alert::metric::value_in(&doc["summary"], "cost_per_request_usd").unwrap();
    let expect =
        doc["summary"]["cost_usd"].as_f64().unwrap() / doc["summary"]["requests"].as_f64().unwrap();
    assert!(
        cost > 0.0 && (cost - expect).abs() < 1e-15,
        "{cost} vs {expect}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_system_fingerprint_is_an_info_note_once_streamed_or_not() {
    let mut t = Tiered::new("samples: 2\nalerts: { route: default }\n");
    let serving = |fp: &str| Profile {
        system_fingerprint: Some(fp.to_string()),
        ..Profile::default()
    };
    let a = project::start_sim(&t.project.golden(), serving("fp_aaa")).await;
    let b = project::start_sim(&t.project.golden(), serving("fp_bbb")).await;
    let c = project::start_sim(&t.project.golden(), serving("fp_ccc")).await;
    let (first, act) = t.step(&a.base_url()).await;
    assert!(act.evaluation.info.is_empty());
    // Kept per observation (migration 0006), streamed answers included.
    assert_eq!(
        t.store.fingerprints_reported(&first, "default").unwrap(),
        vec![("fp_aaa".to_string(), 8)]
    );
    let (_, act) = t.step(&b.base_url()).await;
    assert_eq!(
        act.evaluation.info,
        vec![("info:fingerprint".to_string(), "default".to_string())]
    );
    let note = &t.sent_of("mail", "info:fingerprint")[0];
    assert!(
        note.summary
            .contains("now reports system_fingerprint fp_bbb (was fp_aaa) on bot (default)"),
        "{}",
        note.summary
    );
    let (_, act) = t.step(&b.base_url()).await;
    assert!(
        act.evaluation.info.is_empty(),
        "told once: {:?}",
        act.evaluation
    );
    // Without streaming, the completion's own field is read.
    t.edit("stream: true", "stream: false");
    let (_, act) = t.step(&c.base_url()).await;
    assert_eq!(
        act.evaluation.info,
        vec![("info:fingerprint".to_string(), "default".to_string())]
    );
    assert_eq!(t.sent_of("mail", "info:fingerprint").len(), 2);
    for sim in [a, b, c] {
        sim.shutdown().await.unwrap();
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// The six ops of a custom rule agree with each other for any pair of values: `>` and
    /// `<=` are complements, as are `<` and `>=`, `==` and `!=`; `>=` is `>` or `==`.
    #[test]
    fn rule_ops_are_consistent(a in -1e9f64..1e9, b in -1e9f64..1e9, same in proptest::bool::ANY) {
        use probity::config::RuleOp::*;
        let b = if same { a } else { b };
        proptest::prop_assert_ne!(Gt.holds(a, b), Le.holds(a, b));
        proptest::prop_assert_ne!(Lt.holds(a, b), Ge.holds(a, b));
        proptest::prop_assert_ne!(Eq.holds(a, b), Ne.holds(a, b));
        proptest::prop_assert_eq!(Ge.holds(a, b), Gt.holds(a, b) || Eq.holds(a, b));
        proptest::prop_assert_eq!(Eq.holds(a, b), Eq.holds(b, a));
        proptest::prop_assert_eq!(Gt.holds(a, b), Lt.holds(b, a));
        if same {
            proptest::prop_assert!(Eq.holds(a, b) && !Gt.holds(a, b) && !Lt.holds(a, b));
        }
        for (text, op) in probity::config::RuleOp::ALL {
            proptest::prop_assert_eq!(probity::config::RuleOp::parse(text), Some(op));
            proptest::prop_assert_eq!(op.as_str(), text);
        }
    }
}
