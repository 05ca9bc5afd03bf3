//! Running totals of one scope (a whole run on one target, or one case): counts by outcome,
//! latency and TTFT histograms, tokens, cost, and the quality tallies. The same type serves
//! both scopes, so a case and its run are always summarised alike.

use std::collections::BTreeMap;

use super::facts::Facts;
use super::latency::LatencyHistogram;
use crate::provider::ErrorClass;
use crate::runner::{Observation, Status};
use crate::score::Score;

/// Events out of trials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Count {
    pub events: u64,
    pub n: u64,
}

impl Count {
    pub fn add(&mut self, event: bool) {
        self.n += 1;
        self.events += u64::from(event);
    }
    pub fn add_opt(&mut self, event: Option<bool>) {
        if let Some(e) = event {
            self.add(e);
        }
    }
}

/// A running mean.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mean {
    pub sum: f64,
    pub n: u64,
}

impl Mean {
    pub fn add(&mut self, x: Option<f64>) {
        if let Some(x) = x.filter(|x| x.is_finite()) {
            self.sum += x;
            self.n += 1;
        }
    }
    pub fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// One scorer's tally.
#[derive(Debug, Clone, Default)]
pub struct ScorerTally {
    pub result: Count,
    pub informational: bool,
    pub value: Mean,
    /// The reason of the first failing sample.
    pub failing_reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Attempts sent.
    pub requests: u64,
    /// Samples whose last attempt was sent (skipped ones excluded).
    pub samples: u64,
    pub answered: u64,
    pub skipped_budget: u64,
    /// Samples whose last attempt failed, by class.
    pub errors: BTreeMap<ErrorClass, u64>,
    /// Every failed attempt, retried or not, by class.
    pub attempt_errors: BTreeMap<ErrorClass, u64>,
    pub retries: u64,
    pub latency: LatencyHistogram,
    pub ttft: LatencyHistogram,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub passes: u64,
    /// Answers in the expected format, out of those that ask for one.
    pub format: Count,
    pub over_refusal: Count,
    pub under_refusal: Count,
    pub hallucination: Count,
    pub support: Mean,
    pub similarity: Mean,
    pub cosine: Mean,
    pub judge: Count,
    pub truncation: Count,
    pub empty: Count,
    pub safety: Count,
    pub length_tokens: LatencyHistogram,
    pub length_chars: LatencyHistogram,
    pub scorers: BTreeMap<String, ScorerTally>,
    /// `scorer: reason` (or `error_class: message`) of the first failing sample.
    pub first_failure: Option<String>,
    /// expected label → predicted label (`-` when none was recognised) → count.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
    /// Calls made to score answers (judge, embeddings): already in the token and cost totals.
    pub scoring: ScoringUsage,
    // issue 13, latency by component
    pub components: super::ComponentTotals,
    /// Tone and output character (issue 13).
    pub tone: crate::score::tone::summary::ToneTally,
}

/// What scoring itself cost: the judge's and the embeddings endpoint's calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoringUsage {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Scores the judge or the embeddings endpoint could not give.
    pub errors: u64,
}

impl ScoringUsage {
    /// Reads `detail.usage` / `detail.error` of a network score.
    fn add(&mut self, score: &Score) -> (u64, u64, f64) {
        let Some(detail) = &score.detail else {
            return (0, 0, 0.0);
        };
        if detail.get("error").and_then(|e| e.as_bool()) == Some(true) {
            self.errors += 1;
        }
        let Some(usage) = detail.get("usage") else {
            return (0, 0, 0.0);
        };
        let int = |k: &str| usage.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let (input, output) = (int("input_tokens"), int("output_tokens"));
        let cost = usage
            .get("cost_usd")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        self.calls += int("calls");
        self.input_tokens += input;
        self.output_tokens += output;
        self.cost_usd += cost;
        (input, output, cost)
    }
}

impl Totals {
    /// Counts an attempt; `facts` and `scores` are given for answered final attempts.
    pub fn add(&mut self, obs: &Observation, facts: Option<&Facts>, scores: &[Score]) {
        if obs.status == Status::SkippedBudget {
            self.skipped_budget += 1;
            return;
        }
        self.requests += 1;
        self.cost_usd += obs.cost_usd;
        self.input_tokens += obs.input_tokens.unwrap_or(0);
        self.output_tokens += obs.output_tokens.unwrap_or(0);
        if let Some(class) = obs.status.error_class() {
            *self.attempt_errors.entry(class).or_default() += 1;
        }
        if !obs.final_attempt {
            self.retries += 1;
            return;
        }
        self.samples += 1;
        if let Some(class) = obs.status.error_class() {
            *self.errors.entry(class).or_default() += 1;
            if self.first_failure.is_none() {
                let message = obs.error.as_deref().unwrap_or("no detail");
                self.first_failure = Some(format!("{}: {message}", class.as_str()));
            }
            return;
        }
        self.answered += 1;
        if let Some(timings) = &obs.timings {
            self.components.add(timings);
        }
        if let Some(ms) = obs.latency_ms {
            self.latency.record(ms);
        }
        if let Some(ms) = obs.ttft_ms {
            self.ttft.record(ms);
        }
        if let Some(tokens) = obs.output_tokens {
            self.length_tokens.record(tokens as f64);
        }
        self.length_chars
            .record(obs.output.as_deref().map_or(0, |o| o.chars().count()) as f64);
        let Some(f) = facts else { return };
        if f.passed {
            self.passes += 1;
        } else if self.first_failure.is_none() {
            self.first_failure = f
                .failure
                .as_ref()
                .map(|(scorer, reason)| format!("{scorer}: {reason}"));
        }
        self.format.add_opt(f.format_ok);
        self.over_refusal.add_opt(f.over_refusal());
        self.under_refusal.add_opt(f.under_refusal());
        self.hallucination.add_opt(f.support.map(|(_, ok)| !ok));
        self.support.add(f.support.map(|(s, _)| s));
        self.similarity.add(f.similarity);
        self.cosine.add(f.cosine);
        self.judge.add_opt(f.judge_passed);
        self.truncation.add(f.truncated);
        self.empty.add(f.empty);
        self.safety.add(f.safety_flag);
        // Tone and output character (issue 13).
        self.tone.add(f.tone.as_ref());
        if let Some((expected, predicted)) = &f.label {
            let predicted = predicted.clone().unwrap_or_else(|| "-".into());
            *self
                .confusion
                .entry(expected.clone())
                .or_default()
                .entry(predicted)
                .or_default() += 1;
        }
        for s in scores {
            let (input, output, cost) = self.scoring.add(s);
            self.input_tokens += input;
            self.output_tokens += output;
            self.cost_usd += cost;
            // Look up first: the name is cloned once per scorer, not once per answer.
            if !self.scorers.contains_key(&s.scorer) {
                self.scorers
                    .insert(s.scorer.clone(), ScorerTally::default());
            }
            let Some(t) = self.scorers.get_mut(&s.scorer) else {
                continue;
            };
            t.result.add(s.passed);
            t.informational = s.informational;
            t.value.add(s.value);
            if !s.passed && t.failing_reason.is_none() {
                t.failing_reason = s.reason.clone();
            }
        }
    }

    /// Samples that errored (their last attempt failed).
    pub fn errored(&self) -> u64 {
        self.errors.values().sum()
    }
}
