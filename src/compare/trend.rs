//! Trend: a run held against its probe's own recent history — the median and MAD of each
//! headline metric over the last finished runs. A value far outside that band is a warning
//! even without a baseline. The MAD, not the standard deviation, so one bad night in the
//! history does not widen the band for a month.
//!
//! The band also holds the current run's own sampling error, which the MAD of a short or
//! quiet history can miss: a rate's spread is at least its binomial standard error at this
//! run's size, and a percentile is judged by the lower end of its distribution-free 95%
//! order-statistic interval (over the run's kept values) rather than by its value. A p95 of
//! 30 samples is nearly the second-largest value, and its run-to-run spread is far wider
//! than the MAD of past p95s says (issue 9).
//!
//! History and current run are typed `RunSummary`s: stored run documents are read back with
//! [`stored_summary`].

use serde_json::Value;

use super::{Estimate, Finding, FindingKind, Severity, format_ms, format_rate, format_usd};
use crate::config::Drift;
use crate::stats::{MAD_SCALE, mad};
use crate::summary::{Evidence, RunSummary};

/// Runs of history considered.
pub const HISTORY: usize = 30;
/// Fewest past runs before a trend is judged.
pub const MIN_HISTORY: usize = 10;
/// How many scaled MADs from the median count as "far outside".
pub const Z_LIMIT: f64 = 5.0;
/// The normal quantile of the two-sided 95% interval, to turn its half-width into a
/// standard error.
const Z_95: f64 = 1.959_963_984_540_054;

#[derive(Clone, Copy)]
enum Worse {
    Higher,
    Lower,
}

#[derive(Clone, Copy)]
enum Scale {
    /// Rates: the change must also be at least `rate_delta` (absolute). Reads the rate's
    /// denominator.
    Rate(fn(&RunSummary) -> Option<u64>),
    /// Latency percentiles: the ratio to the median must also be at least
    /// `latency_ratio`. Holds the percentile and the evidence values it is taken over.
    Percentile(f64, &'static str),
    /// Amounts (cost per request): the ratio to the median must also be at least
    /// `cost_ratio`, so a spike is judged like a drift in cost is.
    Usd,
}

type Read = fn(&RunSummary) -> Option<f64>;

/// (metric, label, value of a summary, worse side, scale)
const METRICS: &[(&str, &str, Read, Worse, Scale)] = &[
    (
        "error_rate",
        "error rate",
        |s| (s.figures.samples > 0).then_some(s.figures.error_rate),
        Worse::Higher,
        Scale::Rate(|s| Some(s.figures.samples)),
    ),
    (
        "pass_rate",
        "pass rate",
        |s| (s.figures.samples > 0).then_some(s.figures.pass_rate),
        Worse::Lower,
        Scale::Rate(|s| Some(s.figures.samples)),
    ),
    (
        "latency_p95",
        "p95 latency",
        |s| s.figures.latency_ms.p95,
        Worse::Higher,
        Scale::Percentile(0.95, "latency_ms"),
    ),
    (
        "ttft_p95",
        "p95 time to first token",
        |s| s.figures.ttft_ms.p95,
        Worse::Higher,
        Scale::Percentile(0.95, "ttft_ms"),
    ),
    (
        "over_refusal",
        "over-refusal rate",
        |s| s.quality.over_refusal.map(|r| r.value),
        Worse::Higher,
        Scale::Rate(|s| s.quality.over_refusal.map(|r| r.n)),
    ),
    (
        "format_compliance",
        "format compliance",
        |s| s.quality.format_compliance.map(|r| r.value),
        Worse::Lower,
        Scale::Rate(|s| s.quality.format_compliance.map(|r| r.n)),
    ),
    // Cost by feature (issue 13): a cost spike is a trend finding, and so an alert.
    (
        "cost_per_request",
        "cost per request",
        |s| cost_per_request(s.figures.requests, s.figures.cost_usd),
        Worse::Higher,
        Scale::Usd,
    ),
];

/// Cost over requests; `None` without requests (nothing was sent, nothing to judge).
fn cost_per_request(requests: u64, cost_usd: f64) -> Option<f64> {
    (requests > 0).then(|| cost_usd / requests as f64)
}

/// The summary of a stored run document (`{"summary": {...}, ...}`), typed; `None` for a
/// document without one (a run that failed before its end) or one that does not read.
pub fn stored_summary(doc: &Value) -> Option<RunSummary> {
    serde_json::from_value(doc.get("summary")?.clone()).ok()
}

/// The lower end of the distribution-free 95% interval of the `q`-quantile of `values`: the
/// order statistic at rank `floor(n q - 1.96 sqrt(n q (1 - q)))` (normal approximation of
/// the binomial count below the quantile), at least the smallest value. `None` when empty.
fn quantile_lower_bound(values: &[f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let nf = n as f64;
    let rank = (nf * q - Z_95 * (nf * q * (1.0 - q)).sqrt()).floor();
    // 1-based rank, at least the smallest value
    let index = (rank.max(1.0) as usize - 1).min(n - 1);
    Some(v[index])
}

/// Findings for `current` (with its evidence, for the sampling error of its percentiles)
/// against `history` (earlier summaries of the same probe and target, newest first).
pub fn check_trend(
    current: &RunSummary,
    evidence: Option<&Evidence>,
    history: &[RunSummary],
    drift: &Drift,
    target: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for &(metric, label, read, worse, scale) in METRICS {
        let Some(x) = read(current).filter(|x| x.is_finite()) else {
            continue;
        };
        let past: Vec<f64> = history
            .iter()
            .take(HISTORY)
            .filter_map(read)
            .filter(|v| v.is_finite())
            .collect();
        let judged = Judged {
            metric,
            label,
            worse,
            scale,
        };
        findings.extend(judge(&judged, x, &past, current, evidence, drift, target));
    }
    // Cost by feature (issue 13): a spike of one label value's cost per request, when the
    // run's own did not spike (a price change is one finding, not one per feature).
    if !findings.iter().any(|f| f.metric == "cost_per_request") {
        findings.extend(label_cost_spikes(current, history, drift, target));
    }
    findings
}

/// What a metric is, for [`judge`].
struct Judged<'a> {
    metric: &'a str,
    label: &'a str,
    worse: Worse,
    scale: Scale,
}

/// The finding for value `x` of one metric against `past` (the history's values), if it
/// is far outside and material.
fn judge(
    m: &Judged<'_>,
    x: f64,
    past: &[f64],
    current: &RunSummary,
    evidence: Option<&Evidence>,
    drift: &Drift,
    target: &str,
) -> Option<Finding> {
    let Judged {
        metric,
        label,
        worse,
        scale,
    } = *m;
    if past.len() < MIN_HISTORY {
        return None;
    }
    let (median, raw_mad) = mad(past)?;
    // A rate's spread is at least its sampling error at this run's size: counts that
    // are 0 (or all) in most runs give a MAD of 0, and then 2 errors in 100 samples
    // would be "far outside" a history that saw 1 now and then.
    let sampling_error = match scale {
        Scale::Rate(n) => n(current).filter(|n| *n >= 1).map_or(0.0, |n| {
            let n = n as f64;
            let mean = past.iter().sum::<f64>() / past.len() as f64;
            // At most 1/2 from either end: a run of one sample (n = 1) would give
            // clamp(1, 0), which panics.
            let edge = (1.0 / n).min(0.5);
            let p = mean.clamp(edge, 1.0 - edge);
            (p * (1.0 - p) / n).sqrt()
        }),
        Scale::Percentile(..) | Scale::Usd => 0.0,
    };
    let spread = (MAD_SCALE * raw_mad).max(sampling_error);
    // A percentile is judged by the lower end of its own 95% interval: the whole
    // interval must lie far outside the band, so a p95 pushed up by one or two slow
    // answers of a short run is not "far outside". (A standard error in milliseconds
    // would grow with the slowdown itself and hide a real one.)
    let judged = match scale {
        Scale::Percentile(q, source) => evidence
            .and_then(|e| e.continuous.get(source))
            .and_then(|r| quantile_lower_bound(&r.values, q))
            .map_or(x, |lower| lower.min(x)),
        Scale::Rate(_) | Scale::Usd => x,
    };
    let change = match worse {
        Worse::Higher => judged - median,
        Worse::Lower => median - judged,
    };
    // A material change first: a flat history (MAD 0) must not page on a hair's width.
    let material = match scale {
        Scale::Rate(_) => change >= drift.rate_delta.0,
        // Judged by the low end of its interval too, like `change`.
        Scale::Percentile(..) => {
            median > 0.0 && judged > median && judged / median >= drift.latency_ratio.0
        }
        Scale::Usd => median > 0.0 && x / median >= drift.cost_ratio.0,
    };
    if change <= 0.0 {
        return None; // the judged value is not worse than the history's median
    }
    let z = if spread > 0.0 {
        change / spread
    } else {
        f64::INFINITY
    };
    if !material || z < Z_LIMIT {
        return None;
    }
    let show = |v: f64| match scale {
        Scale::Rate(_) => format_rate(v),
        Scale::Percentile(..) => format_ms(v),
        Scale::Usd => format_usd(v),
    };
    let mut z_text = if z.is_finite() {
        format!("robust z {z:.1}")
    } else {
        "the history never moved".to_string()
    };
    if judged != x {
        z_text = format!(
            "{z_text} for the low end {} of its 95% interval",
            show(judged)
        );
    }
    Some(Finding {
        metric: metric.to_string(),
        kind: FindingKind::Trend,
        target: target.to_string(),
        baseline: Some(Estimate {
            value: median,
            ci: None,
            n: Some(past.len() as u64),
        }),
        current: Some(Estimate::value(x)),
        test: Some("median_mad".to_string()),
        statistic: z.is_finite().then_some(z),
        p: None,
        p_adjusted: None,
        effect: Some(change),
        min_effect: Some(Z_LIMIT),
        severity: Severity::Warning,
        case: None,
        message: format!(
            "{label} {} is far outside the last {} runs (median {}, {z_text}) — warning",
            show(x),
            past.len(),
            show(median)
        ),
    })
}

/// Trend findings on the cost per request of each label value (`by_label`) the history
/// also has: `cost_per_request:feature=document-analysis`.
fn label_cost_spikes(
    current: &RunSummary,
    history: &[RunSummary],
    drift: &Drift,
    target: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, values) in &current.by_label {
        for (value, f) in values {
            let Some(x) = f.cost_per_request_usd.filter(|x| x.is_finite()) else {
                continue;
            };
            let past: Vec<f64> = history
                .iter()
                .take(HISTORY)
                .filter_map(|s| s.by_label.get(key)?.get(value)?.cost_per_request_usd)
                .filter(|v| v.is_finite())
                .collect();
            let metric = format!("cost_per_request:{key}={value}");
            let label = format!("cost per request of {key}={value}");
            let judged = Judged {
                metric: &metric,
                label: &label,
                worse: Worse::Higher,
                scale: Scale::Usd,
            };
            out.extend(judge(&judged, x, &past, current, None, drift, target));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run's summary as a run stores it and the trend reads it back (typed, through its
    /// JSON document); only the fields the test sets matter.
    fn summary(error_rate: f64, samples: u64, p95: Option<f64>) -> RunSummary {
        let targets = ["default".to_string()];
        let acc = crate::summary::Accumulator::new(&[], &targets, 1, 0);
        let mut s = acc
            .finish(std::time::Duration::from_secs(1))
            .0
            .remove(0)
            .summary;
        s.figures.error_rate = error_rate;
        s.figures.samples = samples;
        s.figures.latency_ms.p95 = p95;
        let doc = json!({ "summary": s });
        stored_summary(&doc).expect("a stored summary reads back typed")
    }

    fn doc(error_rate: f64, p95: f64) -> RunSummary {
        summary(error_rate, 1000, Some(p95))
    }

    #[test]
    fn flags_only_far_and_material_changes() {
        let history: Vec<RunSummary> = (0..20)
            .map(|i| {
                doc(
                    0.01 + (i % 3) as f64 * 0.002,
                    1000.0 + (i % 5) as f64 * 20.0,
                )
            })
            .collect();
        let drift = Drift::default();
        assert!(check_trend(&doc(0.012, 1040.0), None, &history, &drift, "default").is_empty());
        let found = check_trend(&doc(0.20, 3000.0), None, &history, &drift, "default");
        let metrics: Vec<&str> = found.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(metrics, ["error_rate", "latency_p95"]);
        assert!(
            found[1].message.starts_with(
                "p95 latency 3.0 s is far outside the last 20 runs (median 1.0 s, robust z"
            ),
            "{}",
            found[1].message
        );
        // A history mostly at 0 (MAD 0) with an error now and then: 2 errors in 100 samples
        // are within sampling error, 8 are not.
        let rare = |e: f64| summary(e, 100, None);
        let history: Vec<RunSummary> = (0..30)
            .map(|i| rare(if i % 3 == 0 { 0.01 } else { 0.0 }))
            .collect();
        assert!(check_trend(&rare(0.02), None, &history, &drift, "default").is_empty());
        let found = check_trend(&rare(0.08), None, &history, &drift, "default");
        assert_eq!(found.len(), 1, "{found:?}");
        // Too little history: no judgement.
        assert!(check_trend(&doc(0.5, 9000.0), None, &history[..5], &drift, "default").is_empty());
        // A better value is never a finding.
        assert!(check_trend(&doc(0.0, 500.0), None, &history, &drift, "default").is_empty());
    }

    /// A probe of one sample per run (`samples: 1`) has rates of 0 or 1: judging them must
    /// not panic (the binomial floor's clamp once had its bounds crossed at n = 1).
    #[test]
    fn a_run_of_one_sample_is_judged_without_panicking() {
        let history: Vec<RunSummary> = (0..12)
            .map(|i| summary(if i % 4 == 0 { 1.0 } else { 0.0 }, 1, None))
            .collect();
        let drift = Drift::default();
        for now in [0.0, 1.0] {
            check_trend(&summary(now, 1, None), None, &history, &drift, "default");
        }
    }

    /// A p95 of 30 values pushed up by its two largest is within its own sampling error:
    /// the lower end of its order-statistic interval is near the history's p95s.
    #[test]
    fn a_percentile_band_holds_the_runs_own_sampling_error() {
        let history: Vec<RunSummary> = (0..30)
            .map(|i| doc(0.0, 1000.0 + (i % 5) as f64 * 10.0))
            .collect();
        let drift = Drift::default();
        // 28 values around 600 ms, two of 4 s and 6 s: p95 (numpy linear) = 4,900 ms.
        let mut values: Vec<f64> = (0..28).map(|i| 500.0 + 10.0 * i as f64).collect();
        values.extend([4000.0, 6000.0]);
        let mut evidence = Evidence::default();
        evidence.continuous.insert(
            "latency_ms".into(),
            crate::stats::Reservoir {
                cap: 5000,
                seen: 30,
                values,
            },
        );
        let current = doc(0.0, 4900.0);
        // Without its sampling error, far outside the band; with it, within.
        assert_eq!(
            check_trend(&current, None, &history, &drift, "default").len(),
            1
        );
        assert!(check_trend(&current, Some(&evidence), &history, &drift, "default").is_empty());
    }

    /// Cost by feature (issue 13): a cost per request three times the history's median is
    /// a warning saying both; a wobble within `cost_ratio` is not.
    #[test]
    fn a_cost_spike_is_a_trend_finding() {
        let priced = |requests: u64, cost: f64| {
            let mut s = doc(0.0, 1000.0);
            s.figures.requests = requests;
            s.figures.cost_usd = cost;
            s
        };
        let history: Vec<RunSummary> = (0..20)
            .map(|i| priced(100, 0.12 + (i % 4) as f64 * 0.001))
            .collect();
        let drift = Drift::default();
        let quiet = check_trend(&priced(100, 0.13), None, &history, &drift, "default");
        assert!(quiet.is_empty(), "{quiet:#?}");
        let found = check_trend(&priced(100, 0.41), None, &history, &drift, "default");
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.metric.as_str(), f.kind),
            ("cost_per_request", FindingKind::Trend)
        );
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.message.starts_with(
                "cost per request $0.00410 is far outside the last 20 runs (median $0.00121, robust z"
            ),
            "{}",
            f.message
        );
        // A run that sent nothing has no cost per request to judge.
        assert!(check_trend(&priced(0, 0.0), None, &history, &drift, "default").is_empty());
    }

    /// One feature's cost per request spiking while the run's stays within its band is a
    /// finding of that feature; a spike of the whole run is one finding, not one per value.
    #[test]
    fn a_cost_spike_of_one_feature_is_named_by_its_label() {
        let with_features = |docs: f64, chat: f64| {
            let mut s = doc(0.0, 1000.0);
            let figures = |cost: f64, requests: u64| crate::summary::LabelFigures {
                requests,
                samples: requests,
                answered: requests,
                errors: 0,
                error_rate: 0.0,
                cost_usd: cost,
                cost_per_request_usd: Some(cost / requests as f64),
                tokens: Default::default(),
                latency_ms: Default::default(),
                pass_rate: None,
                format_compliance: None,
                over_refusal: None,
                hallucination: None,
            };
            s.by_label.insert(
                "feature".into(),
                [
                    ("docs".to_string(), figures(docs, 10)),
                    ("chat".to_string(), figures(chat, 90)),
                ]
                .into(),
            );
            s.figures.requests = 100;
            s.figures.cost_usd = docs + chat;
            s
        };
        let history: Vec<RunSummary> = (0..12)
            .map(|i| {
                with_features(
                    0.010 + (i % 3) as f64 * 0.0002,
                    0.09 + (i % 2) as f64 * 0.001,
                )
            })
            .collect();
        let drift = Drift::default();
        // docs ×3: the run's cost per request rises by about 18%, below `cost_ratio`.
        let found = check_trend(
            &with_features(0.030, 0.09),
            None,
            &history,
            &drift,
            "default",
        );
        let metrics: Vec<&str> = found.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(metrics, ["cost_per_request:feature=docs"], "{found:#?}");
        assert!(
            found[0].message.starts_with(
                "cost per request of feature=docs $0.00300 is far outside the last 12 runs"
            ),
            "{}",
            found[0].message
        );
        // Everything ×3 (a price change): the run's finding only.
        let found = check_trend(
            &with_features(0.030, 0.27),
            None,
            &history,
            &drift,
            "default",
        );
        let metrics: Vec<&str> = found.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(metrics, ["cost_per_request"], "{found:#?}");
    }

    #[test]
    fn a_flat_history_does_not_warn_on_a_p95_whose_interval_reaches_it() {
        // Every past p95 the same (a fixed-latency endpoint: MAD 0). Two slow answers of
        // 30 push this run's p95 to ×5, but the low end of its interval is the history's
        // median: nothing is shown worse, so no "the history never moved" warning.
        let history: Vec<RunSummary> = (0..30).map(|_| doc(0.0, 1000.0)).collect();
        let mut values: Vec<f64> = vec![1000.0; 28];
        values.extend([5000.0, 9000.0]);
        let mut evidence = Evidence::default();
        evidence.continuous.insert(
            "latency_ms".into(),
            crate::stats::Reservoir {
                cap: 5000,
                seen: 30,
                values,
            },
        );
        let current = doc(0.0, 5000.0);
        let found = check_trend(&current, Some(&evidence), &history, &Drift::default(), "d");
        assert!(found.is_empty(), "{found:#?}");
    }
}
