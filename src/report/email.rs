//! The e-mailed summary of a run (a probe's `report.email`): a subject that says the
//! verdict and its findings (`[probity] support-bot: FAIL — 2 critical, 1 warning`), an
//! HTML part of inline-CSS tables with coloured cells (no SVG, no stylesheet: mail clients
//! drop both), a plain-text alternative, and the run's HTML report attached when one was
//! written. Queued in the alert outbox as a whole [`Mail`], then delivered through the
//! e-mail channel the block names, so a mail server that is down loses nothing: the row
//! stays pending and the next delivery (the next run, the daemon's tick) sends it.
//!
//! Model output (failing answers, error bodies, scorer reasons, case ids) is untrusted:
//! HTML-escaped in the HTML part, hidden characters shown as `[U+....]` in both parts and
//! the subject.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::numbers::{format_effect, without_severity};
use crate::alert::after_run::{AlertError, CHANNEL_TIMEOUT};
use crate::alert::channels::email::escape_html;
use crate::alert::channels::{neutralize, truncate};
use crate::alert::outbox::{DeliveryReport, RetryPolicy, deliver_only};
use crate::alert::routing::{RoutingError, build_notifiers};
use crate::alert::{Action, Mail, MailAttachment, Notification};
use crate::compare::{Severity, Verdict, format_ms, format_rate, format_usd};
use crate::config::report::{ReportWhen, resolve_channel};
use crate::config::{AlertRouting, Probe};
use crate::pipeline::{RunOutcome, RunStatus};
use crate::store::{NewOutbox, Store, StoreError};
use crate::summary::CaseStatus;

/// The longest model output shown per failing case; the attached report has it whole.
const EXAMPLE_CHARS: usize = 500;
/// The most failing cases listed; the report lists every one.
const MAX_CASES: usize = 20;

/// Colours of a verdict or severity: (text, background).
pub fn verdict_colours(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("#ffffff", "#1a7f37"),
        Verdict::Warn => ("#000000", "#d4a72c"),
        Verdict::Fail => ("#ffffff", "#cf222e"),
        Verdict::InsufficientData => ("#ffffff", "#6e7781"),
    }
}

pub fn severity_colours(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Critical => ("#82071e", "#ffebe9"),
        Severity::Warning => ("#7d4e00", "#fff8c5"),
        Severity::Info => ("#0a3069", "#ddf4ff"),
    }
}

/// `PASS`, `WARN`, `FAIL`, `INSUFFICIENT DATA`.
pub fn verdict_word(v: Verdict) -> String {
    v.as_str().replace('_', " ").to_ascii_uppercase()
}

/// `2 critical, 1 warning` (empty when there is no finding of either).
fn finding_counts(outcome: &RunOutcome) -> String {
    let count = |s| outcome.findings.iter().filter(|f| f.severity == s).count();
    let mut parts = Vec::new();
    let critical = count(Severity::Critical);
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    let warnings = count(Severity::Warning);
    if warnings > 0 {
        parts.push(format!(
            "{warnings} {}",
            if warnings == 1 { "warning" } else { "warnings" }
        ));
    }
    parts.join(", ")
}

/// `[probity] support-bot: FAIL — 2 critical, 1 warning`; one line, hidden characters shown.
pub fn subject(outcome: &RunOutcome) -> String {
    let counts = finding_counts(outcome);
    let mut s = format!(
        "[probity] {}: {}",
        neutralize(&outcome.probe).replace(['\n', '\t'], " "),
        verdict_word(outcome.verdict)
    );
    if outcome.status == RunStatus::Interrupted {
        s.push_str(" (interrupted)");
    }
    if !counts.is_empty() {
        s.push_str(" — ");
        s.push_str(&counts);
    }
    truncate(&s, 200)
}

/// One failing sample of a case, as shown: its output, or its error.
pub type Examples = BTreeMap<(String, String), String>;

/// The first failing sample of each case of the primary target, from the store: its answer
/// (or error), for the failing-cases table.
pub fn failing_examples(store: &Store, outcome: &RunOutcome) -> Result<Examples, StoreError> {
    let mut out = Examples::new();
    let Some(primary) = outcome.primary() else {
        return Ok(out);
    };
    for row in store.observations(&outcome.run_id)? {
        let o = &row.observation;
        if !o.final_attempt || o.target != primary.summary.target {
            continue;
        }
        let key = (o.set.clone(), o.case_id.clone());
        if out.contains_key(&key) {
            continue;
        }
        let failed = row
            .scores
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| !s.passed && !s.informational));
        let shown = match (&o.output, &o.error) {
            (_, Some(e)) => Some(format!("error: {e}")),
            (Some(text), None) if failed => Some(text.clone()),
            _ => None,
        };
        if let Some(text) = shown {
            out.insert(key, truncate(&text, EXAMPLE_CHARS));
        }
    }
    Ok(out)
}

/// The summary's three texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub subject: String,
    pub plain: String,
    pub html: String,
}

/// A metric's value as people read it, by its name's unit.
fn metric_value(metric: &str, v: f64) -> String {
    if metric.contains("latency") || metric.contains("ttft") {
        format_ms(v)
    } else if metric.contains("cost") {
        format_usd(v)
    } else if metric.contains("rate") || metric.contains("refusal") || metric.contains("compliance")
    {
        format_rate(v)
    } else {
        format!("{v:.3}")
    }
}

/// One row of the key-metrics table: name, this run, baseline, change, severity.
struct MetricRow {
    name: String,
    current: String,
    baseline: String,
    change: String,
    severity: Option<Severity>,
}

fn metric_rows(outcome: &RunOutcome) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    let ms = |v: Option<f64>| v.map(format_ms).unwrap_or_else(|| "—".into());
    let tests: BTreeMap<&str, &crate::compare::TestRecord> = outcome
        .comparison
        .as_ref()
        .map(|c| {
            c.comparison
                .tests
                .iter()
                .map(|t| (t.metric.as_str(), t))
                .collect()
        })
        .unwrap_or_default();
    if let Some(p) = outcome.primary() {
        let f = &p.summary.figures;
        let headline = [
            ("samples", f.samples.to_string(), None::<&str>),
            ("pass_rate", format_rate(f.pass_rate), Some("pass_rate")),
            ("error_rate", format_rate(f.error_rate), Some("error_rate")),
            ("latency_p50", ms(f.latency_ms.p50), Some("latency_p50")),
            ("latency_p95", ms(f.latency_ms.p95), Some("latency_p95")),
            ("ttft_p95", ms(f.ttft_ms.p95), Some("ttft_p95")),
            ("cost", format_usd(f.cost_usd), None),
        ];
        for (name, current, metric) in headline {
            let test = metric.and_then(|m| tests.get(m));
            rows.push(MetricRow {
                name: name.to_string(),
                current,
                baseline: test
                    .map(|t| metric_value(&t.metric, t.baseline.value))
                    .unwrap_or_else(|| "—".into()),
                change: test
                    .map(|t| format_effect(t.effect_kind, t.effect))
                    .unwrap_or_default(),
                severity: test.and_then(|t| t.severity),
            });
        }
    }
    // The other tested metrics, drifted ones first.
    let shown: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let mut rest: Vec<_> = tests
        .values()
        .filter(|t| !shown.contains(&t.metric))
        .collect();
    rest.sort_by_key(|t| std::cmp::Reverse(t.severity));
    for t in rest {
        rows.push(MetricRow {
            name: t.metric.clone(),
            current: metric_value(&t.metric, t.current.value),
            baseline: metric_value(&t.metric, t.baseline.value),
            change: format_effect(t.effect_kind, t.effect),
            severity: t.severity,
        });
    }
    rows
}

/// Builds the summary of `outcome`. `examples`: a failing sample per case
/// ([`failing_examples`]); `report`: the attached report's file name, when one is.
pub fn build(outcome: &RunOutcome, examples: &Examples, report: Option<&str>) -> Summary {
    let subject = subject(outcome);
    Summary {
        plain: plain(outcome, &subject, examples, report),
        html: html(outcome, &subject, examples, report),
        subject,
    }
}

fn facts(outcome: &RunOutcome) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("Probe", outcome.probe.clone()),
        ("Run", outcome.run_id.clone()),
        (
            "Started",
            outcome
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        ("Status", outcome.status.as_str().to_string()),
    ];
    if let Some(t) = outcome.target_info.first() {
        out.push(("Target", format!("{} ({})", t.name, t.model)));
    }
    if let Some(reason) = &outcome.status_reason {
        out.push(("Why", reason.clone()));
    }
    match &outcome.comparison {
        Some(c) => out.push((
            "Baseline",
            match &c.run_id {
                Some(id) => format!("{} {id}", c.source),
                None => c.source.clone(),
            },
        )),
        None => out.push(("Baseline", "none".into())),
    }
    out
}

fn failing_cases(outcome: &RunOutcome) -> Vec<&crate::summary::CaseSummary> {
    outcome
        .primary()
        .map(|p| {
            p.cases
                .iter()
                .filter(|c| c.status != CaseStatus::Pass)
                .collect()
        })
        .unwrap_or_default()
}

fn plain(outcome: &RunOutcome, subject: &str, examples: &Examples, report: Option<&str>) -> String {
    let n = |t: &str| neutralize(t);
    let mut out = format!("{subject}\n\n");
    for (k, v) in facts(outcome) {
        let _ = writeln!(out, "{k}: {}", n(&v));
    }
    let _ = writeln!(out, "\nKey metrics (this run / baseline / change):");
    for r in metric_rows(outcome) {
        let flag = r
            .severity
            .map(|s| format!("  [{}]", s.as_str().to_ascii_uppercase()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<16} {} / {} {}{flag}",
            n(&r.name),
            r.current,
            r.baseline,
            r.change
        );
    }
    if !outcome.findings.is_empty() {
        let _ = writeln!(out, "\nFindings:");
        for f in &outcome.findings {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                f.severity.as_str().to_ascii_uppercase(),
                n(&f.metric),
                n(without_severity(&f.message, f.severity))
            );
        }
    }
    let failing = failing_cases(outcome);
    if !failing.is_empty() {
        let _ = writeln!(out, "\nCases not passing ({}):", failing.len());
        for c in failing.iter().take(MAX_CASES) {
            let _ = writeln!(
                out,
                "  {}/{}  {}  {}/{} passed  {}",
                n(&c.set),
                n(&c.id),
                c.status.as_str(),
                c.figures.passes,
                c.figures.samples,
                n(c.failing_reason.as_deref().unwrap_or(""))
            );
            if let Some(example) = examples.get(&(c.set.clone(), c.id.clone())) {
                let _ = writeln!(out, "    answer: {}", n(example).replace('\n', "\n    "));
            }
        }
        if failing.len() > MAX_CASES {
            let _ = writeln!(out, "  … and {} more", failing.len() - MAX_CASES);
        }
    }
    match report {
        Some(name) => {
            let _ = writeln!(out, "\nThe full report is attached: {}", n(name));
        }
        None => {
            let _ = writeln!(out, "\nNo HTML report was written for this run.");
        }
    }
    out
}

const TABLE: &str = "border-collapse:collapse;font-family:Arial,Helvetica,sans-serif;font-size:14px;margin:0 0 16px 0";
const TH: &str = "text-align:left;padding:4px 8px;border:1px solid #d0d7de;background:#f6f8fa";
const TD: &str = "padding:4px 8px;border:1px solid #d0d7de;vertical-align:top";

fn cell_coloured(text: &str, (fg, bg): (&str, &str)) -> String {
    format!("<td style=\"{TD};color:{fg};background:{bg};font-weight:bold\">{text}</td>")
}

fn html(outcome: &RunOutcome, subject: &str, examples: &Examples, report: Option<&str>) -> String {
    let e = escape_html;
    let mut out = String::new();
    let (fg, bg) = verdict_colours(outcome.verdict);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;color:#1f2328\">\n\
         <table role=\"presentation\" style=\"{TABLE};width:100%\"><tr>\
         <td style=\"padding:12px 16px;color:{fg};background:{bg};font-size:20px;font-weight:bold\">\
         {probe}: {verdict}{counts}</td></tr></table>\n",
        title = e(subject),
        probe = e(&outcome.probe),
        verdict = e(&verdict_word(outcome.verdict)),
        counts = match finding_counts(outcome) {
            c if c.is_empty() => String::new(),
            c => format!(" — {}", e(&c)),
        },
    );
    out.push_str(&format!("<table style=\"{TABLE}\">\n"));
    for (k, v) in facts(outcome) {
        let _ = writeln!(
            out,
            "<tr><th style=\"{TH}\">{k}</th><td style=\"{TD}\">{}</td></tr>",
            e(&v)
        );
    }
    out.push_str("</table>\n");

    let _ = writeln!(
        out,
        "<h3 style=\"margin:8px 0\">Key metrics</h3>\n<table style=\"{TABLE}\">\n\
         <tr><th style=\"{TH}\">metric</th><th style=\"{TH}\">this run</th>\
         <th style=\"{TH}\">baseline</th><th style=\"{TH}\">change</th></tr>"
    );
    for r in metric_rows(outcome) {
        let change = match r.severity {
            Some(s) => cell_coloured(&e(&r.change), severity_colours(s)),
            None => format!("<td style=\"{TD}\">{}</td>", e(&r.change)),
        };
        let _ = writeln!(
            out,
            "<tr><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td>{change}</tr>",
            e(&r.name),
            e(&r.current),
            e(&r.baseline)
        );
    }
    out.push_str("</table>\n");

    if !outcome.findings.is_empty() {
        let _ = writeln!(
            out,
            "<h3 style=\"margin:8px 0\">Findings</h3>\n<table style=\"{TABLE}\">\n\
             <tr><th style=\"{TH}\">severity</th><th style=\"{TH}\">metric</th>\
             <th style=\"{TH}\">finding</th></tr>"
        );
        let mut findings: Vec<_> = outcome.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in findings {
            let _ = writeln!(
                out,
                "<tr>{}<td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td></tr>",
                cell_coloured(f.severity.as_str(), severity_colours(f.severity)),
                e(&f.metric),
                e(without_severity(&f.message, f.severity))
            );
        }
        out.push_str("</table>\n");
    }

    let failing = failing_cases(outcome);
    if !failing.is_empty() {
        let _ = writeln!(
            out,
            "<h3 style=\"margin:8px 0\">Cases not passing ({})</h3>\n<table style=\"{TABLE}\">\n\
             <tr><th style=\"{TH}\">case</th><th style=\"{TH}\">status</th>\
             <th style=\"{TH}\">passed</th><th style=\"{TH}\">reason</th>\
             <th style=\"{TH}\">answer</th></tr>",
            failing.len()
        );
        for c in failing.iter().take(MAX_CASES) {
            let colours = match c.status {
                CaseStatus::Fail => severity_colours(Severity::Critical),
                _ => severity_colours(Severity::Warning),
            };
            let example = examples
                .get(&(c.set.clone(), c.id.clone()))
                .map(|x| e(x))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td style=\"{TD}\">{}/{}</td>{}<td style=\"{TD}\">{}/{}</td>\
                 <td style=\"{TD}\">{}</td><td style=\"{TD};white-space:pre-wrap;font-family:monospace\">{example}</td></tr>",
                e(&c.set),
                e(&c.id),
                cell_coloured(c.status.as_str(), colours),
                c.figures.passes,
                c.figures.samples,
                e(c.failing_reason.as_deref().unwrap_or(""))
            );
        }
        if failing.len() > MAX_CASES {
            let _ = writeln!(
                out,
                "<tr><td style=\"{TD}\" colspan=\"5\">… and {} more (see the report)</td></tr>",
                failing.len() - MAX_CASES
            );
        }
        out.push_str("</table>\n");
    }
    let _ = writeln!(
        out,
        "<p style=\"color:#656d76;font-size:12px\">{}</p>\n</body></html>",
        match report {
            Some(name) => format!("The full report is attached: {}", e(name)),
            None => "No HTML report was written for this run.".to_string(),
        }
    );
    out
}

/// Whether `when` asks for a summary of `outcome`. `on_change` compares with the verdict
/// of the probe's previous finished run (not interrupted, with a verdict) in the store;
/// the first run has none, and so is a change.
pub fn wanted(when: ReportWhen, store: &Store, outcome: &RunOutcome) -> Result<bool, StoreError> {
    Ok(match when {
        ReportWhen::Always => true,
        ReportWhen::OnFailure => outcome.verdict == Verdict::Fail,
        ReportWhen::OnChange => {
            let previous = store
                .finished_runs(&outcome.probe, 50)?
                .into_iter()
                .filter(|r| r.id != outcome.run_id && r.status != "interrupted")
                .find_map(|r| r.verdict);
            previous.as_deref() != Some(outcome.verdict.as_str())
        }
    })
}

/// What the summary step did after one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryActivity {
    /// The channel the summary goes through.
    pub channel: String,
    /// Whether a summary of this run was queued (`when` may say no).
    pub queued: bool,
    /// The delivery of that channel's due rows (this summary and any left pending before).
    pub delivery: DeliveryReport,
}

fn routing_error(routing: &AlertRouting, channel: &str, message: String) -> AlertError {
    AlertError::Routing(RoutingError::Channel {
        file: routing.file.display().to_string(),
        channel: channel.to_string(),
        message,
    })
}

/// The whole step: when `probe` has `report.email` and its `when` asks for it, the summary
/// (with `report` attached, when given) is queued in the outbox, then the channel's due
/// rows are delivered. `None` when the probe has no `report.email`.
pub async fn send_summary(
    store: &Store,
    routing: &AlertRouting,
    probe: &Probe,
    outcome: &RunOutcome,
    report: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<Option<SummaryActivity>, AlertError> {
    let Some(email) = &probe.report.email else {
        return Ok(None);
    };
    let channel = resolve_channel(routing, email.channel.as_deref())
        .map_err(|m| routing_error(routing, email.channel.as_deref().unwrap_or("?"), m))?;
    let notifiers = build_notifiers(routing, std::slice::from_ref(&channel), CHANNEL_TIMEOUT)?;
    let queued = wanted(email.when, store, outcome)?;
    if queued {
        let examples = failing_examples(store, outcome)?;
        let name = report
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let summary = build(outcome, &examples, name.as_deref());
        let attachments = match (report, &name) {
            (Some(path), Some(filename)) => vec![MailAttachment {
                filename: filename.clone(),
                content_type: "text/html; charset=utf-8".into(),
                path: path.to_path_buf(),
            }],
            _ => Vec::new(),
        };
        let notification = mail_notification(
            format!("summary-{}", outcome.run_id),
            format!("probity-summary/{}", outcome.probe),
            &outcome.probe,
            "email-summary",
            verdict_severity(outcome.verdict),
            outcome.started_at,
            Mail {
                to: email.to.clone(),
                subject: summary.subject,
                plain: summary.plain,
                html: summary.html,
                attachments,
            },
        );
        queue(store, &channel, &notification, now)?;
    }
    let delivery = deliver_only(store, &notifiers, &RetryPolicy::default(), now).await?;
    Ok(Some(SummaryActivity {
        channel,
        queued,
        delivery,
    }))
}

/// How severe a run's verdict reads, for the notification's severity field.
pub fn verdict_severity(v: Verdict) -> Severity {
    match v {
        Verdict::Fail => Severity::Critical,
        Verdict::Warn | Verdict::InsufficientData => Severity::Warning,
        Verdict::Pass => Severity::Info,
    }
}

/// A notification that carries a whole mail (no incident behind it).
pub(crate) fn mail_notification(
    delivery_id: String,
    dedup_key: String,
    probe: &str,
    rule: &str,
    severity: Severity,
    started_at: DateTime<Utc>,
    mail: Mail,
) -> Notification {
    Notification {
        delivery_id,
        dedup_key,
        action: Action::Trigger,
        severity,
        probe: probe.to_string(),
        rule: rule.to_string(),
        summary: mail.subject.clone(),
        details: Vec::new(),
        labels: BTreeMap::new(),
        started_at,
        ended_at: None,
        link: None,
        test: false,
        mail: Some(mail),
    }
}

pub(crate) fn outbox_row(channel: &str, n: &Notification) -> Result<NewOutbox, serde_json::Error> {
    Ok(NewOutbox {
        delivery_id: n.delivery_id.clone(),
        channel: channel.to_string(),
        notification: serde_json::to_value(n)?,
    })
}

fn queue(
    store: &Store,
    channel: &str,
    n: &Notification,
    now: DateTime<Utc>,
) -> Result<(), AlertError> {
    let row = outbox_row(channel, n).map_err(|e| {
        AlertError::Store(StoreError::Encode {
            path: store.path().to_path_buf(),
            what: "an e-mail summary".into(),
            source: e,
        })
    })?;
    store.queue_outbox(std::slice::from_ref(&row), now)?;
    Ok(())
}
