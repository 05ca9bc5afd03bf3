//! What feeds the registry: a finished run (the same [`RunOutcome`] every other sink gets,
//! plus its stored observations for the latency histograms) and the store's current state
//! (open incidents, the outbox backlog).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};

use super::labels::*;
use super::{FloatGauge, Metrics};
use crate::compare::FindingKind;
use crate::config::Probe;
use crate::pipeline::{RunOutcome, RunStatus};
use crate::store::{Store, StoreError};
use crate::summary::CaseStatus;
use prometheus_client::metrics::family::Family;

/// Severities every probe's `probity_open_incidents` shows, at 0 when none is open: an
/// alert on "> 0" and a dashboard panel both need the series to exist.
const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
/// Outbox statuses not delivered (`outbox_undelivered`).
const OUTBOX_STATUSES: [&str; 2] = ["pending", "failed"];
/// Finding kinds whose counters exist at 0 for every target probed, so `increase()` sees
/// the first one (the rest appear when they first happen).
const COUNTED_KINDS: [&str; 2] = ["threshold", "drift"];
/// The results of a finished run, each a series of `probity_last_run_verdict` (1 for the
/// last run's, 0 for the others: the enum pattern, so `== 1` selects the current one).
const RESULTS: [&str; 5] = [
    "pass",
    "warn",
    "fail",
    "insufficient_data",
    "could_not_probe",
];

/// Target labels that `probity_target_info` sets itself; a user label of the same name is
/// exported as `label_<name>`.
const INFO_RESERVED: [&str; 4] = ["probe", "target", "provider", "model"];

fn kind_str(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Threshold => "threshold",
        FindingKind::Drift => "drift",
        FindingKind::Trend => "trend",
        FindingKind::InsufficientData => "insufficient_data",
        FindingKind::Case => "case",
        FindingKind::Inconclusive => "inconclusive",
        FindingKind::CouldNotProbe => "could_not_probe",
    }
}

/// The `result` label of a finished run.
pub fn result_of(outcome: &RunOutcome) -> &'static str {
    match outcome.status {
        RunStatus::Interrupted => "cancelled",
        RunStatus::CouldNotProbe => "could_not_probe",
        RunStatus::Complete | RunStatus::BudgetExhausted => outcome.verdict.as_str(),
    }
}

fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Sets the gauge of `labels` to `value`, or removes the series when the last run has no
/// such figure (no case asked for it): a stale ratio from an older run would mislead.
fn set_or_remove<S>(family: &Family<S, FloatGauge>, labels: &S, value: Option<f64>)
where
    S: Clone + std::hash::Hash + Eq + prometheus_client::encoding::EncodeLabelSet,
{
    match value.filter(|v| v.is_finite()) {
        Some(v) => {
            family.get_or_create(labels).set(v);
        }
        None => {
            family.remove(labels);
        }
    }
}

impl Metrics {
    /// Feeds one finished run. Counters (runs, requests, tokens, cost, findings, the
    /// histograms) add what the run did, interrupted or not — those requests were sent and
    /// paid for. The gauges of the last run (ratios, timestamps) change only for a run that
    /// finished: an interrupted one says nothing about the endpoint. Reading the
    /// observations back can fail; then the histograms miss this run and a warning says so.
    pub fn record_run(&self, probe: &Probe, outcome: &RunOutcome, store: &Store) {
        let name = outcome.probe.as_str();
        self.register_probe(name);
        self.runs
            .get_or_create(&ResultLabels {
                probe: label_value(name),
                result: result_of(outcome).into(),
            })
            .inc();
        let finished = outcome.status != RunStatus::Interrupted;
        for t in &outcome.targets {
            let s = &t.summary;
            let f = &s.figures;
            let labels = TargetLabels::new(name, &s.target);
            let request = |outcome: &str, class: &str| RequestLabels {
                probe: labels.probe.clone(),
                target: labels.target.clone(),
                outcome: outcome.into(),
                error_class: class.into(),
            };
            let failed: u64 = f.attempt_errors.values().sum();
            self.requests
                .get_or_create(&request("ok", "none"))
                .inc_by(f.requests.saturating_sub(failed));
            for (class, n) in &f.attempt_errors {
                self.requests
                    .get_or_create(&request("error", &label_value(class)))
                    .inc_by(*n);
            }
            for (direction, n) in [("input", f.tokens.input), ("output", f.tokens.output)] {
                self.tokens
                    .get_or_create(&TokenLabels {
                        probe: labels.probe.clone(),
                        target: labels.target.clone(),
                        direction: direction.into(),
                    })
                    .inc_by(n);
            }
            let cost = self.cost.get_or_create(&labels);
            if f.cost_usd.is_finite() && f.cost_usd > 0.0 {
                cost.inc_by(f.cost_usd);
            }
            drop(cost);
            for kind in COUNTED_KINDS {
                for severity in ["warning", "critical"] {
                    let _ = self.findings.get_or_create(&FindingLabels {
                        probe: labels.probe.clone(),
                        target: labels.target.clone(),
                        kind: kind.into(),
                        severity: severity.into(),
                    });
                }
            }
            if !finished {
                continue;
            }
            let q = &s.quality;
            let sent = f.samples > 0;
            set_or_remove(&self.error_ratio, &labels, sent.then_some(f.error_rate));
            set_or_remove(&self.sample_pass, &labels, sent.then_some(f.pass_rate));
            set_or_remove(&self.over_refusal, &labels, q.over_refusal.map(|r| r.value));
            set_or_remove(
                &self.under_refusal,
                &labels,
                q.under_refusal.map(|r| r.value),
            );
            set_or_remove(
                &self.format_compliance,
                &labels,
                q.format_compliance.map(|r| r.value),
            );
            set_or_remove(
                &self.grounding_support,
                &labels,
                q.grounding_support.map(|m| m.value),
            );
            let judged: Vec<_> = t
                .cases
                .iter()
                .filter(|c| c.status != CaseStatus::Skipped)
                .collect();
            let passed = judged
                .iter()
                .filter(|c| c.status == CaseStatus::Pass)
                .count();
            set_or_remove(
                &self.case_pass,
                &labels,
                (!judged.is_empty()).then(|| passed as f64 / judged.len() as f64),
            );
            if probe.metrics.per_case {
                for c in &t.cases {
                    let case = CaseLabels {
                        probe: labels.probe.clone(),
                        target: labels.target.clone(),
                        golden_set: label_value(&c.set),
                        case: label_value(&c.id),
                    };
                    let value = (c.status != CaseStatus::Skipped).then_some(c.figures.pass_rate);
                    set_or_remove(&self.case_samples_pass, &case, value);
                }
            }
        }
        if finished {
            for finding in &outcome.findings {
                self.findings
                    .get_or_create(&FindingLabels {
                        probe: label_value(name),
                        target: label_value(&finding.target),
                        kind: kind_str(finding.kind).into(),
                        severity: finding.severity.as_str().into(),
                    })
                    .inc();
            }
            let result = result_of(outcome);
            for r in RESULTS {
                self.last_verdict
                    .get_or_create(&ResultLabels {
                        probe: label_value(name),
                        result: r.into(),
                    })
                    .set(i64::from(r == result));
            }
            let probe_labels = ProbeLabels::new(name);
            self.last_run
                .get_or_create(&probe_labels)
                .set(unix_seconds(outcome.finished_at));
            let took = (outcome.finished_at - outcome.started_at).num_milliseconds();
            self.last_duration
                .get_or_create(&probe_labels)
                .set(took.max(0) as f64 / 1000.0);
            if outcome.exit_code == crate::exit::PASSED {
                self.last_success
                    .get_or_create(&probe_labels)
                    .set(unix_seconds(outcome.finished_at));
            }
            self.set_target_info(outcome);
            self.set_components(outcome);
        }
        self.observe_latencies(outcome, store);
        self.labelled.record(probe, outcome, store);
    }

    /// issue 13: `probity_component_latency_seconds{probe,target,component,stat}`, the p50
    /// and p95 of each component of the last finished run; the series of a component the
    /// run did not have are removed.
    fn set_components(&self, outcome: &RunOutcome) {
        let Ok(mut sets) = self.component_sets.lock() else {
            return;
        };
        for t in &outcome.targets {
            let mut now = Vec::new();
            for (component, summary) in &t.summary.figures.components {
                for (stat, ms) in [("p50", summary.ms.p50), ("p95", summary.ms.p95)] {
                    let Some(ms) = ms.filter(|v| v.is_finite()) else {
                        continue;
                    };
                    let labels = ComponentLabels {
                        probe: label_value(&outcome.probe),
                        target: label_value(&t.summary.target),
                        component: label_value(component),
                        stat: stat.into(),
                    };
                    self.component_latency
                        .get_or_create(&labels)
                        .set(ms / 1000.0);
                    now.push(labels);
                }
            }
            let key = (outcome.probe.clone(), t.summary.target.clone());
            for gone in sets.get(&key).into_iter().flatten() {
                if !now.contains(gone) {
                    self.component_latency.remove(gone);
                }
            }
            sets.insert(key, now);
        }
    }

    /// `probity_target_info{probe,target,provider,model,<labels>} 1`, one series per probed
    /// target: a changed model or label (a deployment) replaces the target's series, so a
    /// dashboard marks the change where the old series ends and the new one starts.
    fn set_target_info(&self, outcome: &RunOutcome) {
        let Ok(mut sets) = self.info_sets.lock() else {
            return;
        };
        for info in &outcome.target_info {
            let mut labels: BTreeMap<String, String> = BTreeMap::new();
            for (key, value) in &info.labels {
                let mut key = label_name(key);
                if INFO_RESERVED.contains(&key.as_str()) {
                    key = format!("label_{key}");
                }
                labels.insert(key, label_value(value));
            }
            let mut set = vec![
                ("probe".to_string(), label_value(&outcome.probe)),
                ("target".to_string(), label_value(&info.name)),
                ("provider".to_string(), label_value(&info.provider)),
                ("model".to_string(), label_value(&info.model)),
            ];
            set.extend(labels);
            let key = (outcome.probe.clone(), info.name.clone());
            if let Some(old) = sets.get(&key)
                && *old != set
            {
                self.target_info.remove(old);
            }
            self.target_info.get_or_create(&set).set(1);
            sets.insert(key, set);
        }
    }

    /// Each sample's final attempt into the duration and TTFT histograms.
    fn observe_latencies(&self, outcome: &RunOutcome, store: &Store) {
        let name = outcome.probe.as_str();
        for t in &outcome.targets {
            // The series exist even for a run whose every request failed before timing.
            let labels = TargetLabels::new(name, &t.summary.target);
            let _ = self.request_duration.get_or_create(&labels);
            let _ = self.ttft.get_or_create(&labels);
        }
        let walked = store.for_each_observation(&outcome.run_id, |row| {
            let obs = &row.observation;
            if !obs.final_attempt {
                return Ok::<(), StoreError>(());
            }
            let labels = TargetLabels::new(name, &obs.target);
            if let Some(ms) = obs.latency_ms.filter(|v| v.is_finite() && *v >= 0.0) {
                self.request_duration
                    .get_or_create(&labels)
                    .observe(ms / 1000.0);
            }
            if let Some(ms) = obs.ttft_ms.filter(|v| v.is_finite() && *v >= 0.0) {
                self.ttft.get_or_create(&labels).observe(ms / 1000.0);
            }
            Ok(())
        });
        if let Err(e) = walked {
            tracing::warn!(
                "metrics: the latency histograms miss run {}: {e}",
                outcome.run_id
            );
        }
    }

    /// What is open right now, from the store: incidents by probe and severity (0 for each
    /// severity of every probe seen; only `only`'s when given, as a push of one probe's
    /// group needs), and undelivered notifications by status.
    pub fn refresh_from_store(&self, store: &Store, only: Option<&str>) -> Result<(), StoreError> {
        let incidents = store.open_incidents(only)?;
        let outbox = store.outbox_undelivered()?;
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut probes: BTreeSet<String> = self
            .known_probes
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        if let Some(only) = only {
            probes.retain(|p| p == only);
        }
        for incident in &incidents {
            probes.insert(incident.probe.clone());
            *counts
                .entry((incident.probe.clone(), incident.severity.clone()))
                .or_default() += 1;
        }
        let mut now = HashSet::new();
        for probe in &probes {
            for severity in SEVERITIES {
                counts.entry((probe.clone(), severity.into())).or_default();
            }
        }
        for ((probe, severity), n) in counts {
            let labels = SeverityLabels {
                probe: label_value(&probe),
                severity: label_value(&severity),
            };
            self.open_incidents.get_or_create(&labels).set(n);
            now.insert(labels);
        }
        if let Ok(mut before) = self.incident_sets.lock() {
            for gone in before.difference(&now) {
                self.open_incidents.remove(gone);
            }
            *before = now;
        }
        for status in OUTBOX_STATUSES {
            let n = outbox.iter().filter(|row| row.status == status).count();
            self.outbox
                .get_or_create(&StatusLabels {
                    status: status.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Ok(())
    }
}
