//! The digest e-mail (`report.digest`, issue 12): on its own schedule, every probe's runs
//! and verdicts, incidents and cost since the last digest, as inline-CSS HTML tables and
//! plain text. Probes with the same digest settings (channel, recipients, schedule and
//! timezone) share one e-mail. When each digest was last sent is kept in the store
//! (migration 0008), written in the same transaction as the digest's outbox row: a crash
//! neither loses one nor queues one twice, and a daemon that was down sends the missed
//! digest once on start (like `catch_up`), not once per missed tick.
//!
//! The daemon's one call is [`send_due`]: `report::digest::send_due(&store, &project.probes,
//! routing, Utc::now())`. Call it as often as convenient (every scheduler tick, or at the
//! time [`next_due`] gives): it sends only the digests whose schedule has a tick since they
//! last went out, then delivers the outbox rows of their channels.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use sha2::{Digest as _, Sha256};

use super::email::{mail_notification, outbox_row, severity_colours};
use crate::alert::after_run::{AlertError, CHANNEL_TIMEOUT};
use crate::alert::channels::email::escape_html;
use crate::alert::channels::neutralize;
use crate::alert::outbox::{DeliveryReport, RetryPolicy, deliver_only};
use crate::alert::routing::{RoutingError, build_notifiers};
use crate::alert::{Mail, Notification};
use crate::compare::{Severity, format_usd};
use crate::config::report::{DigestReport, resolve_channel};
use crate::config::{AlertRouting, Probe};
use crate::store::{IncidentRecord, RunRecord, Store, StoreError};

/// How far back the very first digest looks (no digest was sent before): a store with a
/// year of history must not produce a year-long first e-mail.
pub const FIRST_LOOKBACK: TimeDelta = TimeDelta::days(7);
/// The most runs of one probe read for one digest.
const MAX_RUNS: usize = 10_000;

/// Probes that share one digest.
#[derive(Debug, Clone)]
pub struct DigestGroup<'a> {
    /// Channel, recipients, schedule and timezone: the digest's identity in the store.
    pub key: String,
    pub digest: &'a DigestReport,
    pub probes: Vec<&'a Probe>,
}

/// The identity of a digest's settings.
pub fn key_of(d: &DigestReport) -> String {
    format!(
        "{}|{}|{}|{}",
        d.channel.as_deref().unwrap_or(""),
        d.to.join(","),
        d.schedule.line,
        d.schedule.timezone.name()
    )
}

/// The probes with `report.digest`, grouped by their settings (in name order).
pub fn groups(probes: &[Probe]) -> Vec<DigestGroup<'_>> {
    let mut by_key: BTreeMap<String, DigestGroup<'_>> = BTreeMap::new();
    for probe in probes {
        let Some(digest) = &probe.report.digest else {
            continue;
        };
        let key = key_of(digest);
        by_key
            .entry(key.clone())
            .or_insert_with(|| DigestGroup {
                key,
                digest,
                probes: Vec::new(),
            })
            .probes
            .push(probe);
    }
    by_key.into_values().collect()
}

/// Where a digest's window starts: where the last one ended, or (never sent) at the first
/// run of its probes, at most [`FIRST_LOOKBACK`] ago. `None`: never sent, and nothing ran.
fn window_start(
    store: &Store,
    group: &DigestGroup<'_>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    if let Some(until) = store.digest_sent_until(&group.key)? {
        return Ok(Some(until));
    }
    let mut first: Option<DateTime<Utc>> = None;
    for probe in &group.probes {
        if let Some(oldest) = store.runs(Some(&probe.name), MAX_RUNS)?.last() {
            let t = oldest.started_at - TimeDelta::seconds(1);
            first = Some(first.map_or(t, |f| f.min(t)));
        }
    }
    Ok(first.map(|f| f.max(now - FIRST_LOOKBACK)))
}

/// When the next digest of any group is due after its last one (`None`: none is pending
/// or none has anything to report yet). For a scheduler that sleeps until then.
pub fn next_due(
    store: &Store,
    probes: &[Probe],
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut next: Option<DateTime<Utc>> = None;
    for group in groups(probes) {
        if let Some(start) = window_start(store, &group, now)?
            && let Some(t) = group.digest.schedule.next_after(start)
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
    }
    Ok(next)
}

/// What one probe did in a digest's window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeDigest {
    pub probe: String,
    pub runs: usize,
    /// Verdict (`pass`, `warn`, `fail`, `insufficient_data`, or `error` for a run that
    /// ended without one) → runs.
    pub verdicts: BTreeMap<String, usize>,
    /// The verdict of the newest run in the window.
    pub latest: Option<String>,
    pub cost_usd: f64,
    /// Incidents opened in the window.
    pub opened: Vec<IncidentRecord>,
    /// Incidents resolved in the window.
    pub resolved: Vec<IncidentRecord>,
    /// Incidents open at the window's end.
    pub open: usize,
}

/// A run's cost, from its stored document (`budget.spent_usd`).
fn cost_of(run: &RunRecord) -> f64 {
    run.summary
        .as_ref()
        .and_then(|s| s.pointer("/budget/spent_usd"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

/// What `probe` did in `(since, until]`, from the store.
pub fn probe_digest(
    store: &Store,
    probe: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<ProbeDigest, StoreError> {
    let within = |t: DateTime<Utc>| t > since && t <= until;
    let runs: Vec<RunRecord> = store
        .runs(Some(probe), MAX_RUNS)?
        .into_iter()
        .filter(|r| r.is_finished() && within(r.started_at))
        .collect();
    let mut out = ProbeDigest {
        probe: probe.to_string(),
        runs: runs.len(),
        // Newest first.
        latest: runs
            .first()
            .map(|r| r.verdict.clone().unwrap_or_else(|| "error".into())),
        ..ProbeDigest::default()
    };
    for r in &runs {
        let v = r.verdict.clone().unwrap_or_else(|| "error".into());
        *out.verdicts.entry(v).or_default() += 1;
        out.cost_usd += cost_of(r);
    }
    for i in store.incidents(probe)? {
        if !i.firing && i.notified_at.is_none() {
            continue; // tracked, never notified (`for:` not reached)
        }
        if within(i.opened_at) {
            out.opened.push(i.clone());
        }
        if i.resolved_at.is_some_and(within) {
            out.resolved.push(i.clone());
        }
        if i.opened_at <= until && i.resolved_at.is_none_or(|r| r > until) {
            out.open += 1;
        }
    }
    Ok(out)
}

/// The digest's three texts.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestMail {
    pub subject: String,
    pub plain: String,
    pub html: String,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn verdict_colours(v: &str) -> (&'static str, &'static str) {
    match v {
        "pass" => ("#ffffff", "#1a7f37"),
        "warn" => ("#000000", "#d4a72c"),
        "fail" | "error" => ("#ffffff", "#cf222e"),
        _ => ("#ffffff", "#6e7781"),
    }
}

fn severity_of(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

fn verdict_list(p: &ProbeDigest) -> String {
    p.verdicts
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const TABLE: &str = "border-collapse:collapse;font-family:Arial,Helvetica,sans-serif;font-size:14px;margin:0 0 16px 0";
const TH: &str = "text-align:left;padding:4px 8px;border:1px solid #d0d7de;background:#f6f8fa";
const TD: &str = "padding:4px 8px;border:1px solid #d0d7de;vertical-align:top";

/// Builds the digest of `probes` for `(since, until]`.
pub fn build(probes: &[ProbeDigest], since: DateTime<Utc>, until: DateTime<Utc>) -> DigestMail {
    let runs: usize = probes.iter().map(|p| p.runs).sum();
    let failed: usize = probes
        .iter()
        .map(|p| {
            p.verdicts.get("fail").copied().unwrap_or(0)
                + p.verdicts.get("error").copied().unwrap_or(0)
        })
        .sum();
    let opened: usize = probes.iter().map(|p| p.opened.len()).sum();
    let cost: f64 = probes.iter().map(|p| p.cost_usd).sum();
    let subject = format!(
        "[probity] digest {} – {}: {runs} runs, {failed} failed, {opened} incidents opened",
        when(since),
        when(until)
    );
    let n = |t: &str| neutralize(t);
    let e = escape_html;

    let mut plain = format!(
        "{subject}\n\nSince {} until {}; cost {}.\n\n",
        when(since),
        when(until),
        format_usd(cost)
    );
    for p in probes {
        let _ = writeln!(
            plain,
            "{}: {} runs ({}), latest {}, cost {}; incidents: {} opened, {} resolved, {} open",
            n(&p.probe),
            p.runs,
            if p.verdicts.is_empty() {
                "none".to_string()
            } else {
                verdict_list(p)
            },
            p.latest.as_deref().unwrap_or("—"),
            format_usd(p.cost_usd),
            p.opened.len(),
            p.resolved.len(),
            p.open
        );
    }
    let incidents: Vec<(&str, &IncidentRecord)> = probes
        .iter()
        .flat_map(|p| {
            p.opened
                .iter()
                .map(|i| ("opened", i))
                .chain(p.resolved.iter().map(|i| ("resolved", i)))
        })
        .collect();
    if !incidents.is_empty() {
        let _ = writeln!(plain, "\nIncidents:");
        for (what, i) in &incidents {
            let _ = writeln!(
                plain,
                "  [{}] {} {} {}: {} ({})",
                i.severity.to_ascii_uppercase(),
                n(&i.probe),
                n(&i.rule),
                what,
                n(&i.summary),
                when(if *what == "opened" {
                    i.opened_at
                } else {
                    i.resolved_at.unwrap_or(i.opened_at)
                })
            );
        }
    }

    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;color:#1f2328\">\n\
         <h2 style=\"margin:0 0 8px 0\">probity digest</h2>\n\
         <p>{} – {}: {runs} runs, {failed} failed, {opened} incidents opened, cost {}.</p>\n\
         <table style=\"{TABLE}\">\n<tr><th style=\"{TH}\">probe</th><th style=\"{TH}\">runs</th>\
         <th style=\"{TH}\">verdicts</th><th style=\"{TH}\">latest</th><th style=\"{TH}\">incidents \
         opened / resolved / open</th><th style=\"{TH}\">cost</th></tr>\n",
        e(&subject),
        when(since),
        when(until),
        format_usd(cost)
    );
    for p in probes {
        let latest = match &p.latest {
            Some(v) => {
                let (fg, bg) = verdict_colours(v);
                format!(
                    "<td style=\"{TD};color:{fg};background:{bg};font-weight:bold\">{}</td>",
                    e(v)
                )
            }
            None => format!("<td style=\"{TD}\">—</td>"),
        };
        let _ = writeln!(
            html,
            "<tr><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td><td style=\"{TD}\">{}</td>{latest}\
             <td style=\"{TD}\">{} / {} / {}</td><td style=\"{TD}\">{}</td></tr>",
            e(&p.probe),
            p.runs,
            e(&verdict_list(p)),
            p.opened.len(),
            p.resolved.len(),
            p.open,
            format_usd(p.cost_usd)
        );
    }
    html.push_str("</table>\n");
    if !incidents.is_empty() {
        let _ = writeln!(
            html,
            "<h3 style=\"margin:8px 0\">Incidents</h3>\n<table style=\"{TABLE}\">\n<tr><th style=\"{TH}\">severity</th>\
             <th style=\"{TH}\">probe</th><th style=\"{TH}\">rule</th><th style=\"{TH}\">what</th>\
             <th style=\"{TH}\">summary</th></tr>"
        );
        for (what, i) in &incidents {
            let (fg, bg) = severity_colours(severity_of(&i.severity));
            let _ = writeln!(
                html,
                "<tr><td style=\"{TD};color:{fg};background:{bg};font-weight:bold\">{}</td><td style=\"{TD}\">{}</td>\
                 <td style=\"{TD}\">{}</td><td style=\"{TD}\">{what}</td><td style=\"{TD}\">{}</td></tr>",
                e(&i.severity),
                e(&i.probe),
                e(&i.rule),
                e(&i.summary)
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    DigestMail {
        subject,
        plain,
        html,
    }
}

/// What [`send_due`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DigestActivity {
    /// `(key, delivery id)` of each digest queued now.
    pub queued: Vec<(String, String)>,
    /// The delivery of the digests' channels.
    pub delivery: DeliveryReport,
}

/// Queues every digest of `probes` that is due at `now` and delivers its channel's outbox.
/// A configuration error (a digest's channel missing from `routing`) is an error for that
/// call; nothing is queued for that digest, so the next call (after a fixed config) sends it.
pub async fn send_due(
    store: &Store,
    probes: &[Probe],
    routing: &AlertRouting,
    now: DateTime<Utc>,
) -> Result<DigestActivity, AlertError> {
    let mut activity = DigestActivity::default();
    let mut channels: Vec<String> = Vec::new();
    for group in groups(probes) {
        let channel =
            resolve_channel(routing, group.digest.channel.as_deref()).map_err(|message| {
                AlertError::Routing(RoutingError::Channel {
                    file: routing.file.display().to_string(),
                    channel: group.digest.channel.clone().unwrap_or_else(|| "?".into()),
                    message,
                })
            })?;
        if !channels.contains(&channel) {
            channels.push(channel.clone());
        }
        let Some(since) = window_start(store, &group, now)? else {
            continue;
        };
        if group
            .digest
            .schedule
            .next_after(since)
            .is_none_or(|t| t > now)
        {
            continue;
        }
        let mut parts = Vec::new();
        for probe in &group.probes {
            parts.push(probe_digest(store, &probe.name, since, now)?);
        }
        let mail = build(&parts, since, now);
        let hash = Sha256::digest(group.key.as_bytes());
        let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let delivery_id = format!("digest-{short}-{}", now.format("%Y%m%dT%H%M%SZ"));
        let n: Notification = mail_notification(
            delivery_id.clone(),
            format!("probity-digest/{short}"),
            "probity-digest",
            "digest",
            Severity::Info,
            since,
            Mail {
                to: group.digest.to.clone(),
                subject: mail.subject,
                plain: mail.plain,
                html: mail.html,
                attachments: Vec::new(),
            },
        );
        let row = outbox_row(&channel, &n).map_err(|e| {
            AlertError::Store(StoreError::Encode {
                path: store.path().to_path_buf(),
                what: "a digest".into(),
                source: e,
            })
        })?;
        store.queue_digest(&group.key, &row, now, now)?;
        activity.queued.push((group.key.clone(), delivery_id));
    }
    if channels.is_empty() {
        return Ok(activity);
    }
    let notifiers = build_notifiers(routing, &channels, CHANNEL_TIMEOUT)?;
    activity.delivery = deliver_only(store, &notifiers, &RetryPolicy::default(), now).await?;
    Ok(activity)
}
