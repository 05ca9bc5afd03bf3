//! The per-label families (`probity_labelled_*`): cost, tokens, requests, latency, error
//! and pass rate of a probe's traffic broken down by the label keys the probe lists under
//! `metrics: { labels: [feature] }` — and by no other key, so the number of series is the
//! number of label values written in the probe and its golden sets, never more.
//!
//! One series per combination of the listed keys' values (`{feature="docs",
//! segment="enterprise"}`), so `sum by (feature)` adds up without counting an observation
//! twice. An observation without a listed key has it empty (`feature=""`, which Prometheus
//! reads as absent). A listed key named like one of the families' own labels (`probe`,
//! `target`, `direction`, `le`) is exported as `label_<key>`, as `probity_target_info` does.
//!
//! Folded from the run's stored observations (with their scores) rather than the summary:
//! `summary.by_label` is per key, and a combination of keys needs the observations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{label_name, label_value};
use super::{FloatCounter, FloatGauge, HistogramFamily, duration_histogram};
use crate::config::Probe;
use crate::golden::Case;
use crate::pipeline::{RunOutcome, RunStatus};
use crate::store::{Store, StoreError};
use crate::summary::{Facts, Totals};

/// Labels of the families themselves; a listed key of the same name gets `label_`.
const RESERVED: [&str; 4] = ["probe", "target", "direction", "le"];

/// probe, target, then the listed keys in the probe's order.
type LabelSet = Vec<(String, String)>;

/// The families, registered once with the others.
pub struct LabelledFamilies {
    requests: Family<LabelSet, Counter>,
    tokens: Family<LabelSet, Counter>,
    cost: Family<LabelSet, FloatCounter>,
    duration: HistogramFamily<LabelSet>,
    error_ratio: Family<LabelSet, FloatGauge>,
    sample_pass: Family<LabelSet, FloatGauge>,
    /// The gauge series last set per (probe, target): a combination gone from the last
    /// run (a case relabelled) loses its ratios instead of keeping a stale one.
    gauges: Mutex<HashMap<(String, String), HashSet<LabelSet>>>,
}

impl Default for LabelledFamilies {
    fn default() -> Self {
        LabelledFamilies {
            requests: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            error_ratio: Family::default(),
            sample_pass: Family::default(),
            gauges: Mutex::new(HashMap::new()),
        }
    }
}

/// The exported name of a listed key.
fn exported(key: &str) -> String {
    let name = label_name(key);
    if RESERVED.contains(&name.as_str()) {
        format!("label_{name}")
    } else {
        name
    }
}

impl LabelledFamilies {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "labelled_requests",
            "Requests sent (retries included), by the label keys the probe lists under metrics.labels",
            self.requests.clone(),
        );
        r.register(
            "labelled_tokens",
            "Tokens by direction (input, output), the endpoint's and scoring calls' together, by the probe's metrics.labels",
            self.tokens.clone(),
        );
        r.register(
            "labelled_cost_usd",
            "Cost in US dollars, the endpoint's and scoring calls' together, by the probe's metrics.labels",
            self.cost.clone(),
        );
        r.register_with_unit(
            "labelled_request_duration",
            "Time of each sample's answer from its intended start, by the probe's metrics.labels",
            Unit::Seconds,
            self.duration.clone(),
        );
        r.register(
            "labelled_error_ratio",
            "Share of the last run's samples whose last attempt failed, by the probe's metrics.labels",
            self.error_ratio.clone(),
        );
        r.register(
            "labelled_sample_pass_ratio",
            "Share of the last run's samples that passed every check, by the probe's metrics.labels",
            self.sample_pass.clone(),
        );
    }

    /// Feeds one run of `probe` (nothing unless it lists `metrics.labels`). Counters and
    /// the histogram add what the run did; the ratios change only for a finished run.
    pub fn record(&self, probe: &Probe, outcome: &RunOutcome, store: &Store) {
        let keys = &probe.metrics.labels;
        if keys.is_empty() {
            return;
        }
        let cases: HashMap<(&str, &str), &Case> = probe
            .golden_sets
            .iter()
            .flat_map(|s| s.cases.iter())
            .map(|c| ((c.set.as_str(), c.id.as_str()), c))
            .collect();
        let mut totals: BTreeMap<LabelSet, Totals> = BTreeMap::new();
        let walked = store.for_each_observation(&outcome.run_id, |row| {
            let obs = &row.observation;
            let mut set: LabelSet = vec![
                ("probe".into(), label_value(&outcome.probe)),
                ("target".into(), label_value(&obs.target)),
            ];
            for key in keys {
                let value = obs
                    .labels
                    .get(key)
                    .map_or(String::new(), |v| label_value(v));
                set.push((exported(key), value));
            }
            let scores = row.scores.as_deref().unwrap_or(&[]);
            let facts = (obs.is_ok() && obs.final_attempt)
                .then(|| cases.get(&(obs.set.as_str(), obs.case_id.as_str())))
                .flatten()
                .map(|case| Facts::of(case, obs, scores));
            // As `probity_request_duration_seconds`: every sample's final attempt.
            if obs.final_attempt
                && let Some(ms) = obs.latency_ms.filter(|v| v.is_finite() && *v >= 0.0)
            {
                self.duration.get_or_create(&set).observe(ms / 1000.0);
            }
            totals
                .entry(set)
                .or_default()
                .add(obs, facts.as_ref(), scores);
            Ok::<(), StoreError>(())
        });
        if let Err(e) = walked {
            tracing::warn!(
                "metrics: the per-label series miss run {}: {e}",
                outcome.run_id
            );
            return;
        }
        let finished = outcome.status != RunStatus::Interrupted;
        let mut now: HashMap<(String, String), HashSet<LabelSet>> = HashMap::new();
        for (set, t) in &totals {
            self.requests.get_or_create(set).inc_by(t.requests);
            for (direction, n) in [("input", t.input_tokens), ("output", t.output_tokens)] {
                let mut with = set.clone();
                with.insert(2, ("direction".into(), direction.into()));
                self.tokens.get_or_create(&with).inc_by(n);
            }
            let cost = self.cost.get_or_create(set);
            if t.cost_usd.is_finite() && t.cost_usd > 0.0 {
                cost.inc_by(t.cost_usd);
            }
            drop(cost);
            if !finished || t.samples == 0 {
                continue;
            }
            let samples = t.samples as f64;
            self.error_ratio
                .get_or_create(set)
                .set(t.errored() as f64 / samples);
            self.sample_pass
                .get_or_create(set)
                .set(t.passes as f64 / samples);
            let target = set[1].1.clone();
            now.entry((outcome.probe.clone(), target))
                .or_default()
                .insert(set.clone());
        }
        if !finished {
            return;
        }
        let Ok(mut before) = self.gauges.lock() else {
            return;
        };
        for t in &outcome.targets {
            let key = (outcome.probe.clone(), label_value(&t.summary.target));
            let current = now.remove(&key).unwrap_or_default();
            if let Some(old) = before.get(&key) {
                for gone in old.difference(&current) {
                    self.error_ratio.remove(gone);
                    self.sample_pass.remove(gone);
                }
            }
            before.insert(key, current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_named_like_a_family_label_is_prefixed() {
        assert_eq!(exported("feature"), "feature");
        assert_eq!(exported("target"), "label_target");
        assert_eq!(exported("le"), "label_le");
    }
}
