//! The e-mailed summary of a run (`report.email`, issue 11) and the digest (`report.digest`,
//! issue 12), received by a real SMTP server (aiosmtpd, `tests/support/smtp.rs`) and read
//! back with Python's `email` package: the subject, both parts, the attached report,
//! hostile model output escaped, `when: on_change`, a server that is down (the row stays
//! pending and the next run delivers it), the config's errors at file:line:col.

#[path = "support/alertmanager.rs"]
mod alertmanager;
#[path = "support/process.rs"]
mod process;
#[path = "support/project.rs"]
mod project;
#[path = "support/smtp.rs"]
mod smtp;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{Duration as TimeDelta, Utc};
use probity::compare::Verdict;
use probity::config::alerts::{RawChannel, SmtpTls};
use probity::config::report::ReportWhen;
use probity::config::{AlertRouting, load_paths};
use probity::pipeline::{Outputs, RunOptions, publish};
use probity::report::email::{send_summary, subject, wanted};
use probity::sim::Profile;
use probity::store::Store;
use project::{GOLDEN, PLACEHOLDER, Project, text};

/// A model answer that tries every trick: markup, a script, an event handler, a bidi
/// override (U+202E) that would reverse what follows.
const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> & \u{202E}gnp.exe";

fn email_channel(port: u16) -> RawChannel {
    RawChannel::Email {
        smtp: format!("smtp://127.0.0.1:{port}"),
        tls: Some(SmtpTls::None),
        username: None,
        password: None,
        from: "Probity <probity@example.test>".into(),
        to: vec!["oncall@example.test".into()],
        ca_file: None,
    }
}

fn routing(port: u16) -> AlertRouting {
    AlertRouting {
        file: PathBuf::from("probes/alerts.yaml"),
        channels: BTreeMap::from([
            ("mail".to_string(), email_channel(port)),
            ("console".to_string(), RawChannel::Console {}),
        ]),
        routes: BTreeMap::new(),
        secrets: vec![],
        unset: BTreeMap::new(),
    }
}

/// A probe `bot` whose golden set adds a case the simulator answers with [`HOSTILE`]
/// (its `equals`), which then fails its `contains`.
fn hostile_project(report: &str) -> Project {
    let golden = format!(
        "{GOLDEN}  - id: hostile\n    messages: [{{ role: user, content: \"Say something.\" }}]\n    \
         expect: {{ equals: {}, contains: [\"refund\"] }}\n",
        serde_json::to_string(HOSTILE).unwrap()
    );
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {PLACEHOLDER}\n  model: sim-model\n  \
         api_key: ${{PROBITY_TEST_KEY}}\n  stream: true\ngolden_sets: [golden-sets/support.yaml]\n\
         samples: 4\nthresholds: {{ error_rate: {{ warning: 0.05, critical: 0.1 }} }}\n{report}"
    );
    Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/support.yaml", &golden),
    ])
}

/// 30% of answers are malformed (not retried): the error rate is over the critical limit.
fn failing_profile() -> Profile {
    let mut p = Profile::default();
    p.errors.rate_malformed = 0.3;
    p
}

/// One leaf part of a received message: content type, filename, disposition, text.
#[derive(Debug, serde::Deserialize)]
struct Part {
    content_type: String,
    filename: Option<String>,
    disposition: Option<String>,
    text: String,
}

#[derive(Debug, serde::Deserialize)]
struct Message {
    subject: String,
    to: String,
    content_type: String,
    message_id: String,
    parts: Vec<Part>,
}

const READER: &str = r#"
import email, email.policy, json, mailbox, sys
out = []
for key, msg in sorted(mailbox.Maildir(sys.argv[1], create=False).items()):
    m = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    parts = [{"content_type": p.get_content_type(), "filename": p.get_filename(),
              "disposition": p.get_content_disposition(), "text": p.get_content()}
             for p in m.walk() if not p.is_multipart()]
    out.append({"subject": str(m["subject"]), "to": str(m["to"]),
                "content_type": m.get_content_type(), "message_id": str(m["message-id"]),
                "parts": parts})
print(json.dumps(out))
"#;

/// Every message the server received (in maildir order, which is not arrival order).
fn received(server: &smtp::Smtp) -> Vec<Message> {
    let out = std::process::Command::new(smtp::python())
        .args(["-c", READER])
        .arg(server.mail_dir())
        .output()
        .expect("run the maildir reader");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader output")
}

#[tokio::test]
async fn the_summary_has_both_parts_the_report_attached_and_hostile_output_escaped() {
    let server = smtp::Smtp::start().await;
    let project =
        hostile_project("report: { email: { to: [owners@example.test], channel: mail } }\n");
    let sim = project::start_sim(&project.golden(), failing_profile()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;

    // The HTML report of the run, as the report step writes it.
    let report = project
        .root()
        .join(format!("reports/bot/{}.html", outcome.run_id));
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let report_text = format!(
        "<!DOCTYPE html><html><body>report of {}</body></html>",
        outcome.run_id
    );
    std::fs::write(&report, &report_text).unwrap();

    let routing = routing(server.port);
    let activity = send_summary(
        &store,
        &routing,
        &probe,
        &outcome,
        Some(&report),
        Utc::now(),
    )
    .await
    .unwrap()
    .expect("the probe has report.email");
    assert!(activity.queued);
    assert_eq!(activity.channel, "mail");
    assert_eq!(
        activity.delivery.count("sent"),
        1,
        "{:?}",
        activity.delivery
    );

    let got = received(&server);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(
        m.subject.starts_with("[probity] bot: FAIL — ") && m.subject.contains(" critical"),
        "{}",
        m.subject
    );
    assert_eq!(m.subject, subject(&outcome));
    // The summary's own recipients, not the channel's.
    assert_eq!(m.to, "owners@example.test");
    assert_eq!(
        m.message_id,
        format!("<summary-{}@probity.invalid>", outcome.run_id)
    );
    assert_eq!(m.content_type, "multipart/mixed");
    assert_eq!(m.parts.len(), 3, "{:?}", m.parts);
    let (plain, html, attached) = (&m.parts[0], &m.parts[1], &m.parts[2]);
    assert_eq!(plain.content_type, "text/plain");
    assert_eq!(html.content_type, "text/html");
    assert_eq!(attached.content_type, "text/html");
    assert_eq!(attached.disposition.as_deref(), Some("attachment"));
    assert_eq!(
        attached.filename.as_deref(),
        Some(format!("{}.html", outcome.run_id).as_str())
    );
    assert_eq!(attached.text, report_text);

    // Both parts show the verdict, the metrics, the findings and the failing case.
    for part in [&plain.text, &html.text] {
        assert!(part.contains("error_rate"), "{part}");
        assert!(part.contains("latency_p95"), "{part}");
        assert!(part.contains("support/hostile"), "{part}");
        assert!(part.contains(&outcome.run_id), "{part}");
        assert!(part.contains(&format!("{}.html", outcome.run_id)), "{part}");
    }
    assert!(
        html.text.contains("background:#cf222e"),
        "the FAIL banner is red"
    );
    assert!(!html.text.contains("<svg"), "mail clients drop SVG");
    // The hostile answer: shown as text in HTML, its bidi override made visible in both.
    assert!(
        html.text.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &amp; [U+202E]gnp.exe"
        ),
        "{}",
        html.text
    );
    assert!(!html.text.contains("<script") && !html.text.contains("<img"));
    assert!(
        plain
            .text
            .contains("<script>alert(1)</script><img src=x onerror=alert(2)> & [U+202E]gnp.exe")
    );
    for text in [&plain.text, &html.text, &m.subject] {
        assert!(!text.contains('\u{202E}'));
    }
}

#[tokio::test]
async fn run_sends_the_shorthand_summary_through_the_only_email_channel() {
    let server = smtp::Smtp::start().await;
    let (project, _sim) = Project::with_sim(
        "report: { email: [owners@example.test] }\n",
        Profile::default(),
    )
    .await;
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        format!(
            "channels:\n  mail: {{ type: email, smtp: \"smtp://127.0.0.1:{}\", tls: none, \
             from: probity@example.test, to: [oncall@example.test] }}\n  term: {{ type: console }}\n",
            server.port
        ),
    )
    .unwrap();
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot", "--samples", "2"],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("e-mail summary queued via `mail`: 1 sent"),
        "{stderr}"
    );
    let got = received(&server);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].subject.starts_with("[probity] bot: "),
        "{}",
        got[0].subject
    );
    assert_eq!(got[0].to, "owners@example.test");
    // The run's HTML report (reports/bot/<run_id>.html) is attached.
    let report = std::fs::read_dir(project.root().join("reports/bot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n != "latest.html"))
        .expect("run wrote its report");
    let name = report.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(got[0].content_type, "multipart/mixed");
    let types: Vec<&str> = got[0]
        .parts
        .iter()
        .map(|p| p.content_type.as_str())
        .collect();
    assert_eq!(types, ["text/plain", "text/html", "text/html"]);
    let attached = &got[0].parts[2];
    assert_eq!(attached.filename.as_deref(), Some(name.as_str()));
    assert_eq!(attached.disposition.as_deref(), Some("attachment"));
    assert_eq!(attached.text, std::fs::read_to_string(&report).unwrap());
    assert!(
        got[0].parts[0]
            .text
            .contains(&format!("The full report is attached: {name}"))
    );

    // --no-report: the summary alone.
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot", "--samples", "2", "--no-report"],
    )
    .await;
    assert!(text(&out.stderr).contains("e-mail summary queued via `mail`: 1 sent"));
    let got = received(&server);
    assert_eq!(got.len(), 2);
    let alone: Vec<&Message> = got
        .iter()
        .filter(|m| m.content_type == "multipart/alternative")
        .collect();
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].parts.len(), 2);
    assert!(
        alone[0].parts[0]
            .text
            .contains("No HTML report was written for this run.")
    );

    // --no-alerts notifies no one: no summary either.
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot", "--samples", "2", "--no-alerts"],
    )
    .await;
    assert!(!text(&out.stderr).contains("e-mail summary"));
    assert_eq!(received(&server).len(), 2);
}

#[tokio::test]
async fn on_change_sends_on_the_first_run_and_on_a_verdict_change_only() {
    let server = smtp::Smtp::start().await;
    let project = Project::new(
        PLACEHOLDER,
        "samples: 4\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\n\
         report: { email: { to: [owners@example.test], when: on_change, channel: mail } }\n",
    );
    let healthy = project::start_sim(&project.golden(), Profile::default()).await;
    let failing = project::start_sim(&project.golden(), failing_profile()).await;
    let store = Store::open(&project.db()).unwrap();
    let routing = routing(server.port);
    let mut aimed = PLACEHOLDER.to_string();
    let mut verdicts = Vec::new();
    let mut queued = Vec::new();
    for url in [
        healthy.base_url(),
        healthy.base_url(),
        failing.base_url(),
        failing.base_url(),
    ] {
        project.aim(&aimed, &url);
        aimed = url;
        let probe = project.probe("k");
        assert_eq!(
            probe.report.email.as_ref().unwrap().when,
            ReportWhen::OnChange
        );
        let outcome = project::run(&probe, &store, &RunOptions::default()).await;
        let outputs = Outputs {
            alerts: Some(&routing),
            ..Outputs::default()
        };
        let published = publish(&store, &probe, &outcome, &outputs).await.unwrap();
        let summary = published.summary.expect("report.email is set");
        let on_failure = wanted(ReportWhen::OnFailure, &store, &outcome).unwrap();
        assert_eq!(on_failure, outcome.verdict == Verdict::Fail);
        assert!(wanted(ReportWhen::Always, &store, &outcome).unwrap());
        verdicts.push(outcome.verdict);
        queued.push(summary.queued);
    }
    assert_eq!(verdicts[0], verdicts[1]);
    assert_eq!(verdicts[2], verdicts[3]);
    assert_ne!(verdicts[1], verdicts[2]);
    assert_eq!(queued, [true, false, true, false]);
    let got = received(&server);
    assert_eq!(got.len(), 2);
    let fails = got
        .iter()
        .filter(|m| m.subject.starts_with("[probity] bot: FAIL"))
        .count();
    assert_eq!(fails, 1, "the first run's and the failing run's summaries");
}

#[tokio::test]
async fn a_mail_server_that_is_down_keeps_the_summary_pending_and_the_next_run_delivers_it() {
    let (project, _sim) = Project::with_sim(
        "samples: 2\nreport: { email: { to: [owners@example.test], channel: mail } }\n",
        Profile::default(),
    )
    .await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let down = routing(alertmanager::free_port());
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    let now = Utc::now();
    let activity = send_summary(&store, &down, &probe, &first, None, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        activity.delivery.count("pending"),
        1,
        "{:?}",
        activity.delivery
    );
    let rows = store.outbox_all().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "pending");
    assert_eq!(rows[0].delivery_id, format!("summary-{}", first.run_id));

    // The server comes up; the next run (later than the row's back-off) delivers both.
    let server = smtp::Smtp::start().await;
    let up = routing(server.port);
    let second = project::run(&probe, &store, &RunOptions::default()).await;
    let activity = send_summary(
        &store,
        &up,
        &probe,
        &second,
        None,
        now + TimeDelta::minutes(5),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        activity.delivery.count("sent"),
        2,
        "{:?}",
        activity.delivery
    );
    assert!(
        store
            .outbox_all()
            .unwrap()
            .iter()
            .all(|r| r.status == "sent")
    );
    // Maildir order within a second is arbitrary: compare as sets.
    let mut ids: Vec<String> = received(&server)
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    ids.sort();
    let mut want = [
        format!("<summary-{}@probity.invalid>", first.run_id),
        format!("<summary-{}@probity.invalid>", second.run_id),
    ];
    want.sort();
    assert_eq!(ids, want);
}

/// Loads `probes/bot.yaml` with the routing file `alerts` and returns every problem.
fn problems(report: &str, alerts: &str) -> String {
    let project = Project::new(PLACEHOLDER, report);
    std::fs::write(project.root().join("probes/alerts.yaml"), alerts).unwrap();
    let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "k".to_string());
    match load_paths(&[project.root().join("probes")], &env) {
        Ok(_) => String::new(),
        Err(d) => d
            .to_string()
            .replace(&project.root().display().to_string(), ""),
    }
}

const TWO_MAILS: &str = "channels:\n  mail: { type: email, smtp: \"smtp://127.0.0.1:25\", from: a@example.test, to: [b@example.test] }\n  \
    ops: { type: email, smtp: \"smtp://127.0.0.1:25\", from: a@example.test, to: [b@example.test] }\n  term: { type: console }\n";

#[test]
fn report_config_errors_are_at_their_key_with_a_hint() {
    let p = problems(
        "report: { email: { to: [x@example.test], channel: mial } }\n",
        TWO_MAILS,
    );
    assert!(p.contains("bot.yaml:9:"), "{p}");
    assert!(
        p.contains(
            "report.email.channel: no channel `mial` in the alerts file; did you mean `mail`?"
        ),
        "{p}"
    );

    let p = problems(
        "report: { email: { to: [x@example.test], channel: term } }\n",
        TWO_MAILS,
    );
    assert!(
        p.contains("channel `term` is not an e-mail channel; e-mail channels: mail, ops"),
        "{p}"
    );

    let p = problems("report: { email: [x@example.test] }\n", TWO_MAILS);
    assert!(p.contains("report.email: the alerts file has several e-mail channels (mail, ops); say which with `channel:`"), "{p}");

    let p = problems(
        "report: { email: { to: [not-an-address], when: sometimes } }\n",
        TWO_MAILS,
    );
    assert!(
        p.contains("report.email.when: `sometimes` is not one of: always, on_change, on_failure"),
        "{p}"
    );

    let p = problems(
        "report: { email: [x@example.test, not-an-address] }\n",
        TWO_MAILS,
    );
    assert!(p.contains("bot.yaml:9:"), "{p}");
    assert!(
        p.contains("report.email[1]: `not-an-address` is not an e-mail address"),
        "{p}"
    );

    let p = problems(
        "report: { digest: { to: [x@example.test], schedule: \"0 9 * *\", channel: ops } }\n",
        TWO_MAILS,
    );
    assert!(
        p.contains("report.digest.schedule: invalid cron line"),
        "{p}"
    );

    // Valid: the shorthand with one e-mail channel, the full form, a digest.
    let one = "channels:\n  mail: { type: email, smtp: \"smtp://127.0.0.1:25\", from: a@example.test, to: [b@example.test] }\n";
    assert_eq!(problems("report: { email: [x@example.test] }\n", one), "");
    assert_eq!(
        problems(
            "report:\n  email: { to: [\"Owners <x@example.test>\"], when: on_failure, channel: ops }\n  \
             digest: { to: [x@example.test], schedule: \"0 9 * * 1-5\", channel: mail }\n",
            TWO_MAILS
        ),
        ""
    );
}

/// Two probes share one digest; `bot` ran twice and had an incident (with hostile text in
/// its summary), `other` never ran.
#[tokio::test]
async fn the_digest_covers_every_probe_since_the_last_one_and_is_sent_once_per_tick() {
    use probity::report::digest::send_due;
    use probity::store::IncidentRecord;

    let server = smtp::Smtp::start().await;
    let digest =
        "report: { digest: { to: [lead@example.test], schedule: \"0 9 * * *\", channel: mail } }\n";
    let (project, _sim) =
        Project::with_sim(&format!("samples: 2\n{digest}"), Profile::default()).await;
    let other = std::fs::read_to_string(project.probe_file())
        .unwrap()
        .replace("name: bot", "name: other");
    std::fs::write(project.root().join("probes/other.yaml"), other).unwrap();
    let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "k".to_string());
    let loaded = load_paths(&[project.root().join("probes")], &env).unwrap();
    assert_eq!(loaded.probes.len(), 2);
    let bot = loaded.probes.iter().find(|p| p.name == "bot").unwrap();
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(bot, &store, &RunOptions::default()).await;
    project::run(bot, &store, &RunOptions::default()).await;
    let opened = Utc::now();
    store
        .save_incident(
            &IncidentRecord {
                id: 0,
                key: "bot/error_rate".into(),
                probe: "bot".into(),
                rule: "error_rate".into(),
                target: "default".into(),
                labels: BTreeMap::new(),
                severity: "critical".into(),
                opened_at: opened,
                last_seen: opened,
                runs_failing: 1,
                firing: true,
                notified_at: Some(opened),
                acknowledged_at: None,
                silenced: false,
                resolved_at: None,
                summary: format!("Error rate 30% on bot: {HOSTILE}"),
                told: vec![],
            },
            &[],
            opened,
        )
        .unwrap();

    let routing = routing(server.port);
    let day = opened + TimeDelta::days(1);
    let activity = send_due(&store, &loaded.probes, &routing, day)
        .await
        .unwrap();
    assert_eq!(activity.queued.len(), 1, "{activity:?}");
    assert_eq!(activity.delivery.count("sent"), 1, "{activity:?}");
    // The same moment again, and a minute later: no new tick, nothing sent.
    for at in [day, day + TimeDelta::minutes(1)] {
        let again = send_due(&store, &loaded.probes, &routing, at)
            .await
            .unwrap();
        assert!(again.queued.is_empty(), "{again:?}");
    }
    let got = received(&server);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.subject.starts_with("[probity] digest "), "{}", m.subject);
    assert!(
        m.subject
            .ends_with(": 2 runs, 0 failed, 1 incidents opened"),
        "{}",
        m.subject
    );
    assert_eq!(m.to, "lead@example.test");
    assert_eq!(m.content_type, "multipart/alternative");
    let (plain, html) = (&m.parts[0].text, &m.parts[1].text);
    let verdict = first.verdict.as_str();
    assert!(
        plain.contains(&format!("bot: 2 runs (2 {verdict}), latest {verdict}")),
        "{plain}"
    );
    assert!(plain.contains("other: 0 runs (none)"), "{plain}");
    assert!(plain.contains("1 opened, 0 resolved, 1 open"), "{plain}");
    assert!(plain.contains("[U+202E]") && !plain.contains('\u{202E}'));
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script"),
        "{html}"
    );
    assert!(html.contains(
        "<td style=\"padding:4px 8px;border:1px solid #d0d7de;vertical-align:top\">other</td>"
    ));

    // The next day's tick sends the next digest, covering only what came after.
    let next = send_due(&store, &loaded.probes, &routing, day + TimeDelta::days(1))
        .await
        .unwrap();
    assert_eq!(next.queued.len(), 1);
    let got = received(&server);
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().any(|m| m
            .subject
            .ends_with(": 0 runs, 0 failed, 0 incidents opened")),
        "{:?}",
        got.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever a probe or an incident is called or says, the digest's HTML opens no tag
    /// of its own and no part carries a hidden character.
    #[test]
    fn the_digest_escapes_any_text(name in "\\PC{0,40}", summary in "\\PC{0,80}") {
        use probity::report::digest::{ProbeDigest, build};
        let now = Utc::now();
        let digest = |probe: &str, summary: &str| {
            let p = ProbeDigest {
                probe: probe.to_string(),
                runs: 1,
                opened: vec![probity::store::IncidentRecord {
                    probe: probe.to_string(),
                    summary: summary.to_string(),
                    ..mail_incident(now)
                }],
                ..ProbeDigest::default()
            };
            build(&[p], now - TimeDelta::hours(1), now)
        };
        let mail = digest(&name, &summary);
        // The same markup with empty texts: every `<` is ours.
        let ours = digest("", "").html.matches('<').count();
        proptest::prop_assert_eq!(mail.html.matches('<').count(), ours);
        let hidden = |t: &str| t.chars().any(|c| c == '\u{202E}' || c == '\u{200B}' || c == '\u{2066}');
        proptest::prop_assert!(!hidden(&mail.html) && !hidden(&mail.plain) && !hidden(&mail.subject));
    }
}

fn mail_incident(now: chrono::DateTime<Utc>) -> probity::store::IncidentRecord {
    probity::store::IncidentRecord {
        id: 1,
        key: "k".into(),
        probe: String::new(),
        rule: "r".into(),
        target: String::new(),
        labels: BTreeMap::new(),
        severity: "warning".into(),
        opened_at: now,
        last_seen: now,
        runs_failing: 1,
        firing: true,
        notified_at: Some(now),
        acknowledged_at: None,
        silenced: false,
        resolved_at: None,
        summary: String::new(),
        told: vec![],
    }
}

#[tokio::test]
async fn run_refuses_a_summary_it_cannot_send_before_any_request() {
    // No alerts file at all.
    let project = Project::new(PLACEHOLDER, "report: { email: [owners@example.test] }\n");
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "e-mails its summary (report.email), but the project has no alert-routing file"
        ),
        "{}",
        text(&out.stderr)
    );
    // A channel that is not an e-mail channel: at its key, nothing sent (port 9 is closed,
    // so a run would have failed differently).
    let project = Project::new(
        PLACEHOLDER,
        "report: { email: { to: [owners@example.test], channel: term } }\n",
    );
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  term: { type: console }\n",
    )
    .unwrap();
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot"],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bot.yaml:9:"), "{stderr}");
    assert!(
        stderr.contains("report.email.channel: channel `term` is not an e-mail channel; the alerts file has no e-mail channel"),
        "{stderr}"
    );
    assert!(!project.db().exists(), "nothing was run");
}
