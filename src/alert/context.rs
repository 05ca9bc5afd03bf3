//! What an on-call needs beside the symptom, gathered once per run for each signal: the
//! target's top error classes with their counts and one example error text (from the
//! run's stored observations), and any change of the `model_version` label or of the
//! model the endpoint reported since the baseline, with the time the new one first
//! appeared ("model_version 2024-07-18 → 2024-08-06 since 13:58"). Texts are cut short
//! here; each channel escapes them for its own format.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::message::truncate;
use super::rules::{Signal, top_errors};
use crate::pipeline::RunOutcome;
use crate::store::{RunRecord, Store, StoreError};

/// The longest example error quoted.
pub const MAX_EXAMPLE: usize = 160;
/// How far back "since when" looks for the first run of a new model.
const HISTORY: usize = 50;
/// The label whose change is named in every message.
pub const MODEL_VERSION: &str = "model_version";

/// The labels of target `name` in a stored run's `targets_json`.
pub fn stored_labels(targets: &serde_json::Value, name: &str) -> Option<BTreeMap<String, String>> {
    let t = targets.as_array()?.iter().find(|t| t["name"] == name)?;
    Some(serde_json::from_value(t["labels"].clone()).unwrap_or_default())
}

/// The model most answers of `target` reported in a run.
pub fn reported_model(
    store: &Store,
    run_id: &str,
    target: &str,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .models_reported(run_id, target)?
        .into_iter()
        .next()
        .map(|(m, _)| m))
}

/// The `system_fingerprint` most answers of `target` reported in a run.
pub fn reported_fingerprint(
    store: &Store,
    run_id: &str,
    target: &str,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .fingerprints_reported(run_id, target)?
        .into_iter()
        .next()
        .map(|(m, _)| m))
}

/// "13:58 UTC" today, else the date too.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// Fills in each signal's cause and detail lines from the run and the store.
pub fn add_context(
    store: &Store,
    outcome: &RunOutcome,
    signals: &mut [Signal],
) -> Result<(), StoreError> {
    let mut per_target: BTreeMap<String, TargetContext> = BTreeMap::new();
    for s in signals.iter_mut() {
        if !per_target.contains_key(&s.target) {
            let made = context_of(store, outcome, &s.target)?;
            per_target.insert(s.target.clone(), made);
        }
        if let Some(c) = per_target.get(&s.target) {
            s.cause = c.cause.clone();
            s.details = c.details.clone();
        }
    }
    Ok(())
}

/// What every signal of one target gets.
struct TargetContext {
    cause: Option<String>,
    details: Vec<(String, String)>,
}

fn context_of(
    store: &Store,
    outcome: &RunOutcome,
    target: &str,
) -> Result<TargetContext, StoreError> {
    let mut cause = None;
    let mut details = Vec::new();
    if let Some(t) = outcome.targets.iter().find(|t| t.summary.target == target) {
        let samples = t.summary.figures.samples;
        let top = top_errors(&t.summary.figures.errors);
        if let Some((class, n)) = top.first() {
            cause = Some(format!("top error: {class} ({n} of {samples})"));
            let counts: Vec<String> = top
                .iter()
                .map(|(c, n)| format!("{c} {n} of {samples}"))
                .collect();
            let mut line = counts.join(", ");
            if let Some(example) = store.example_error(&outcome.run_id, target, class)? {
                line.push_str(&format!(
                    "; e.g. {class}: {}",
                    truncate(&example, MAX_EXAMPLE)
                ));
            }
            details.push(("errors".to_string(), line));
        }
    }
    details.extend(changes_since_baseline(store, outcome, target)?);
    Ok(TargetContext { cause, details })
}

/// The `model_version` label and the reported model, each when it differs from the
/// baseline's: "2024-07-18 → 2024-08-06 since 13:58 UTC".
pub fn changes_since_baseline(
    store: &Store,
    outcome: &RunOutcome,
    target: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let Some(cmp) = &outcome.comparison else {
        return Ok(Vec::new());
    };
    let now = outcome.finished_at;
    let mut out = Vec::new();
    let history = store.finished_runs(&outcome.probe, HISTORY)?;
    let current = outcome
        .info_of(target)
        .and_then(|i| i.labels.get(MODEL_VERSION).cloned());
    if let (Some(before), Some(after)) = (cmp.labels.get(MODEL_VERSION), &current) {
        if before != after {
            let since = first_with(
                &history,
                &outcome.run_id,
                |r| {
                    Ok(stored_labels(&r.targets, target)
                        .and_then(|l| l.get(MODEL_VERSION).cloned()))
                },
                after,
            )?;
            out.push((
                "model change".to_string(),
                format!(
                    "{MODEL_VERSION} {} → {}{}",
                    truncate(before, 80),
                    truncate(after, 80),
                    since
                        .map(|t| format!(" since {}", when(t, now)))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    type Reader = fn(&Store, &str, &str) -> Result<Option<String>, StoreError>;
    let reported: [(&str, Reader); 2] = [
        ("reported model", reported_model),
        ("system_fingerprint", reported_fingerprint),
    ];
    for (key, read) in reported {
        let Some(baseline_run) = &cmp.run_id else {
            break;
        };
        let before = read(store, baseline_run, &cmp.target)?;
        let after = read(store, &outcome.run_id, target)?;
        if let (Some(before), Some(after)) = (before, after) {
            if before != after {
                let since = first_with(
                    &history,
                    &outcome.run_id,
                    |r| read(store, &r.id, target),
                    &after,
                )?;
                out.push((
                    key.to_string(),
                    format!(
                        "{} → {}{}",
                        truncate(&before, 80),
                        truncate(&after, 80),
                        since
                            .map(|t| format!(" since {}", when(t, now)))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// When the current value first appeared: the start of the oldest run of the unbroken
/// streak (newest first from the current run) whose value is `value`. Runs that say
/// nothing (no answer reported a model, the target not probed) do not break the streak.
fn first_with(
    history: &[RunRecord],
    current_run: &str,
    value_of: impl Fn(&RunRecord) -> Result<Option<String>, StoreError>,
    value: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut since = history
        .iter()
        .find(|r| r.id == current_run)
        .map(|r| r.started_at);
    for r in history.iter().filter(|r| r.id != current_run) {
        match value_of(r)? {
            Some(v) if v == value => since = Some(r.started_at),
            Some(_) => break,
            None => {}
        }
    }
    Ok(since)
}
