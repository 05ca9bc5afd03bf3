//! The sequential gate's decisions (issue 15): after every round of a gate run (one sample
//! per case on the candidate and on the baseline target, paired case by case), every metric
//! is tested with an anytime-valid method, so testing after every round does not inflate
//! false alarms, and the gate stops as soon as the answer is clear, either way:
//!
//! - **fail** (or warn, by severity) as soon as e-BH at `drift.alpha` rejects "no worse" for
//!   a metric **and** its estimate is at least the metric's minimum effect (the same `Drift`
//!   thresholds the fixed-N comparison uses). The estimate, not the sequence's far end,
//!   is held to the floor: that is the fixed-N comparison's own rule (significant, and at
//!   least the minimum effect), so both gates flag the same changes, and the error rate is
//!   already held by e-BH; requiring the whole sequence beyond the floor would mostly
//!   spend calls on changes that are plainly there.
//! - **pass** as soon as every metric's confidence sequence excludes its minimum effect on
//!   the bad side (the change, if any, is too small to matter).
//! - otherwise go on; at the last round what is undecided is `insufficient_data`.
//!
//! Which method each metric uses, and why:
//!
//! - **Rates** (error, sample failure, refusals, format failure, hallucination, truncation,
//!   empty answers, safety flags, judge failures): the paired difference per pair
//!   (candidate event − baseline event ∈ {−1, 0, 1}) → a betting e-process and confidence
//!   sequence for its mean (`stats::sequential::betting`, Waudby-Smith & Ramdas 2023):
//!   aGRAPA bets for the e-value it fails on, predictable plug-in bets for the sequence
//!   it passes on.
//!   Bounded data: exact at every size, no CLT for rare events. A rate with no event on
//!   either side so far carries no signal and is left out of the family, as the fixed-N
//!   comparison leaves it out.
//! - **Continuous** metrics (latency, time to first token, cost per request on the log
//!   scale — ratios, like the fixed-N effects; output length on the log scale, two-sided;
//!   similarity, embedding similarity and grounding support as the paired drop): the
//!   asymptotic confidence sequence for the mean paired difference, the normal-mixture
//!   boundary with the empirical variance (`stats::sequential::normal_mixture`, Howard et
//!   al. 2021; Waudby-Smith et al. 2021). Unbounded data, where no betting bound applies;
//!   the mixture martingale that defines the sequence is its e-value, so e-BH can combine
//!   the two kinds. The ratio tested is that of geometric means (the mean of log ratios),
//!   not of medians as in the fixed-N comparison: a mean is what a CLT sequence covers.
//! - **Across metrics**: e-BH (Wang & Ramdas 2022) at `drift.alpha`, valid under any
//!   dependence between the metrics.

use serde::{Deserialize, Serialize};

use super::{EffectKind, Estimate, Finding, FindingKind, Severity, format_rate, format_ratio};
use crate::config::Drift;
use crate::stats::sequential::{Betting, MeanCs, Side, e_bh};
use crate::summary::{CONTINUOUS, Measures, RATES};

/// Fewest pairs a metric needs before it is tested or can pass (the fixed-N comparison's
/// `MIN_ANSWERED`): a sequence over a handful of pairs says nothing either way.
pub const MIN_PAIRS: usize = 20;
/// Variance floor of a continuous difference (see `MeanCs::of`).
const VAR_FLOOR: f64 = 1e-12;

/// How a metric's paired difference is formed and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// candidate event − baseline event, in points of rate.
    Rate,
    /// ln(candidate) − ln(baseline), higher is worse (latency, cost).
    LogIncrease,
    /// ln(candidate) − ln(baseline), either side is bad (length).
    LogEither,
    /// baseline − candidate (a drop of a score), relative to the baseline's mean.
    Drop,
}

/// Where a metric's value comes from in `Measures`.
#[derive(Debug, Clone, Copy)]
enum Source {
    Rate(usize),
    Value(usize),
    /// Output tokens where both sides have them, else characters.
    Length,
}

/// A continuous metric: (name, label, source, scale, thresholds, latency floor applies).
type ContinuousSpec = (
    &'static str,
    &'static str,
    Source,
    Scale,
    fn(&Drift) -> (f64, f64),
    bool,
);

struct Spec {
    name: &'static str,
    label: &'static str,
    source: Source,
    scale: Scale,
    /// (warning, critical) minimum effects on the display scale, and the absolute floor.
    thresholds: fn(&Drift) -> (f64, f64),
    /// A latency change smaller than `latency_floor_ms` is not a finding.
    ms_floor: bool,
}

fn value_index(name: &str) -> usize {
    CONTINUOUS.iter().position(|c| *c == name).unwrap_or(0)
}

fn specs() -> Vec<Spec> {
    let rate_label = |name: &str| -> &'static str {
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
            _ => "rate",
        }
    };
    let mut out: Vec<Spec> = RATES
        .iter()
        .enumerate()
        .map(|(i, name)| Spec {
            name,
            label: rate_label(name),
            source: Source::Rate(i),
            scale: Scale::Rate,
            thresholds: |d| d.rate_delta,
            ms_floor: false,
        })
        .collect();
    let continuous: [ContinuousSpec; 7] = [
        (
            "latency",
            "latency",
            Source::Value(value_index("latency_ms")),
            Scale::LogIncrease,
            |d| d.latency_ratio,
            true,
        ),
        (
            "ttft",
            "time to first token",
            Source::Value(value_index("ttft_ms")),
            Scale::LogIncrease,
            |d| d.latency_ratio,
            true,
        ),
        (
            "cost",
            "cost per request",
            Source::Value(value_index("cost_usd")),
            Scale::LogIncrease,
            |d| d.cost_ratio,
            false,
        ),
        (
            "output_length",
            "output length",
            Source::Length,
            Scale::LogEither,
            |d| d.length_ratio,
            false,
        ),
        (
            "similarity",
            "similarity to the reference",
            Source::Value(value_index("similarity")),
            Scale::Drop,
            |d| d.score_drop,
            false,
        ),
        (
            "cosine",
            "embedding similarity",
            Source::Value(value_index("cosine")),
            Scale::Drop,
            |d| d.score_drop,
            false,
        ),
        (
            "grounding_support",
            "grounding support",
            Source::Value(value_index("grounding_support")),
            Scale::Drop,
            |d| d.score_drop,
            false,
        ),
    ];
    out.extend(
        continuous
            .into_iter()
            .map(|(name, label, source, scale, thresholds, ms_floor)| Spec {
                name,
                label,
                source,
                scale,
                thresholds,
                ms_floor,
            }),
    );
    out
}

/// One metric's paired stream.
struct Stream {
    spec: Spec,
    betting: Betting,
    diffs: Vec<f64>,
    baseline_sum: f64,
    current_sum: f64,
    /// Events on each side (rates).
    events: (u64, u64),
    /// The running intersection of the sequence, in the difference's own scale.
    lower: f64,
    upper: f64,
}

/// What was concluded about one metric at the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricDecision {
    /// Rejected by e-BH and at least the minimum effect.
    Drift,
    /// The sequence excludes the minimum effect on the bad side.
    BelowMinEffect,
    /// No event on either side (rates): nothing to test, as in the fixed-N comparison.
    NoSignal,
    /// Neither yet.
    Undecided,
}

/// A metric's confidence sequence at the stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSequence {
    pub metric: String,
    pub label: String,
    /// `betting` or `normal_mixture`.
    pub method: String,
    pub pairs: u64,
    pub baseline: f64,
    pub current: f64,
    pub effect_kind: EffectKind,
    /// On the scale of the fixed-N effects: points of rate, a ratio, a relative drop.
    pub effect: f64,
    /// The confidence sequence of the effect at the stop (running intersection); an
    /// unbounded end is `null` in JSON, read back as ∓∞.
    #[serde(deserialize_with = "cs_ends")]
    pub cs: [f64; 2],
    pub min_effect: f64,
    pub critical_effect: f64,
    /// The e-value against "no worse" (two-sided for output length).
    pub e_value: f64,
    /// Rejected by e-BH at `alpha`.
    pub rejected: bool,
    pub decision: MetricDecision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// Reads `[low, high]` where JSON wrote an infinite end as `null`.
fn cs_ends<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
    let [lo, hi] = <[Option<f64>; 2]>::deserialize(d)?;
    Ok([lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY)])
}

/// Where the sequential gate stands after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequentialDecision {
    /// A change significant and beyond its minimum effect.
    Fail,
    /// Every metric shown smaller than its minimum effect.
    Pass,
    /// Not yet (or, at the last round, not at all: `insufficient_data`).
    Undecided,
}

/// The assessment after one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub round: u32,
    pub decision: SequentialDecision,
    pub metrics: Vec<MetricSequence>,
}

/// The sequential monitor of one gate run: fed pairs, asked after every round.
pub struct Monitor {
    drift: Drift,
    /// Pairs the run plans (ρ of the normal mixture is tuned at half of them).
    planned_pairs: f64,
    streams: Vec<Stream>,
}

impl Monitor {
    pub fn new(drift: &Drift, planned_pairs: u64) -> Monitor {
        let streams = specs()
            .into_iter()
            .map(|spec| Stream {
                spec,
                betting: Betting::new(drift.alpha),
                diffs: Vec::new(),
                baseline_sum: 0.0,
                current_sum: 0.0,
                events: (0, 0),
                lower: f64::NEG_INFINITY,
                upper: f64::INFINITY,
            })
            .collect();
        Monitor {
            drift: drift.clone(),
            planned_pairs: planned_pairs.max(1) as f64,
            streams,
        }
    }

    /// The level the monitor tests at (`drift.alpha`).
    pub fn alpha(&self) -> f64 {
        self.drift.alpha
    }

    /// Adds one pair: the same case and sample on the baseline target and the candidate.
    pub fn add_pair(&mut self, baseline: &Measures, candidate: &Measures) {
        for s in &mut self.streams {
            match s.spec.source {
                Source::Rate(i) => {
                    if let (Some(b), Some(c)) = (baseline.events[i], candidate.events[i]) {
                        let d = f64::from(u8::from(c)) - f64::from(u8::from(b));
                        s.betting.push((d + 1.0) / 2.0);
                        s.diffs.push(d);
                        s.events.0 += u64::from(b);
                        s.events.1 += u64::from(c);
                        s.baseline_sum += f64::from(u8::from(b));
                        s.current_sum += f64::from(u8::from(c));
                    }
                }
                Source::Value(_) | Source::Length => {
                    let pick = |m: &Measures| match s.spec.source {
                        Source::Value(i) => m.values[i],
                        _ => None,
                    };
                    let (b, c) = match s.spec.source {
                        Source::Length => {
                            let tokens = value_index("output_tokens");
                            let chars = value_index("output_chars");
                            match (baseline.values[tokens], candidate.values[tokens]) {
                                (Some(b), Some(c)) => (Some(b), Some(c)),
                                _ => (baseline.values[chars], candidate.values[chars]),
                            }
                        }
                        _ => (pick(baseline), pick(candidate)),
                    };
                    let (Some(b), Some(c)) = (b, c) else { continue };
                    let d = match s.spec.scale {
                        Scale::LogIncrease | Scale::LogEither if b > 0.0 && c > 0.0 => {
                            c.ln() - b.ln()
                        }
                        Scale::LogIncrease | Scale::LogEither => continue,
                        Scale::Drop => b - c,
                        Scale::Rate => continue,
                    };
                    if !d.is_finite() {
                        continue;
                    }
                    s.diffs.push(d);
                    s.baseline_sum += b;
                    s.current_sum += c;
                }
            }
        }
    }

    /// Tests every metric after round `round` (1-based). The caller decides whether the
    /// run may stop there (never before its `min_samples` rounds).
    pub fn assess(&mut self, round: u32) -> Assessment {
        let alpha = self.drift.alpha;
        let n_opt = self.planned_pairs / 2.0;
        let mut metrics = Vec::new();
        let mut e_values = Vec::new();
        for s in &mut self.streams {
            let n = s.diffs.len();
            if n == 0 {
                continue;
            }
            let (warn, crit) = (s.spec.thresholds)(&self.drift);
            let baseline = s.baseline_sum / n as f64;
            let current = s.current_sum / n as f64;
            // Internal floors on the difference's own scale.
            let (floor, crit_floor) = match s.spec.scale {
                Scale::Rate => (warn, crit),
                Scale::LogIncrease | Scale::LogEither => (warn.ln(), crit.ln()),
                Scale::Drop => (warn * baseline.abs(), crit * baseline.abs()),
            };
            let (method, mean, lo, hi, e) = match s.spec.scale {
                Scale::Rate => {
                    let lo = 2.0 * s.betting.bound(Side::Above, alpha) - 1.0;
                    let hi = 2.0 * s.betting.bound(Side::Below, alpha) - 1.0;
                    // The test bets aGRAPA (power); the sequence bets plug-in (width).
                    let e = s.betting.agrapa_capital(0.5);
                    ("betting", 2.0 * s.betting.mean() - 1.0, lo, hi, e)
                }
                _ => match MeanCs::of(&s.diffs, alpha, n_opt, VAR_FLOOR) {
                    Some(cs) => {
                        let e = match s.spec.scale {
                            Scale::LogEither => cs.e_zero,
                            // One-sided: only evidence towards worse counts.
                            _ if cs.mean > 0.0 => cs.e_zero,
                            _ => 0.0,
                        };
                        ("normal_mixture", cs.mean, cs.lower(), cs.upper(), e)
                    }
                    None => ("normal_mixture", 0.0, f64::NEG_INFINITY, f64::INFINITY, 1.0),
                },
            };
            if n >= MIN_PAIRS {
                s.lower = s.lower.max(lo);
                s.upper = s.upper.min(hi);
            }
            let no_signal = s.spec.scale == Scale::Rate && s.events == (0, 0);
            let kind = match s.spec.scale {
                Scale::Rate => EffectKind::RateIncrease,
                Scale::LogIncrease => EffectKind::RatioIncrease,
                Scale::LogEither => EffectKind::Ratio,
                Scale::Drop => EffectKind::RatioDecrease,
            };
            let display = |x: f64| match s.spec.scale {
                Scale::Rate => x,
                Scale::LogIncrease | Scale::LogEither => x.exp(),
                Scale::Drop if baseline.abs() > 0.0 => x / baseline.abs(),
                Scale::Drop => x,
            };
            let tested = n >= MIN_PAIRS && !no_signal;
            let shown_small = tested
                && match s.spec.scale {
                    Scale::LogEither => s.upper < floor && s.lower > -floor,
                    _ => s.upper < floor,
                };
            metrics.push(MetricSequence {
                metric: s.spec.name.to_string(),
                label: s.spec.label.to_string(),
                method: method.to_string(),
                pairs: n as u64,
                baseline,
                current,
                effect_kind: kind,
                effect: display(mean),
                cs: [display(s.lower), display(s.upper)],
                min_effect: warn,
                critical_effect: crit,
                e_value: e,
                rejected: false,
                decision: if no_signal {
                    MetricDecision::NoSignal
                } else if shown_small {
                    MetricDecision::BelowMinEffect
                } else {
                    MetricDecision::Undecided
                },
                severity: None,
            });
            e_values.push(if tested { Some(e) } else { None });
            // How bad the estimate is, and the floors, for the drift rule below.
            let bad = match s.spec.scale {
                Scale::LogEither => mean.abs(),
                _ => mean,
            };
            let ms_ok =
                !s.spec.ms_floor || geometric(&s.diffs, baseline) >= self.drift.latency_floor_ms;
            let last = metrics.len() - 1;
            metrics[last].severity = (bad >= floor && ms_ok).then_some(if bad >= crit_floor {
                Severity::Critical
            } else {
                Severity::Warning
            });
        }
        // e-BH over the metrics under test.
        let family: Vec<usize> = (0..metrics.len())
            .filter(|&i| e_values[i].is_some())
            .collect();
        let es: Vec<f64> = family.iter().map(|&i| e_values[i].unwrap_or(0.0)).collect();
        let rejected = e_bh(&es, alpha);
        for (&i, r) in family.iter().zip(rejected) {
            metrics[i].rejected = r;
        }
        for m in &mut metrics {
            if m.rejected && m.severity.is_some() {
                m.decision = MetricDecision::Drift;
            } else {
                m.severity = None;
            }
        }
        let decision = if metrics.iter().any(|m| m.decision == MetricDecision::Drift) {
            SequentialDecision::Fail
        } else if !family.is_empty()
            && metrics.iter().all(|m| {
                matches!(
                    m.decision,
                    MetricDecision::BelowMinEffect | MetricDecision::NoSignal
                )
            })
        {
            SequentialDecision::Pass
        } else if family.is_empty()
            && !metrics.is_empty()
            && metrics.iter().all(|m| m.pairs >= MIN_PAIRS as u64)
        {
            // Every rate without an event and no continuous metric: nothing changed.
            SequentialDecision::Pass
        } else {
            SequentialDecision::Undecided
        };
        Assessment {
            round,
            decision,
            metrics,
        }
    }
}

/// |Δ| in the metric's unit between geometric means: baseline's arithmetic mean is not used
/// for a log-scale effect, so the absolute floor is checked on `baseline · (ratio − 1)`.
fn geometric(diffs: &[f64], baseline_mean: f64) -> f64 {
    if diffs.is_empty() {
        return 0.0;
    }
    let ratio = (diffs.iter().sum::<f64>() / diffs.len() as f64).exp();
    (baseline_mean * (ratio - 1.0)).abs()
}

/// Why the sequential gate stopped where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A change significant and beyond its minimum effect: stopped early, failing.
    Drift,
    /// Every metric shown below its minimum effect: stopped early, passing.
    BelowMinEffect,
    /// Ran every planned round (decided at the last, or not at all).
    Samples,
    /// Cut short by a cancel, the budget, or an error: no round decided it.
    Interrupted,
}

/// The `sequential` block of a run: where it stopped, why, what it cost and saved, and each
/// metric's confidence sequence at the stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialReport {
    /// The round the gate stopped after (1-based; 0 when no round completed).
    pub round: u32,
    pub rounds_planned: u32,
    pub stopped_early: bool,
    pub reason: StopReason,
    pub decision: SequentialDecision,
    pub alpha: f64,
    /// Requests the fixed plan holds (both targets).
    pub calls_planned: u64,
    /// Requests sent, retries included.
    pub calls_used: u64,
    /// Samples of the plan never sent.
    pub calls_saved: u64,
    pub metrics: Vec<MetricSequence>,
    /// One sentence: "stopped after round 3 of 15: latency ×1.9 (CS ×1.6–×2.2, e = 4.1e3)
    /// is beyond its +20% minimum effect; 66 of 300 calls used, 234 saved".
    pub message: String,
}

impl SequentialReport {
    /// The drift findings of the stop, one per metric decided as drift.
    pub fn findings(&self, target: &str) -> Vec<Finding> {
        self.metrics
            .iter()
            .filter(|m| m.decision == MetricDecision::Drift)
            .map(|m| Finding {
                metric: m.metric.clone(),
                kind: FindingKind::Drift,
                target: target.to_string(),
                baseline: Some(Estimate::value(m.baseline)),
                current: Some(Estimate {
                    value: m.current,
                    ci: None,
                    n: Some(m.pairs),
                }),
                test: Some(format!("sequential_{}", m.method)),
                statistic: Some(m.e_value),
                // An e-value's reciprocal is a valid p-value.
                p: Some((1.0 / m.e_value).min(1.0)),
                p_adjusted: None,
                effect: Some(m.effect),
                min_effect: Some(m.min_effect),
                severity: m.severity.unwrap_or(Severity::Warning),
                message: format!(
                    "{} {} (sequence {}; e = {}) beyond its {} minimum effect, after {} pairs (sequential gate, round {} of {})",
                    m.label,
                    show_effect(m.effect_kind, m.effect),
                    show_cs(m),
                    show_e(m.e_value),
                    show_effect(m.effect_kind, m.min_effect),
                    m.pairs,
                    self.round,
                    self.rounds_planned
                ),
                case: None,
            })
            .collect()
    }
}

/// An effect on its own scale: `+3.0 points`, `+52%`, `-8% (drop)`.
pub fn show_effect(kind: EffectKind, x: f64) -> String {
    match kind {
        EffectKind::RateIncrease => format!("{:+.1} points", x * 100.0),
        EffectKind::RatioIncrease | EffectKind::Ratio => format_ratio(x),
        EffectKind::RatioDecrease => format!("{:.1}% lower", x * 100.0),
        EffectKind::Divergence => format!("{x:.3}"),
    }
}

/// A confidence sequence on its effect's scale: `+1.2 to +9.8 points`, `+31% to +80%`.
pub fn show_cs(m: &MetricSequence) -> String {
    let end = |x: f64| {
        if x.is_finite() {
            show_effect(m.effect_kind, x)
        } else if x > 0.0 {
            "∞".to_string()
        } else {
            "−∞".to_string()
        }
    };
    format!("{} to {}", end(m.cs[0]), end(m.cs[1]))
}

/// An e-value people can read: `3.2`, `4.1e3`.
pub fn show_e(e: f64) -> String {
    if e < 1000.0 {
        format!("{e:.1}")
    } else {
        format!("{e:.1e}")
    }
}

/// The sentence of a stop.
pub fn stop_message(report: &SequentialReport) -> String {
    let why = match report.reason {
        StopReason::Drift => {
            let drifted: Vec<String> = report
                .metrics
                .iter()
                .filter(|m| m.decision == MetricDecision::Drift)
                .map(|m| format!("{} {}", m.label, show_effect(m.effect_kind, m.effect)))
                .collect();
            format!("changed beyond its minimum effect: {}", drifted.join(", "))
        }
        StopReason::BelowMinEffect => {
            "every metric is shown smaller than its minimum effect".to_string()
        }
        StopReason::Samples => match report.decision {
            SequentialDecision::Undecided => {
                let open: Vec<&str> = report
                    .metrics
                    .iter()
                    .filter(|m| m.decision == MetricDecision::Undecided)
                    .map(|m| m.label.as_str())
                    .collect();
                format!(
                    "ran every planned round; still undecided: {}",
                    open.join(", ")
                )
            }
            _ => "decided at the last planned round".to_string(),
        },
        StopReason::Interrupted => "cut short before a decision".to_string(),
    };
    let share = if report.calls_planned > 0 {
        format!(
            " ({} of the plan)",
            format_rate(report.calls_used as f64 / report.calls_planned as f64)
        )
    } else {
        String::new()
    };
    format!(
        "sequential gate stopped after round {} of {}: {why}; {} of {} calls used{share}, {} saved",
        report.round,
        report.rounds_planned,
        report.calls_used,
        report.calls_planned,
        report.calls_saved
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measures(fail: bool, latency: f64) -> Measures {
        let mut m = Measures::default();
        m.events[0] = Some(false);
        m.events[1] = Some(fail);
        m.values[value_index("latency_ms")] = Some(latency);
        m.values[value_index("output_chars")] = Some(100.0);
        m
    }

    #[test]
    fn a_plainly_slower_candidate_fails_and_an_equal_one_passes() {
        let drift = Drift::default();
        let mut slow = Monitor::new(&drift, 400);
        let mut same = Monitor::new(&drift, 400);
        for i in 0..60 {
            let jitter = 1.0 + 0.05 * ((i * 7 % 11) as f64 - 5.0) / 5.0;
            slow.add_pair(
                &measures(false, 100.0 * jitter),
                &measures(false, 200.0 / jitter),
            );
            same.add_pair(
                &measures(false, 100.0 * jitter),
                &measures(false, 100.0 / jitter),
            );
        }
        let a = slow.assess(3);
        assert_eq!(a.decision, SequentialDecision::Fail, "{:#?}", a.metrics);
        let b = same.assess(3);
        assert_eq!(b.decision, SequentialDecision::Pass, "{:#?}", b.metrics);
    }

    #[test]
    fn a_report_reads_back_from_its_json_with_unbounded_ends() {
        let mut m = Monitor::new(&Drift::default(), 400);
        for _ in 0..5 {
            m.add_pair(&measures(false, 100.0), &measures(false, 110.0));
        }
        let a = m.assess(1);
        let report = SequentialReport {
            round: 1,
            rounds_planned: 10,
            stopped_early: false,
            reason: StopReason::Samples,
            decision: a.decision,
            alpha: 0.01,
            calls_planned: 20,
            calls_used: 10,
            calls_saved: 10,
            metrics: a.metrics,
            message: String::new(),
        };
        assert!(report.metrics.iter().any(|m| !m.cs[0].is_finite()));
        let text = serde_json::to_string(&report).unwrap();
        let back: SequentialReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.metrics.len(), report.metrics.len());
        assert_eq!(back.metrics[0].cs[0], report.metrics[0].cs[0]);
    }

    #[test]
    fn nothing_is_tested_before_min_pairs() {
        let mut m = Monitor::new(&Drift::default(), 400);
        for _ in 0..(MIN_PAIRS - 1) {
            m.add_pair(&measures(false, 100.0), &measures(true, 900.0));
        }
        assert_eq!(m.assess(1).decision, SequentialDecision::Undecided);
    }
}
