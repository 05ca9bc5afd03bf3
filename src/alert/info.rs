//! One-shot `info` notifications: what changed since the previous run of the same probe and
//! target — the model or `system_fingerprint` the endpoint reports, the target's labels, the baseline (a run
//! promoted with `probity baseline promote` since) — each sent once, to the route's `info`
//! channels, through the outbox like every notification, but with no incident: there is
//! nothing to resolve. "Once per change" comes from comparing with the previous run: the
//! run after a change compares with a run that already had it. (Recoveries also go to the
//! `info` channels; `incidents` does that with the resolve.)

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::context::{reported_fingerprint, reported_model, stored_labels};
use super::incidents::is_silenced;
use super::message::{MAX_SUMMARY, truncate};
use super::outbox::outbox_row;
use super::{Action, Notification};
use crate::compare::Severity;
use crate::pipeline::RunOutcome;
use crate::store::{RunRecord, Store, StoreError};

/// How far back the previous run of a target is looked for.
const HISTORY: usize = 20;

/// One change worth telling.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoNote {
    /// `info:model`, `info:fingerprint`, `info:labels` or `info:baseline`.
    pub rule: String,
    pub target: String,
    pub summary: String,
    pub details: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
}

/// The previous finished run of `probe` that probed `target`, not `current`.
fn previous<'a>(history: &'a [RunRecord], current: &str, target: &str) -> Option<&'a RunRecord> {
    history
        .iter()
        .filter(|r| r.id != current)
        .find(|r| stored_labels(&r.targets, target).is_some())
}

fn describe_labels(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> String {
    let mut parts = Vec::new();
    for (k, v) in after {
        match before.get(k) {
            None => parts.push(format!("{k}={} added", truncate(v, 80))),
            Some(old) if old != v => {
                parts.push(format!("{k} {} → {}", truncate(old, 80), truncate(v, 80)))
            }
            Some(_) => {}
        }
    }
    for (k, v) in before {
        if !after.contains_key(k) {
            parts.push(format!("{k}={} removed", truncate(v, 80)));
        }
    }
    parts.join(", ")
}

/// The changes of this run against the previous run of each of its targets.
pub fn changes(store: &Store, outcome: &RunOutcome) -> Result<Vec<InfoNote>, StoreError> {
    let history = store.finished_runs(&outcome.probe, HISTORY)?;
    let mut out = Vec::new();
    for (i, info) in outcome.target_info.iter().enumerate() {
        let target = &info.name;
        let Some(prev) = previous(&history, &outcome.run_id, target) else {
            continue; // the first run of this target: nothing to compare with
        };
        let note = |rule: &str, summary: String, details: Vec<(String, String)>| InfoNote {
            rule: rule.to_string(),
            target: target.clone(),
            summary: truncate(&summary, MAX_SUMMARY),
            details,
            labels: info.labels.clone(),
        };
        let before = stored_labels(&prev.targets, target).unwrap_or_default();
        if before != info.labels {
            let what = describe_labels(&before, &info.labels);
            out.push(note(
                "info:labels",
                format!("Labels of target {target} changed: {what}"),
                vec![("previous run".into(), prev.id.clone())],
            ));
        }
        // A run in which no answer reported a model (could not probe) says nothing; the
        // next run that does compares with the last one that did.
        type Reader = fn(&Store, &str, &str) -> Result<Option<String>, StoreError>;
        let reported: [(&str, &str, Reader); 2] = [
            ("info:model", "model", reported_model),
            (
                "info:fingerprint",
                "system_fingerprint",
                reported_fingerprint,
            ),
        ];
        for (rule, what, read) in reported {
            let Some(now_value) = read(store, &outcome.run_id, target)? else {
                continue;
            };
            let mut before = None;
            for r in history.iter().filter(|r| r.id != outcome.run_id) {
                if stored_labels(&r.targets, target).is_none() {
                    continue;
                }
                if let Some(v) = read(store, &r.id, target)? {
                    before = Some((v, r.id.clone()));
                    break;
                }
            }
            if let Some((before, run)) = before.filter(|(v, _)| *v != now_value) {
                out.push(note(
                    rule,
                    format!(
                        "Endpoint now reports {what} {} (was {})",
                        truncate(&now_value, 80),
                        truncate(&before, 80)
                    ),
                    vec![("previous run".into(), run)],
                ));
            }
        }
        // The baseline, once, for the primary target (the one compared).
        if i == 0 {
            let now_base = outcome.comparison.as_ref().and_then(|c| c.run_id.clone());
            // The baseline of the last run that compared with one: a run in between that
            // could not probe compared with nothing, and must not make the baseline new.
            let prev_base = history
                .iter()
                .filter(|r| r.id != outcome.run_id)
                .find_map(|r| {
                    r.summary
                        .as_ref()
                        .and_then(|s| s["baseline"]["run_id"].as_str().map(str::to_string))
                });
            if let Some(now_base) = now_base.filter(|b| Some(b) != prev_base.as_ref()) {
                let promoted = store
                    .baseline(&outcome.probe)?
                    .filter(|b| b.run_id == now_base)
                    .map(|b| b.promoted_at.format("%Y-%m-%d %H:%M UTC").to_string());
                let mut details = vec![("baseline run".to_string(), now_base.clone())];
                if let Some(at) = promoted {
                    details.push(("promoted at".to_string(), at));
                }
                if let Some(old) = prev_base {
                    details.push(("previous baseline run".to_string(), old));
                }
                out.push(note(
                    "info:baseline",
                    format!("New baseline: run {now_base} is what runs are compared with"),
                    details,
                ));
            }
        }
    }
    Ok(out)
}

/// The dedup key of a one-shot note: unique per run, rule and target.
fn info_key(probe: &str, run_id: &str, note: &InfoNote) -> String {
    let mut h = Sha256::new();
    for part in [probe, run_id, &note.rule, &note.target] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("probity-info-{hex}")
}

/// The notification of one note (severity info, no incident to resolve).
pub fn notification(
    probe: &str,
    run_id: &str,
    note: &InfoNote,
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Notification {
    let on = if note.target.is_empty() {
        probe.to_string()
    } else {
        format!("{probe} ({})", note.target)
    };
    let mut details = note.details.clone();
    if !note.labels.is_empty() {
        let labels: Vec<String> = note
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", truncate(v, 80)))
            .collect();
        details.push(("labels".to_string(), labels.join(", ")));
    }
    if let Some(link) = link {
        details.push(("details".to_string(), link.to_string()));
    }
    let mut labels = note.labels.clone();
    labels.insert("probe".into(), probe.to_string());
    labels.insert("rule".into(), note.rule.clone());
    labels.insert("target".into(), note.target.clone());
    Notification {
        delivery_id: uuid::Uuid::now_v7().to_string(),
        dedup_key: info_key(probe, run_id, note),
        action: Action::Trigger,
        severity: Severity::Info,
        probe: probe.to_string(),
        rule: note.rule.clone(),
        summary: truncate(&format!("{} on {on}", note.summary), MAX_SUMMARY),
        details,
        labels,
        started_at: now,
        ended_at: None,
        link: link.map(str::to_string),
        test: false,
        mail: None,
    }
}

/// Queues one notification per note and `info` channel (none when the route has none).
/// Returns the notes sent, as (rule, target).
pub fn queue(
    store: &Store,
    outcome: &RunOutcome,
    notes: &[InfoNote],
    channels: &[String],
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StoreError> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    // A silence of the probe (or of the note's rule, `--rule info:model`) holds notes too.
    let silences = store.silences(now)?;
    let notes: Vec<&InfoNote> = notes
        .iter()
        .filter(|n| !is_silenced(&silences, &outcome.probe, &n.rule))
        .collect();
    let mut rows = Vec::new();
    for note in &notes {
        let n = notification(&outcome.probe, &outcome.run_id, note, link, now);
        for channel in channels {
            // One delivery id per channel: each row is its own delivery.
            let n = Notification {
                delivery_id: uuid::Uuid::now_v7().to_string(),
                ..n.clone()
            };
            rows.push(outbox_row(channel, &n));
        }
    }
    store.queue_outbox(&rows, now)?;
    Ok(notes
        .iter()
        .map(|n| (n.rule.clone(), n.target.clone()))
        .collect())
}
