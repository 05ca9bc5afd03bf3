//! A target's figures per label key and value (`summary.by_label`): what a feature
//! (`feature: document-analysis`) or a segment costs, how fast and how well it is
//! answered. Folded from the same observation stream as the run's totals, with the same
//! `Totals`, so a label value and the run are counted alike: for a key every case carries,
//! the values' requests, samples, tokens and cost add up to the run's.
//!
//! An observation without a key is not counted under it; the number of values is bounded
//! by the labels written in the probe and its golden sets, not by anything an endpoint
//! sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::Facts;
use super::totals::Totals;
use super::{CONFIDENCE, Percentiles, Rate, Tokens};
use crate::runner::Observation;
use crate::score::Score;
use crate::stats::wilson;

/// The figures of one label value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelFigures {
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Samples sent (their last attempt counts).
    pub samples: u64,
    /// Samples that got an answer.
    pub answered: u64,
    /// Samples whose last attempt failed.
    pub errors: u64,
    /// `errors / samples` (0 when nothing was sent).
    pub error_rate: f64,
    /// Cost of the endpoint's answers and of their scoring calls.
    pub cost_usd: f64,
    /// `cost_usd / requests`, `null` when nothing was sent.
    pub cost_per_request_usd: Option<f64>,
    pub tokens: Tokens,
    pub latency_ms: Percentiles,
    /// Samples (errors included) that passed every check, with its Wilson interval.
    pub pass_rate: Option<Rate>,
    /// The quality rates the run reports, over this value's answers that ask for them.
    pub format_compliance: Option<Rate>,
    pub over_refusal: Option<Rate>,
    pub hallucination: Option<Rate>,
}

/// key → value → figures.
pub type ByLabel = BTreeMap<String, BTreeMap<String, LabelFigures>>;

/// Running totals per label key and value of one target.
#[derive(Debug, Default)]
pub struct LabelTotals {
    by: BTreeMap<String, BTreeMap<String, Totals>>,
}

impl LabelTotals {
    /// Counts one attempt under each of its labels.
    pub fn add(&mut self, obs: &Observation, facts: Option<&Facts>, scores: &[Score]) {
        for (key, value) in &obs.labels {
            // Look up first: key and value are cloned once per label value, not per answer.
            if !self.by.get(key).is_some_and(|v| v.contains_key(value)) {
                self.by
                    .entry(key.clone())
                    .or_default()
                    .insert(value.clone(), Totals::default());
            }
            if let Some(t) = self.by.get_mut(key).and_then(|v| v.get_mut(value)) {
                t.add(obs, facts, scores);
            }
        }
    }

    pub fn finish(&self) -> ByLabel {
        self.by
            .iter()
            .map(|(key, values)| {
                let values = values
                    .iter()
                    .map(|(v, t)| (v.clone(), figures(t)))
                    .collect();
                (key.clone(), values)
            })
            .collect()
    }
}

/// The figures of one value's totals.
pub fn figures(t: &Totals) -> LabelFigures {
    let errors = t.errored();
    LabelFigures {
        requests: t.requests,
        samples: t.samples,
        answered: t.answered,
        errors,
        error_rate: if t.samples == 0 {
            0.0
        } else {
            errors as f64 / t.samples as f64
        },
        cost_usd: t.cost_usd,
        cost_per_request_usd: (t.requests > 0).then(|| t.cost_usd / t.requests as f64),
        tokens: Tokens {
            input: t.input_tokens,
            output: t.output_tokens,
        },
        latency_ms: t.latency.percentiles(),
        pass_rate: (t.samples > 0).then(|| {
            let (lo, hi) = wilson(t.passes, t.samples, CONFIDENCE);
            Rate {
                value: t.passes as f64 / t.samples as f64,
                ci: [lo, hi],
                count: t.passes,
                n: t.samples,
            }
        }),
        format_compliance: Rate::from(t.format),
        over_refusal: Rate::from(t.over_refusal),
        hallucination: Rate::from(t.hallucination),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Status;

    fn obs(labels: &[(&str, &str)], cost: f64, status: Status) -> Observation {
        Observation {
            seq: 0,
            target: "default".into(),
            set: "s".into(),
            case_id: "c".into(),
            sample: 0,
            attempt: 1,
            final_attempt: true,
            started_at: chrono::Utc::now(),
            scheduled_ms: 0.0,
            delayed: false,
            latency_ms: Some(100.0),
            ttft_ms: None,
            status,
            http_status: Some(200),
            error: None,
            input_tokens: Some(10),
            output_tokens: Some(5),
            cost_usd: cost,
            finish_reason: None,
            model: None,
            system_fingerprint: None,
            request_id: None,
            span_id: String::new(),
            output: Some("ok".into()),
            context: vec![],
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            timings: None,
        }
    }

    #[test]
    fn each_value_counts_its_own_and_the_values_add_up() {
        let mut t = LabelTotals::default();
        let pass = Facts {
            passed: true,
            ..Facts::default()
        };
        let a = [("feature", "chat"), ("segment", "pro")];
        let b = [("feature", "docs")];
        t.add(&obs(&a, 0.002, Status::Ok), Some(&pass), &[]);
        t.add(&obs(&a, 0.004, Status::Ok), Some(&Facts::default()), &[]);
        t.add(&obs(&b, 0.010, Status::Ok), Some(&pass), &[]);
        let timeout = Status::Error(crate::provider::ErrorClass::Timeout);
        t.add(&obs(&b, 0.0, timeout), None, &[]);
        let by = t.finish();
        let chat = &by["feature"]["chat"];
        assert_eq!((chat.requests, chat.samples, chat.errors), (2, 2, 0));
        assert!((chat.cost_usd - 0.006).abs() < 1e-12);
        assert!((chat.cost_per_request_usd.unwrap() - 0.003).abs() < 1e-12);
        assert_eq!(chat.pass_rate.unwrap().value, 0.5);
        let docs = &by["feature"]["docs"];
        assert_eq!((docs.requests, docs.errors), (2, 1));
        assert_eq!(docs.error_rate, 0.5);
        assert_eq!(docs.tokens.input, 20);
        // `segment` only where a case has it.
        assert_eq!(by["segment"].len(), 1);
        assert_eq!(by["segment"]["pro"].requests, 2);
        let total: u64 = by["feature"].values().map(|f| f.requests).sum();
        assert_eq!(total, 4);
    }
}
