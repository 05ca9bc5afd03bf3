//! What a baseline's evidence must satisfy to describe a real run. serde checks the types
//! (a negative count or a string where a number belongs is a parse error already); this
//! checks what types cannot say: counts that add up (`events ≤ n`, answered samples no more
//! than samples, the vocabulary's words equal to its parts), reservoirs that hold what they
//! claim, and values in their metric's range. A hand-edited or corrupt file that breaks one
//! is refused by name instead of feeding a garbage count into a chi-square.
//!
//! Invariants are the ones `EvidenceBuilder` keeps (src/summary/evidence.rs); where a
//! future change of the builder might loosen one (an answered sample left unscored), the
//! check is an inequality, not an equality.

use crate::summary::{CONTINUOUS, Count, Evidence, RATES};

/// The offending field (a dotted path from the top of the file) and what is wrong with it.
pub(super) type Problem = (String, String);

/// The range a continuous metric's values must lie in.
fn range(metric: &str) -> (f64, f64) {
    match metric {
        "similarity" | "grounding_support" => (0.0, 1.0),
        "cosine" => (-1.0, 1.0),
        // Tone and output character (issue 13): sentiment rescaled to 0..1.
        "tone_sentiment" => (0.0, 1.0),
        // latency, ttft, tokens, characters, cost: never negative.
        _ => (0.0, f64::INFINITY),
    }
}

/// Metrics newer than the baseline file format: a file written before them lacks them, and
/// the comparison then has nothing to test them on (it skips a metric one side lacks).
fn added_later(metric: &str) -> bool {
    // Tone and output character (issue 13).
    metric.starts_with("tone_")
        || matches!(
            metric,
            "language_mismatch"
                | "hedging"
                | "exclamation"
                | "all_caps"
                | "markdown"
                | "list"
                | "code_fence"
        )
}

/// A map key from the file as it may be shown: control and bidi characters escaped, cut.
fn key(k: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::new();
    for (i, c) in k.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || crate::inert::is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> Result<(), Problem> {
    Err((field.into(), problem.into()))
}

/// Checks every invariant of `e`; the first broken one is the error.
pub(super) fn evidence(e: &Evidence) -> Result<(), Problem> {
    rates(e)?;
    let samples = e.rates.get("error").map_or(0, |c| c.n);
    let answered = e
        .rates
        .get("error")
        .map_or(0, |c| c.n.saturating_sub(c.events));
    continuous(e, answered)?;
    finish_reasons_and_vocabulary(e, answered)?;
    cases(e, samples)
}

/// Most samples a rate of one run can count: 2^53, where f64 stops being exact (a run is
/// bounded at 10^7 requests by validation, so no real file comes near).
const MAX_COUNT: u64 = 1 << 53;

fn rates(e: &Evidence) -> Result<(), Problem> {
    for name in RATES {
        if !e.rates.contains_key(name) && !added_later(name) {
            return bad(format!("evidence.rates.{name}"), "is missing");
        }
    }
    for (name, Count { events, n }) in &e.rates {
        // Counts stay exact as f64 and cannot overflow a sum of two.
        if *n > MAX_COUNT {
            return bad(
                format!("evidence.rates.{}.n", key(name)),
                format!("is {n}, more than any run records (at most {MAX_COUNT})"),
            );
        }
        if events > n {
            return bad(
                format!("evidence.rates.{}.events", key(name)),
                format!("is {events}, more than its n ({n})"),
            );
        }
    }
    let count = |name: &str| e.rates.get(name).copied().unwrap_or_default();
    let error = count("error");
    let answered = error.n - error.events;
    let scored = count("sample_fail").n;
    if scored > answered {
        return bad(
            "evidence.rates.sample_fail.n",
            format!(
                "is {scored}, more than the answered samples ({answered} = error.n {} − error.events {})",
                error.n, error.events
            ),
        );
    }
    // Every other rate is over answered samples (a subset of them for most).
    for name in RATES.iter().skip(2) {
        let n = count(name).n;
        if n > answered {
            return bad(
                format!("evidence.rates.{name}.n"),
                format!("is {n}, more than the answered samples ({answered})"),
            );
        }
    }
    let refusal = count("over_refusal")
        .n
        .saturating_add(count("under_refusal").n);
    if refusal > answered {
        return bad(
            "evidence.rates.under_refusal.n",
            format!(
                "plus over_refusal.n is {refusal}, more than the answered samples ({answered})"
            ),
        );
    }
    Ok(())
}

fn continuous(e: &Evidence, answered: u64) -> Result<(), Problem> {
    for name in CONTINUOUS {
        let Some(r) = e.continuous.get(name) else {
            if added_later(name) {
                continue;
            }
            return bad(format!("evidence.continuous.{name}"), "is missing");
        };
        let field = format!("evidence.continuous.{name}");
        if r.seen > answered {
            return bad(
                format!("{field}.seen"),
                format!("is {}, more than the answered samples ({answered})", r.seen),
            );
        }
        // A reservoir keeps every value until it is full, then exactly `cap`.
        let expected = usize::try_from(r.seen).map_or(r.cap, |seen| seen.min(r.cap));
        if r.values.len() != expected {
            return bad(
                format!("{field}.values"),
                format!(
                    "holds {} values; with seen {} and cap {} it must hold {expected}",
                    r.values.len(),
                    r.seen,
                    r.cap
                ),
            );
        }
        // Cosines and shares computed in floating point may land a rounding error outside.
        let (lo, hi) = range(name);
        let (lo, hi) = (lo - 1e-9, hi + 1e-9);
        if let Some((i, v)) = r
            .values
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < lo || **v > hi)
        {
            let (lo, hi) = range(name);
            let allowed = if hi.is_finite() {
                format!("{lo} to {hi}")
            } else {
                format!("at least {lo}")
            };
            return bad(
                format!("{field}.values[{i}]"),
                format!("is {v}, outside the metric's range ({allowed})"),
            );
        }
    }
    Ok(())
}

fn finish_reasons_and_vocabulary(e: &Evidence, answered: u64) -> Result<(), Problem> {
    let v = &e.vocabulary;
    let reasons = e
        .finish_reasons
        .values()
        .try_fold(0u64, |sum, n| sum.checked_add(*n));
    match reasons {
        None => return bad("evidence.finish_reasons", "counts overflow when added"),
        Some(sum) if sum != v.answers => {
            return bad(
                "evidence.finish_reasons",
                format!(
                    "add up to {sum}, but vocabulary.answers (the answers counted) is {}",
                    v.answers
                ),
            );
        }
        Some(_) => {}
    }
    if v.answers > answered {
        return bad(
            "evidence.vocabulary.answers",
            format!(
                "is {}, more than the answered samples ({answered})",
                v.answers
            ),
        );
    }
    if let Some((word, n)) = v.top.iter().find(|(_, n)| **n > v.words) {
        return bad(
            format!("evidence.vocabulary.top.{}", key(word)),
            format!("is {n}, more than vocabulary.words ({})", v.words),
        );
    }
    let parts = v
        .top
        .values()
        .try_fold(v.other, |sum, n| sum.checked_add(*n));
    if parts != Some(v.words) {
        let sum = parts.map_or("more than 2^64".to_string(), |p| p.to_string());
        return bad(
            "evidence.vocabulary.words",
            format!("is {}, but top and other add up to {sum}", v.words),
        );
    }
    Ok(())
}

fn cases(e: &Evidence, samples: u64) -> Result<(), Problem> {
    let mut total = 0u64;
    for (case, c) in &e.cases {
        let field = format!("evidence.cases.{}", key(case));
        if c.passes > c.samples {
            return bad(
                format!("{field}.passes"),
                format!("is {}, more than its samples ({})", c.passes, c.samples),
            );
        }
        if !(0.0..=1.0).contains(&c.min_pass_rate) {
            return bad(
                format!("{field}.min_pass_rate"),
                format!("is {}, not between 0 and 1", c.min_pass_rate),
            );
        }
        total = total.saturating_add(c.samples);
    }
    if total > samples {
        return bad(
            "evidence.cases",
            format!("hold {total} samples in all, more than error.n ({samples})"),
        );
    }
    Ok(())
}
