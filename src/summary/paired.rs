//! Pairs: when two targets are probed in one run, case by case and sample by sample, the
//! n-th sample of a case on one target is paired with the n-th on the other. Paired tests
//! (McNemar on flips, Wilcoxon signed-rank on differences) then see only what differs
//! between the targets, not what differs between cases or moments.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::measures::{CONTINUOUS, Measures, RATES};

/// Discordant pairs of one binary metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Flips {
    /// The baseline target had no event, the candidate had one.
    pub to_bad: u64,
    /// The reverse.
    pub to_good: u64,
    /// Pairs where the metric applied on both sides.
    pub pairs: u64,
}

/// Paired measurements of a candidate against a baseline target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pairs {
    pub flips: BTreeMap<String, Flips>,
    /// (baseline, candidate) values where both sides have one.
    pub values: BTreeMap<String, Vec<(f64, f64)>>,
}

/// Collects pairs as samples arrive; a sample waits until its partner does.
#[derive(Debug, Default)]
pub struct PairBuilder {
    waiting: HashMap<(String, u32), (usize, Measures)>,
    pairs: Pairs,
    /// Issue 15 (sequential gate): pairs completed since the last `take_fresh`, as
    /// (sample, baseline, candidate); kept only once `keep_fresh` was called.
    fresh: Option<Vec<(u32, Measures, Measures)>>,
}

impl PairBuilder {
    /// Adds the measures of `sample` of `case_key` on target `side` (0 = candidate,
    /// 1 = baseline).
    pub fn add(&mut self, case_key: &str, sample: u32, side: usize, measures: Measures) {
        let key = (case_key.to_string(), sample);
        match self.waiting.remove(&key) {
            Some((other_side, other)) if other_side != side => {
                let (candidate, baseline) = if side == 0 {
                    (measures, other)
                } else {
                    (other, measures)
                };
                self.fold(&baseline, &candidate);
                if let Some(fresh) = self.fresh.as_mut() {
                    fresh.push((sample, baseline, candidate));
                }
            }
            _ => {
                self.waiting.insert(key, (side, measures));
            }
        }
    }

    fn fold(&mut self, baseline: &Measures, candidate: &Measures) {
        for (i, name) in RATES.iter().enumerate() {
            if let (Some(b), Some(c)) = (baseline.events[i], candidate.events[i]) {
                let f = self.pairs.flips.entry(name.to_string()).or_default();
                f.pairs += 1;
                f.to_bad += u64::from(!b && c);
                f.to_good += u64::from(b && !c);
            }
        }
        for (i, name) in CONTINUOUS.iter().enumerate() {
            if let (Some(b), Some(c)) = (baseline.values[i], candidate.values[i]) {
                self.pairs
                    .values
                    .entry(name.to_string())
                    .or_default()
                    .push((b, c));
            }
        }
    }

    /// Keeps every pair completed from now on for `take_fresh` (the sequential gate).
    pub fn keep_fresh(&mut self) {
        self.fresh.get_or_insert_with(Vec::new);
    }

    /// The pairs completed since the last call, in completion order.
    pub fn take_fresh(&mut self) -> Vec<(u32, Measures, Measures)> {
        self.fresh.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub fn finish(self) -> Pairs {
        self.pairs
    }
}
