//! Drift: is the current run different from its baseline, beyond chance and beyond trivia?
//!
//! Every metric gets the test that fits its kind (see each function), all p-values of one
//! comparison are adjusted together with Benjamini–Hochberg at `drift.alpha`, and a change
//! is drift only when it is significant after that adjustment **and** at least the metric's
//! minimum effect — so a huge sample cannot page on a 0.3% latency wobble. A second, larger
//! effect makes the finding critical.
//!
//! Direction: metrics with a "worse" side (higher error or refusal rates, slower latency,
//! higher cost, lower similarity) are tested one-sided towards worse, as guardrail metrics
//! are in A/B testing: an improvement is not an incident, and the one-sided test spends the
//! whole α on the direction that gates. Output length and categorical distributions have no
//! worse side and are tested two-sided.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::{Estimate, Finding, FindingKind, Severity, format_rate, format_ratio, show};
use crate::config::{Drift, Unit};
use crate::stats::{
    Alternative, Statistic, TestResult, benjamini_hochberg, bootstrap_ratio, chi2_contingency,
    cliffs_delta, diff_interval, fisher_exact, js_divergence, ks_2samp, mann_whitney_u,
    mcnemar_exact_one_sided, mde_rate, mde_ratio, mean, rate_test, wilcoxon_signed_rank, wilson,
};
use crate::summary::{ATTEMPT_ERROR, Count, Evidence, Pairs, RATES};

/// Fewest answered samples per side for a comparison to mean anything.
pub const MIN_ANSWERED: u64 = 20;
/// Fewest values per side for a rank test of a continuous metric.
const MIN_VALUES: usize = 5;
/// Bootstrap resamples for effect intervals.
const RESAMPLES: usize = 2000;
/// Power at which minimum detectable effects are quoted.
const POWER: f64 = 0.8;

/// What a change of a metric means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// Difference of two rates (current − baseline), higher is worse.
    RateIncrease,
    /// Ratio current / baseline, higher is worse (latency, cost).
    RatioIncrease,
    /// Ratio current / baseline, either direction (output length).
    Ratio,
    /// Ratio current / baseline, lower is worse (similarity, grounding support).
    RatioDecrease,
    /// Jensen–Shannon divergence of two distributions.
    Divergence,
}

/// What a comparison concluded about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Significant after BH: judged by its effect (drift at or above the minimum effect,
    /// else negligible).
    Significant,
    /// Not significant, and the worse end of its effect interval is below the minimum
    /// effect (for a metric without one: its effect is, and this size could have detected
    /// the minimum effect): whatever changed is too small to matter.
    BelowMinEffect,
    /// Not significant, and its interval reaches the minimum effect: could not tell. A run
    /// goes on; a gate cannot pass (see `Comparison::undecided`).
    Undecided,
}

/// A metric the comparison could not decide, with what it would take to decide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undecided {
    pub metric: String,
    /// What a person calls it (`over-refusal rate`).
    pub label: String,
    pub baseline: Estimate,
    pub current: Estimate,
    pub effect_kind: EffectKind,
    pub effect: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_ci: Option<[f64; 2]>,
    pub min_effect: f64,
    pub p_adjusted: f64,
    /// The effect moved beyond the minimum effect (the point estimate): reported as
    /// **inconclusive**. Otherwise only its interval reaches the minimum effect.
    pub moved: bool,
    /// The smallest effect these sample sizes detect (80% power, one-sided α), on the
    /// effect's own scale (points of a rate, a ratio); `None` where no power formula applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detectable_effect: Option<f64>,
    /// Answered samples per side (cases, for `case_pass`) at which a change of
    /// `max(|effect|, min_effect)` would be detected with 80% power; `None` when no size up
    /// to 10⁷ would (or no power formula applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_needed: Option<u64>,
    /// What `samples_needed` counts: `samples` or `cases`.
    pub per: String,
    /// One sentence: "over-refusal rate 15.0% vs 0.0% in baseline (+15.0 points, p = 0.04):
    /// inconclusive; about 60 answered samples a side would decide it".
    pub message: String,
}

/// One test of one metric, significant or not (the JSON lists them all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    pub metric: String,
    pub test: String,
    pub statistic: f64,
    pub p: f64,
    pub p_adjusted: f64,
    pub effect_kind: EffectKind,
    pub effect: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_ci: Option<[f64; 2]>,
    /// Cliff's delta (current vs baseline) for continuous metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cliffs_delta: Option<f64>,
    pub min_effect: f64,
    pub critical_effect: f64,
    pub baseline: Estimate,
    pub current: Estimate,
    /// Set when the result is drift.
    pub severity: Option<Severity>,
    /// What the comparison concluded (set with `p_adjusted`).
    pub decision: Decision,
}

/// The comparison of one run (one target) with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub tests: Vec<TestRecord>,
    pub findings: Vec<Finding>,
    /// Every metric not decided (not significant, and not shown below its minimum
    /// effect), those that moved beyond it (`moved`, "inconclusive") first. A gate passes
    /// only when this is empty.
    #[serde(default)]
    pub undecided: Vec<Undecided>,
    /// Too little data to conclude; says what could have been detected.
    pub insufficient: Option<String>,
}

struct Candidate {
    record: TestRecord,
    label: String,
    unit: Option<Unit>,
    /// How to size the comparison that would decide this metric.
    power: Power,
    /// Smallest absolute change (in the metric's unit) worth a finding: a 2 ms endpoint
    /// going to 4 ms doubles, and nobody should be paged for it.
    floor: Option<f64>,
}

fn show_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {p:.3}")
    }
}

fn estimate_rate(c: Count) -> Estimate {
    let (lo, hi) = wilson(c.events, c.n, 0.95);
    Estimate {
        value: c.events as f64 / c.n as f64,
        ci: Some([lo, hi]),
        n: Some(c.n),
    }
}

/// What power formula sizes a metric's comparison.
#[derive(Clone, Copy)]
enum Power {
    /// A rate with this baseline value and these sizes (per side).
    Rate {
        p0: f64,
        n: (u64, u64),
        per_case: bool,
    },
    /// A log-normal-ish metric with this standard deviation of ln(value), these sizes.
    Ratio { log_sd: f64, n: (u64, u64) },
    /// No formula (categorical distributions).
    None,
}

/// Most samples a side worth quoting: above it, "no size would".
const MAX_SAMPLES: u64 = 10_000_000;

/// Smallest `n` (per side) in `1..=MAX_SAMPLES` with `ok(n)`, when `ok` is monotone.
fn smallest_n(ok: impl Fn(u64) -> bool) -> Option<u64> {
    if !ok(MAX_SAMPLES) {
        return None;
    }
    let (mut lo, mut hi) = (0u64, MAX_SAMPLES);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

impl Power {
    /// (the effect these sizes detect, the size per side that detects `effect`).
    fn size(self, kind: EffectKind, effect: f64, alpha: f64) -> (Option<f64>, Option<u64>) {
        match self {
            Power::Rate { p0, n, .. } => {
                let now = mde_rate(p0, n.0, n.1, alpha, POWER);
                let need = smallest_n(|m| mde_rate(p0, m, m, alpha, POWER) <= effect);
                (now.is_finite().then_some(now), need)
            }
            Power::Ratio { log_sd, n } => {
                // The effect as a ratio above 1 on the log scale, whatever its kind.
                let ratio = match kind {
                    EffectKind::RatioDecrease => 1.0 / (1.0 - effect).max(1e-12),
                    _ => effect,
                };
                let now = mde_ratio(log_sd, n.0, n.1, alpha, POWER);
                let need = smallest_n(|m| mde_ratio(log_sd, m, m, alpha, POWER) <= ratio);
                let now = match kind {
                    EffectKind::RatioDecrease => 1.0 - 1.0 / now,
                    _ => now,
                };
                (now.is_finite().then_some(now), need)
            }
            Power::None => (None, None),
        }
    }
}

/// Standard deviation of ln(value) over the positive values.
fn log_sd(values: &[f64]) -> f64 {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| **v > 0.0)
        .map(|v| v.ln())
        .collect();
    match (mean(&logs), logs.len()) {
        (Some(m), n) if n > 1 => {
            (logs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        }
        _ => f64::NAN,
    }
}

/// How bad an effect is, on the scale its thresholds are written in (a ratio 1.2, a rate
/// increase 0.02, a relative score drop 0.05): bigger is worse.
fn badness(kind: EffectKind, effect: f64) -> f64 {
    match kind {
        EffectKind::RateIncrease | EffectKind::RatioIncrease | EffectKind::Divergence => effect,
        EffectKind::Ratio => effect.max(1.0 / effect),
        EffectKind::RatioDecrease => 1.0 - effect,
    }
}

fn rate_label(name: &str) -> String {
    match name {
        "error" => "error rate",
        "sample_fail" => "sample failure rate",
        "over_refusal" => "over-refusal rate",
        "under_refusal" => "under-refusal rate",
        "format_failure" => "format failure rate",
        "hallucination" => "hallucination rate",
        "truncation" => "truncation rate",
        "empty_answer" => "empty-answer rate",
        "safety_flag" => "safety-flag rate",
        "judge_fail" => "judge failure rate",
        // Tone and output character (issue 13).
        "tone_fail" => "tone expectation failure rate",
        "language_mismatch" => "wrong-language answer rate",
        "hedging" => "hedging answer rate",
        "exclamation" => "exclaiming answer rate",
        "all_caps" => "all-caps answer rate",
        "markdown" => "Markdown use",
        "list" => "list use",
        "code_fence" => "code-fence use",
        ATTEMPT_ERROR => "attempt error rate (retries included)",
        other => match other
            .strip_prefix(ATTEMPT_ERROR)
            .and_then(|c| c.strip_prefix('/'))
        {
            Some(class) => return format!("attempt error rate ({class})"),
            None => other,
        },
    }
    .to_string()
}

#[allow(clippy::too_many_arguments)]
fn record(
    metric: &str,
    t: TestResult,
    kind: EffectKind,
    effect: f64,
    effect_ci: Option<[f64; 2]>,
    thresholds: (f64, f64),
    baseline: Estimate,
    current: Estimate,
) -> TestRecord {
    TestRecord {
        metric: metric.to_string(),
        test: t.test.to_string(),
        statistic: t.statistic,
        p: t.p,
        p_adjusted: t.p,
        effect_kind: kind,
        effect,
        effect_ci,
        cliffs_delta: None,
        min_effect: thresholds.0,
        critical_effect: thresholds.1,
        baseline,
        current,
        severity: None,
        decision: Decision::Undecided,
    }
}

/// Rates: Fisher's exact test when any expected count is under 5, else the pooled
/// two-proportion z test (chi-square); one-sided towards a higher rate. Effect: difference
/// of proportions with Newcombe's interval. A rate with no event on either side carries no
/// signal and is left out of the family (filtering on the margin is independent of the
/// conditional test under the null, so it keeps the error rate).
///
/// With pairs (two targets in one run), exact McNemar on the pairs that flipped instead,
/// one-sided: the binomial tail of the flips towards worse.
fn rates(
    b: &Evidence,
    c: &Evidence,
    pairs: Option<&Pairs>,
    drift: &Drift,
    out: &mut Vec<Candidate>,
) {
    // Per-sample rates, then the attempt error rate overall and per class (a class seen on
    // one side only has 0 events out of the other side's attempts). Attempts of one sample
    // are not independent (a retry follows a failure), so its test leans anti-conservative;
    // its minimum effect still has to be met.
    let per_class = format!("{ATTEMPT_ERROR}/");
    let classes: std::collections::BTreeSet<&str> = b
        .rates
        .keys()
        .chain(c.rates.keys())
        .map(String::as_str)
        .filter(|k| k.starts_with(&per_class))
        .collect();
    let names = RATES
        .into_iter()
        .chain(std::iter::once(ATTEMPT_ERROR))
        .chain(classes);
    let count = |e: &Evidence, name: &str| -> Option<Count> {
        match e.rates.get(name) {
            Some(&c) => Some(c),
            None if name.starts_with(&per_class) => e
                .rates
                .get(ATTEMPT_ERROR)
                .map(|a| Count { events: 0, n: a.n }),
            None => None,
        }
    };
    for name in names {
        let (Some(x), Some(y)) = (count(b, name), count(c, name)) else {
            continue;
        };
        if x.n < MIN_VALUES as u64
            || y.n < MIN_VALUES as u64
            || x.events.saturating_add(y.events) == 0
        {
            continue;
        }
        let paired = pairs
            .and_then(|p| p.flips.get(name))
            .filter(|f| f.pairs >= MIN_VALUES as u64);
        let (t, diff, ci) = match paired {
            Some(f) => {
                let diff = (f.to_bad as f64 - f.to_good as f64) / f.pairs as f64;
                (mcnemar_exact_one_sided(f.to_bad, f.to_good), diff, None)
            }
            None => {
                let t = rate_test(x.events, x.n, y.events, y.n, Alternative::Greater);
                let (diff, lo, hi) = diff_interval(x.events, x.n, y.events, y.n, 0.95);
                (t, diff, Some([lo, hi]))
            }
        };
        out.push(Candidate {
            record: record(
                name,
                t,
                EffectKind::RateIncrease,
                diff,
                ci,
                drift.rate_delta,
                estimate_rate(x),
                estimate_rate(y),
            ),
            label: rate_label(name),
            unit: None,
            floor: None,
            power: Power::Rate {
                p0: x.events as f64 / x.n as f64,
                n: match paired {
                    Some(f) => (f.pairs, f.pairs),
                    None => (x.n, y.n),
                },
                per_case: false,
            },
        });
    }
}

/// Paired case outcomes: the same case ids in both runs, exact McNemar on the cases that
/// flipped between pass and fail, one-sided towards more failing cases like the other paired
/// rates. Effect: net share of cases that went from pass to fail.
fn cases(b: &Evidence, c: &Evidence, drift: &Drift, out: &mut Vec<Candidate>) {
    let (mut flips_to_fail, mut flips_to_pass, mut n, mut passed_before, mut passed_now) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (key, before) in &b.cases {
        let Some(now) = c.cases.get(key) else {
            continue;
        };
        if before.samples == 0 || now.samples == 0 {
            continue;
        }
        n += 1;
        passed_before += u64::from(before.passed());
        passed_now += u64::from(now.passed());
        match (before.passed(), now.passed()) {
            (true, false) => flips_to_fail += 1,
            (false, true) => flips_to_pass += 1,
            _ => {}
        }
    }
    if n < MIN_VALUES as u64 || flips_to_fail + flips_to_pass == 0 {
        return;
    }
    let t = mcnemar_exact_one_sided(flips_to_fail, flips_to_pass);
    let effect = (flips_to_fail as f64 - flips_to_pass as f64) / n as f64;
    let share = |k: u64| Estimate {
        value: k as f64 / n as f64,
        ci: Some({
            let (l, h) = wilson(k, n, 0.95);
            [l, h]
        }),
        n: Some(n),
    };
    out.push(Candidate {
        record: record(
            "case_pass",
            t,
            EffectKind::RateIncrease,
            effect,
            None,
            drift.rate_delta,
            // The failing share, so that values, effect and message all go up when worse.
            share(n - passed_before),
            share(n - passed_now),
        ),
        label: "share of cases failing".into(),
        unit: None,
        floor: None,
        power: Power::Rate {
            p0: (n - passed_before) as f64 / n as f64,
            n: (n, n),
            per_case: true,
        },
    });
}

/// A continuous metric: (evidence name, finding name, label, effect kind, warning and
/// critical effects, unit, smallest absolute change worth a finding).
type ContinuousMetric<'a> = (
    &'a str,
    &'a str,
    &'a str,
    EffectKind,
    (f64, f64),
    Unit,
    Option<f64>,
);

/// Continuous metrics: Mann–Whitney U for a shift (one-sided towards worse where there is a
/// worse side) and two-sample Kolmogorov–Smirnov for a change of shape (two-sided). Effects,
/// each with a percentile bootstrap interval: the ratio of medians for the shift, and for the
/// shape the ratio of the tail that hurts — p95 where higher is worse (latency), p5 where
/// lower is worse (scores: a few answers collapsing). Cliff's delta alongside. With pairs,
/// the shift is tested with the Wilcoxon signed-rank test on the paired differences instead.
fn continuous(
    b: &Evidence,
    c: &Evidence,
    pairs: Option<&Pairs>,
    drift: &Drift,
    seed: u64,
    out: &mut Vec<Candidate>,
) {
    let has = |e: &Evidence, name: &str| e.continuous.get(name).is_some_and(|r| !r.is_empty());
    let length = if has(b, "output_tokens") && has(c, "output_tokens") {
        "output_tokens"
    } else {
        "output_chars"
    };
    let latency_floor = Some(drift.latency_floor_ms);
    let metrics: [ContinuousMetric; 9] = [
        (
            "latency_ms",
            "latency",
            "latency",
            EffectKind::RatioIncrease,
            drift.latency_ratio,
            Unit::Millis,
            latency_floor,
        ),
        (
            "ttft_ms",
            "ttft",
            "time to first token",
            EffectKind::RatioIncrease,
            drift.latency_ratio,
            Unit::Millis,
            latency_floor,
        ),
        (
            "cost_usd",
            "cost",
            "cost per request",
            EffectKind::RatioIncrease,
            drift.cost_ratio,
            Unit::Usd,
            None,
        ),
        (
            length,
            "output_length",
            "output length",
            EffectKind::Ratio,
            drift.length_ratio,
            Unit::Count,
            None,
        ),
        (
            "similarity",
            "similarity",
            "similarity to the reference",
            EffectKind::RatioDecrease,
            drift.score_drop,
            Unit::Score,
            None,
        ),
        (
            "cosine",
            "cosine",
            "embedding similarity",
            EffectKind::RatioDecrease,
            drift.score_drop,
            Unit::Score,
            None,
        ),
        (
            "grounding_support",
            "grounding_support",
            "grounding support",
            EffectKind::RatioDecrease,
            drift.score_drop,
            Unit::Score,
            None,
        ),
        // Tone and output character (issue 13): a less positive tone is worse (compared on
        // (compound + 1) / 2, shown as the compound); a reading grade moving either way is
        // a change of character, held to the output length's ratios.
        (
            "tone_sentiment",
            "sentiment",
            "sentiment",
            EffectKind::RatioDecrease,
            drift.score_drop,
            Unit::Sentiment,
            None,
        ),
        (
            "tone_reading_grade",
            "reading_grade",
            "reading grade",
            EffectKind::Ratio,
            drift.length_ratio,
            Unit::Grade,
            None,
        ),
    ];
    // issue 13, latency by component: each `component/<name>` both sides measured.
    let components = component_metrics(b, c);
    let components = components.iter().map(|(key, label)| {
        let key = key.as_str();
        let (kind, thresholds) = (EffectKind::RatioIncrease, drift.latency_ratio);
        (
            key,
            key,
            label.as_str(),
            kind,
            thresholds,
            Unit::Millis,
            latency_floor,
        )
    });
    for (i, (source, metric, label, kind, thresholds, unit, floor)) in
        metrics.into_iter().chain(components).enumerate()
    {
        let (Some(x), Some(y)) = (b.continuous.get(source), c.continuous.get(source)) else {
            continue;
        };
        let (x, y) = (&x.values, &y.values);
        if x.len() < MIN_VALUES || y.len() < MIN_VALUES {
            continue;
        }
        let first = x[0];
        if x.iter().chain(y.iter()).all(|v| *v == first) {
            continue; // constant on both sides: nothing moved
        }
        let (shift_alt, tail) = match kind {
            EffectKind::RatioIncrease => (Alternative::Greater, ("p95", 0.95)),
            EffectKind::RatioDecrease => (Alternative::Less, ("p05", 0.05)),
            _ => (Alternative::TwoSided, ("p95", 0.95)),
        };
        // scipy's convention: `Greater` means the first sample (current) is larger.
        let paired = pairs
            .and_then(|p| p.values.get(source))
            .filter(|v| v.len() >= MIN_VALUES);
        let shift = match paired {
            Some(v) => {
                let (before, now): (Vec<f64>, Vec<f64>) = v.iter().copied().unzip();
                wilcoxon_signed_rank(&now, &before, shift_alt)
            }
            None => mann_whitney_u(y, x, shift_alt),
        };
        let shape = ks_2samp(y, x, Alternative::TwoSided);
        let delta = cliffs_delta(x, y);
        for (j, (name, t, q, what)) in [
            (
                format!("{metric}_median"),
                shift,
                0.5,
                "median ".to_string(),
            ),
            (
                format!("{metric}_{}", tail.0),
                shape,
                tail.1,
                format!("{} ", tail.0),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let stat = if q == 0.5 {
                Statistic::Median
            } else {
                Statistic::Quantile(q)
            };
            let (sb, sc) = (sorted_quantile(x, q), sorted_quantile(y, q));
            let seed = seed.wrapping_add((2 * i + j) as u64);
            let (ratio, lo, hi) =
                bootstrap_ratio(x, y, stat, RESAMPLES, 0.95, seed).unwrap_or((1.0, 1.0, 1.0));
            let estimate = |v: f64, n: usize| Estimate {
                value: v,
                ci: None,
                n: Some(n as u64),
            };
            let mut r = record(
                &name,
                t,
                kind,
                ratio,
                Some([lo, hi]),
                thresholds,
                estimate(sb, x.len()),
                estimate(sc, y.len()),
            );
            r.cliffs_delta = Some(delta);
            out.push(Candidate {
                record: r,
                label: format!("{what}{label}"),
                unit: Some(unit),
                floor,
                power: Power::Ratio {
                    log_sd: log_sd(x),
                    n: (x.len() as u64, y.len() as u64),
                },
            });
        }
    }
}

/// issue 13: the `component/<name>` continuous metrics present on both sides, with what a
/// person calls them ("retrieval time"); judged like latency (ratio, higher is worse, the
/// latency floor).
fn component_metrics(b: &Evidence, c: &Evidence) -> Vec<(String, String)> {
    use crate::summary::components::EVIDENCE_PREFIX;
    b.continuous
        .keys()
        .filter(|key| key.starts_with(EVIDENCE_PREFIX) && c.continuous.contains_key(*key))
        .map(|key| {
            let name = key.trim_start_matches(EVIDENCE_PREFIX).replace('_', " ");
            (key.clone(), format!("{name} time"))
        })
        .collect()
}

fn sorted_quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    crate::stats::quantile(&v, q).unwrap_or(f64::NAN)
}

/// Categorical distributions: chi-square test of homogeneity, effect Jensen–Shannon
/// divergence. Finish reasons are one per answer, so the plain test holds. Words are not
/// independent draws — the words of one answer move together — so the vocabulary's
/// statistic is divided by the mean words per answer (the worst-case design effect, a
/// first-order Rao–Scott correction): conservative, and drift still needs JS ≥ the minimum.
/// The expected count under which the chi-square approximation is not trusted (Cochran).
const MIN_EXPECTED: f64 = 5.0;

/// Whether the finish reasons of two runs (`rb`, `rc`: counts per reason) differ. Pearson's
/// chi-square on the 2 × k table, which is anti-conservative when expected counts are small
/// (a reason seen a handful of times): the rarest reasons are then pooled, two at a time,
/// until every expected count is at least 5 or two columns are left, and a 2 × 2 table with
/// a small expected count gets Fisher's exact test instead (as the rate tests do).
fn finish_reason_test(rb: &[u64], rc: &[u64]) -> Option<TestResult> {
    let mut columns: Vec<[u64; 2]> = rb.iter().zip(rc).map(|(&b, &c)| [b, c]).collect();
    let (nb, nc) = (rb.iter().sum::<u64>(), rc.iter().sum::<u64>());
    let total = (nb + nc) as f64;
    let sparse = |columns: &[[u64; 2]]| {
        columns.iter().any(|[b, c]| {
            let column = (b + c) as f64;
            column * nb.min(nc) as f64 / total < MIN_EXPECTED
        })
    };
    while columns.len() > 2 && sparse(&columns) {
        columns.sort_by_key(|[b, c]| std::cmp::Reverse(b + c));
        let [b, c] = columns.pop()?;
        let last = columns.last_mut()?;
        *last = [last[0] + b, last[1] + c];
    }
    if columns.len() == 2 && sparse(&columns) {
        let [[b0, c0], [b1, c1]] = [columns[0], columns[1]];
        return Some(fisher_exact([c0, c1, b0, b1], Alternative::TwoSided));
    }
    let (stat, _, p) = chi2_contingency(&[
        columns.iter().map(|[b, _]| *b).collect(),
        columns.iter().map(|[_, c]| *c).collect(),
    ])?;
    Some(TestResult {
        test: "chi_square",
        statistic: stat,
        p,
    })
}

fn categorical(b: &Evidence, c: &Evidence, drift: &Drift, out: &mut Vec<Candidate>) {
    let keys: std::collections::BTreeSet<&String> = b
        .finish_reasons
        .keys()
        .chain(c.finish_reasons.keys())
        .collect();
    if keys.len() > 1 {
        let row = |e: &Evidence| {
            keys.iter()
                .map(|k| e.finish_reasons.get(*k).copied().unwrap_or(0))
                .collect::<Vec<u64>>()
        };
        let (rb, rc) = (row(b), row(c));
        if let Some(t) = finish_reason_test(&rb, &rc) {
            out.push(divergence(
                ("finish_reason", "finish-reason distribution"),
                t,
                (&rb, &rc),
                drift,
            ));
        }
    }
    let (vb, vc) = (&b.vocabulary, &c.vocabulary);
    if vb.answers == 0 || vc.answers == 0 {
        return;
    }
    let common: Vec<&String> = vb.top.keys().filter(|w| vc.top.contains_key(*w)).collect();
    let row = |v: &crate::summary::Vocabulary| {
        let mut r: Vec<u64> = common.iter().map(|w| v.top[*w]).collect();
        r.push(v.words - r.iter().sum::<u64>());
        r
    };
    let (rb, rc) = (row(vb), row(vc));
    let Some((stat, dof, _)) = chi2_contingency(&[rb.clone(), rc.clone()]) else {
        return;
    };
    let per_answer = (vb.words as f64 / vb.answers as f64)
        .max(vc.words as f64 / vc.answers as f64)
        .max(1.0);
    let corrected = stat / per_answer;
    let p = ChiSquared::new(dof as f64)
        .map(|d| d.sf(corrected))
        .unwrap_or(1.0);
    let t = TestResult {
        test: "chi_square_design_corrected",
        statistic: corrected,
        p,
    };
    out.push(divergence(
        ("vocabulary", "output vocabulary"),
        t,
        (&rb, &rc),
        drift,
    ));
}

/// A categorical metric's candidate: its test, and the Jensen–Shannon divergence of the
/// two rows of counts as the effect.
fn divergence(
    (metric, label): (&str, &str),
    t: TestResult,
    (rb, rc): (&[u64], &[u64]),
    drift: &Drift,
) -> Candidate {
    let to_f = |r: &[u64]| r.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let js = js_divergence(&to_f(rb), &to_f(rc)).unwrap_or(0.0);
    Candidate {
        record: record(
            metric,
            t,
            EffectKind::Divergence,
            js,
            None,
            drift.divergence,
            Estimate::value(0.0),
            Estimate::value(js),
        ),
        label: label.into(),
        unit: None,
        floor: None,
        power: Power::None,
    }
}

fn message(c: &Candidate, severity: Severity) -> String {
    format!("{} — {}", describe(c), severity.as_str())
}

/// The change of a metric in one phrase, with its adjusted p.
fn describe(c: &Candidate) -> String {
    let r = &c.record;
    let p = show_p(r.p_adjusted);
    match r.effect_kind {
        EffectKind::RateIncrease => format!(
            "{} {} vs {} in baseline ({:+.1} points, {p})",
            c.label,
            format_rate(r.current.value),
            format_rate(r.baseline.value),
            r.effect * 100.0
        ),
        EffectKind::RatioIncrease | EffectKind::Ratio | EffectKind::RatioDecrease => {
            let unit = c.unit.unwrap_or(Unit::Count);
            format!(
                "{} {} vs {} in baseline ({}, {p})",
                c.label,
                show(unit, r.current.value),
                show(unit, r.baseline.value),
                format_ratio(r.effect)
            )
        }
        EffectKind::Divergence => format!(
            "{} changed: Jensen–Shannon divergence {:.3} ({p})",
            c.label, r.effect
        ),
    }
}

/// The worse end of an effect interval, on the `badness` scale.
fn worst_end(kind: EffectKind, ci: [f64; 2]) -> f64 {
    badness(kind, ci[0]).max(badness(kind, ci[1]))
}

/// The undecided entry of a candidate that was not significant and not shown small.
fn undecided(c: &Candidate, drift: &Drift) -> Undecided {
    let r = &c.record;
    let bad = badness(r.effect_kind, r.effect);
    let moved = bad >= r.min_effect;
    let target = if moved { bad } else { r.min_effect };
    // On the `badness` scale: a rate difference, a ratio above 1, a relative drop.
    let (detectable, needed) = c.power.size(r.effect_kind, target, drift.alpha);
    let per = match c.power {
        Power::Rate { per_case: true, .. } => "cases",
        _ => "samples",
    };
    let what = if moved {
        "inconclusive"
    } else {
        "undecided (its interval reaches the minimum effect)"
    };
    // The power model is the test's (a shift for medians and rates): when it says fewer
    // samples than the run already has would do, this run was unlucky or the change is in
    // a few values (a tail), so say that rather than ask for fewer samples than were sent.
    let have = match (per, r.current.n, r.baseline.n) {
        ("samples", Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    let decide = match (needed, have) {
        (Some(n), Some(h)) if n <= h => format!(
            "{h} answered samples a side were not enough this time, more would decide it (a \
             shift this large needs about {n}: the change may be in a few values)"
        ),
        (Some(n), _) => format!("about {n} answered {per} a side would decide it"),
        (None, _) => "no practical sample size would decide it".to_string(),
    };
    Undecided {
        metric: r.metric.clone(),
        label: c.label.clone(),
        baseline: r.baseline,
        current: r.current,
        effect_kind: r.effect_kind,
        effect: r.effect,
        effect_ci: r.effect_ci,
        min_effect: r.min_effect,
        p_adjusted: r.p_adjusted,
        moved,
        detectable_effect: detectable,
        samples_needed: needed,
        per: per.to_string(),
        message: format!("{}: {what}; {decide}", describe(c)),
    }
}

/// The informational finding of an inconclusive metric (one that moved beyond its minimum
/// effect without being significant): a run shows it and goes on.
fn inconclusive_finding(u: &Undecided, target: &str) -> Finding {
    Finding {
        metric: u.metric.clone(),
        kind: FindingKind::Inconclusive,
        target: target.to_string(),
        baseline: Some(u.baseline),
        current: Some(u.current),
        test: None,
        statistic: None,
        p: None,
        p_adjusted: Some(u.p_adjusted),
        effect: Some(u.effect),
        min_effect: Some(u.min_effect),
        severity: Severity::Info,
        message: u.message.clone(),
        case: None,
    }
}

/// Compares `current` with `baseline` for `target`; `pairs` when both were probed in one run.
pub fn compare(
    baseline: &Evidence,
    current: &Evidence,
    pairs: Option<&Pairs>,
    drift: &Drift,
    target: &str,
    seed: u64,
) -> Comparison {
    let answered = |e: &Evidence| e.rates.get("sample_fail").map_or(0, |c| c.n);
    let (nb, nc) = (answered(baseline), answered(current));
    let mut candidates = Vec::new();
    rates(baseline, current, pairs, drift, &mut candidates);
    cases(baseline, current, drift, &mut candidates);
    continuous(baseline, current, pairs, drift, seed, &mut candidates);
    categorical(baseline, current, drift, &mut candidates);

    let adjusted = benjamini_hochberg(&candidates.iter().map(|c| c.record.p).collect::<Vec<_>>());
    let mut findings = Vec::new();
    let mut open = Vec::new();
    for (c, p_adj) in candidates.iter_mut().zip(adjusted) {
        let r = &mut c.record;
        r.p_adjusted = p_adj;
        // Thresholds are sizes of change on the same scale as `badness`.
        let bad = badness(r.effect_kind, r.effect);
        let too_small = c
            .floor
            .is_some_and(|floor| (r.current.value - r.baseline.value).abs() < floor);
        if bad.is_nan() || too_small {
            r.decision = Decision::BelowMinEffect;
            continue;
        }
        if p_adj > drift.alpha {
            // Not significant: decided only when the change is shown to be small — the worse
            // end of its interval below the minimum effect. A metric without an interval
            // (paired rates, case outcomes) is shown small only when this size could have
            // detected its minimum effect; a categorical divergence (no size formula) by
            // its effect.
            let shown_small = match r.effect_ci {
                Some(ci) => worst_end(r.effect_kind, ci) < r.min_effect,
                None => match c.power {
                    Power::None => bad < r.min_effect,
                    power => {
                        bad < r.min_effect
                            && power
                                .size(r.effect_kind, r.min_effect, drift.alpha)
                                .0
                                .is_some_and(|detectable| detectable <= r.min_effect)
                    }
                },
            };
            r.decision = if shown_small {
                Decision::BelowMinEffect
            } else {
                Decision::Undecided
            };
            if r.decision == Decision::Undecided {
                open.push(undecided(c, drift));
            }
            continue;
        }
        r.decision = Decision::Significant;
        // Below the minimum effect nothing is a finding, whatever the critical effect says.
        r.severity = if bad < r.min_effect {
            None
        } else if bad >= r.critical_effect {
            Some(Severity::Critical)
        } else {
            Some(Severity::Warning)
        };
        if let Some(severity) = r.severity {
            let msg = message(c, severity);
            let r = &c.record;
            findings.push(Finding {
                metric: r.metric.clone(),
                kind: FindingKind::Drift,
                target: target.to_string(),
                baseline: Some(r.baseline),
                current: Some(r.current),
                test: Some(r.test.clone()),
                statistic: Some(r.statistic),
                p: Some(r.p),
                p_adjusted: Some(r.p_adjusted),
                effect: Some(r.effect),
                min_effect: Some(r.min_effect),
                severity,
                message: msg,
                case: None,
            });
        }
    }
    // Inconclusive first, then by how far the change went.
    open.sort_by_key(|u| std::cmp::Reverse(u.moved));
    findings.extend(
        open.iter()
            .filter(|u| u.moved)
            .map(|u| inconclusive_finding(u, target)),
    );
    let insufficient = (nb < MIN_ANSWERED || nc < MIN_ANSWERED)
        .then(|| insufficient_message(baseline, current, drift, nb, nc));
    if let Some(why) = &insufficient {
        findings.push(insufficient_finding(target, why));
    }
    Comparison {
        tests: candidates.into_iter().map(|c| c.record).collect(),
        findings,
        undecided: open,
        insufficient,
    }
}

/// The finding that stands for "too little data to compare" (the verdict says it too).
pub fn insufficient_finding(target: &str, why: &str) -> Finding {
    Finding::plain(
        "baseline_comparison",
        FindingKind::InsufficientData,
        target,
        Severity::Warning,
        why.to_string(),
    )
}

/// "Too little data" with what the current sample sizes could detect.
fn insufficient_message(b: &Evidence, c: &Evidence, drift: &Drift, nb: u64, nc: u64) -> String {
    let p0 = b
        .rates
        .get("sample_fail")
        .filter(|r| r.n > 0)
        .map_or(0.0, |r| r.events as f64 / r.n as f64);
    let rate = mde_rate(p0, nb, nc, drift.alpha, POWER);
    let logs = |e: &Evidence| {
        e.continuous
            .get("latency_ms")
            .map(|r| {
                r.values
                    .iter()
                    .filter(|v| **v > 0.0)
                    .map(|v| v.ln())
                    .collect::<Vec<f64>>()
            })
            .unwrap_or_default()
    };
    let lb = logs(b);
    let sd = match (mean(&lb), lb.len()) {
        (Some(m), n) if n > 1 => {
            (lb.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        }
        _ => f64::NAN,
    };
    let ratio = mde_ratio(
        sd,
        lb.len() as u64,
        logs(c).len() as u64,
        drift.alpha,
        POWER,
    );
    let show = |x: f64, f: &dyn Fn(f64) -> String| {
        if x.is_finite() {
            f(x)
        } else {
            "no change".to_string()
        }
    };
    format!(
        "insufficient data: {nc} answered samples now vs {nb} in the baseline (need {MIN_ANSWERED} each); \
         at these sizes only a pass-rate drop of {} or a latency change of {} could be detected \
         (80% power, α = {})",
        show(rate, &|r| format!("{:.0} points", r * 100.0)),
        show(ratio, &|r| format!("×{r:.2}")),
        drift.alpha,
    )
}
