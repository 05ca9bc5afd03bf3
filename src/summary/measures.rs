//! The measurements of one final attempt, by metric: which bad events it had (indexed like
//! `RATES`) and its continuous values (indexed like `CONTINUOUS`). Evidence and pairs are
//! both folded from these, so a metric means the same in a paired and an unpaired test.

use super::facts::Facts;
use crate::runner::{Observation, Status};

/// Rates, by name; `events` are the bad outcomes.
pub const RATES: [&str; 18] = [
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
    // Tone and output character (issue 13): answers outside `expect.tone`, not in the
    // expected language, hedging, exclaiming, mostly ALL CAPS, using Markdown / lists /
    // code fences. A move either way is a change of character; the test looks for more.
    "tone_fail",
    "language_mismatch",
    "hedging",
    "exclamation",
    "all_caps",
    "markdown",
    "list",
    "code_fence",
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
    // Tone and output character (issue 13): sentiment rescaled to 0..1 ((compound + 1) / 2,
    // so that a ratio of medians means something), reading grade floored at 0.
    "tone_sentiment",
    "tone_reading_grade",
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
    m.events[1..10].copy_from_slice(&[
        Some(!f.passed),
        f.over_refusal(),
        f.under_refusal(),
        f.format_ok.map(|ok| !ok),
        f.support.map(|(_, ok)| !ok),
        Some(f.truncated),
        Some(f.empty),
        Some(f.safety_flag),
        f.judge_passed.map(|p| !p),
    ]);
    // Tone and output character (issue 13).
    if let Some(t) = &f.tone {
        m.events[10..].copy_from_slice(&[
            t.expect_failed,
            t.language_mismatch,
            Some(t.hedges()),
            Some(t.exclaims()),
            Some(t.shouts()),
            Some(t.markdown),
            Some(t.list),
            Some(t.code_fence),
        ]);
    }
    let chars = obs.output.as_deref().map_or(0, |o| o.chars().count());
    let tone = f.tone.as_ref();
    m.values = [
        obs.latency_ms,
        obs.ttft_ms,
        obs.output_tokens.map(|t| t as f64),
        Some(chars as f64),
        f.similarity,
        f.cosine,
        f.support.map(|(s, _)| s),
        Some(obs.cost_usd),
        // Tone and output character (issue 13).
        tone.map(|t| (t.sentiment + 1.0) / 2.0),
        tone.and_then(|t| t.reading_grade).map(|g| g.max(0.0)),
    ];
    for v in &mut m.values {
        *v = v.filter(|x| x.is_finite());
    }
    Some(m)
}
