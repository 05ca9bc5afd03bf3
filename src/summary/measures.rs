//! The measurements of one final attempt, by metric: which bad events it had (indexed like
//! `RATES`) and its continuous values (indexed like `CONTINUOUS`). Evidence and pairs are
//! both folded from these, so a metric means the same in a paired and an unpaired test.

use super::facts::Facts;
use crate::runner::{Observation, Status};

/// Rates, by name; `events` are the bad outcomes.
pub const RATES: [&str; 12] = [
    "error",
    "sample_fail",
    "over_refusal",
    "under_refusal",
    "format_failure",
    "hallucination",
    "truncation",
    "empty_answer",
    "safety_flag",
    "judge_fail",
    // retrieval relevance (RAG)
    "empty_retrieval",
    "irrelevant_retrieval",
];
/// Continuous metrics, by name.
pub const CONTINUOUS: [&str; 10] = [
    "latency_ms",
    "ttft_ms",
    "output_tokens",
    "output_chars",
    "similarity",
    "cosine",
    "grounding_support",
    "cost_usd",
    // retrieval relevance (RAG)
    "context_precision",
    "passages",
];

/// One sample's measurements; `None` where a metric does not apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measures {
    pub events: [Option<bool>; RATES.len()],
    pub values: [Option<f64>; CONTINUOUS.len()],
}

/// The measurements of a final attempt (`None` for retried or skipped attempts).
pub fn measure(obs: &Observation, facts: Option<&Facts>) -> Option<Measures> {
    if !obs.final_attempt || obs.status == Status::SkippedBudget {
        return None;
    }
    let errored = obs.status.error_class().is_some();
    let mut m = Measures::default();
    m.events[0] = Some(errored);
    let Some(f) = facts.filter(|_| !errored) else {
        return Some(m);
    };
    m.events[1..].copy_from_slice(&[
        Some(!f.passed),
        f.over_refusal(),
        f.under_refusal(),
        f.format_ok.map(|ok| !ok),
        f.support.map(|(_, ok)| !ok),
        Some(f.truncated),
        Some(f.empty),
        Some(f.safety_flag),
        f.judge_passed.map(|p| !p),
        // retrieval relevance (RAG)
        f.retrieval.map(|r| r.empty),
        f.retrieval.map(|r| r.irrelevant),
    ]);
    let chars = obs.output.as_deref().map_or(0, |o| o.chars().count());
    m.values = [
        obs.latency_ms,
        obs.ttft_ms,
        obs.output_tokens.map(|t| t as f64),
        Some(chars as f64),
        f.similarity,
        f.cosine,
        f.support.map(|(s, _)| s),
        Some(obs.cost_usd),
        // retrieval relevance (RAG)
        f.retrieval.and_then(|r| r.context_precision),
        f.retrieval.map(|r| r.passages),
    ];
    for v in &mut m.values {
        *v = v.filter(|x| x.is_finite());
    }
    Some(m)
}
