//! Trend: a run held against its probe's own recent history — the median and MAD of each
//! headline metric over the last finished runs. A value far outside that band is a warning
//! even without a baseline. The MAD, not the standard deviation, so one bad night in the
//! history does not widen the band for a month.

use serde_json::Value;

use super::{Estimate, Finding, FindingKind, Severity, format_ms, format_rate};
use crate::config::Drift;
use crate::stats::{MAD_SCALE, mad};

/// Runs of history considered.
pub const HISTORY: usize = 30;
/// Fewest past runs before a trend is judged.
pub const MIN_HISTORY: usize = 10;
/// How many scaled MADs from the median count as "far outside".
pub const Z_LIMIT: f64 = 5.0;

#[derive(Clone, Copy)]
enum Worse {
    Higher,
    Lower,
}

#[derive(Clone, Copy)]
enum Scale {
    /// Rates: the change must also be at least `rate_delta` (absolute). Holds the JSON
    /// pointer of the rate's denominator in a run document.
    Rate(&'static str),
    /// Latencies: the ratio to the median must also be at least `latency_ratio`.
    Millis,
}

/// (metric, label, JSON pointer into a run document, worse side, scale)
const METRICS: [(&str, &str, &str, Worse, Scale); 6] = [
    (
        "error_rate",
        "error rate",
        "/summary/error_rate",
        Worse::Higher,
        Scale::Rate("/summary/samples"),
    ),
    (
        "pass_rate",
        "pass rate",
        "/summary/pass_rate",
        Worse::Lower,
        Scale::Rate("/summary/answered"),
    ),
    (
        "latency_p95",
        "p95 latency",
        "/summary/latency_ms/p95",
        Worse::Higher,
        Scale::Millis,
    ),
    (
        "ttft_p95",
        "p95 time to first token",
        "/summary/ttft_ms/p95",
        Worse::Higher,
        Scale::Millis,
    ),
    (
        "over_refusal",
        "over-refusal rate",
        "/summary/quality/over_refusal/value",
        Worse::Higher,
        Scale::Rate("/summary/quality/over_refusal/n"),
    ),
    (
        "format_compliance",
        "format compliance",
        "/summary/quality/format_compliance/value",
        Worse::Lower,
        Scale::Rate("/summary/quality/format_compliance/n"),
    ),
];

/// Findings for `current` (a run document) against `history` (earlier run documents of the
/// same probe, newest first).
pub fn check_trend(
    current: &Value,
    history: &[Value],
    drift: &Drift,
    target: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (metric, label, pointer, worse, scale) in METRICS {
        let Some(x) = current.pointer(pointer).and_then(Value::as_f64) else {
            continue;
        };
        let past: Vec<f64> = history
            .iter()
            .take(HISTORY)
            .filter_map(|d| d.pointer(pointer).and_then(Value::as_f64))
            .collect();
        if past.len() < MIN_HISTORY {
            continue;
        }
        let Some((median, raw_mad)) = mad(&past) else {
            continue;
        };
        // A rate's spread is at least its sampling error at this run's size: counts that
        // are 0 (or all) in most runs give a MAD of 0, and then 2 errors in 100 samples
        // would be "far outside" a history that saw 1 now and then.
        let sampling_error = match scale {
            Scale::Rate(n) => current
                .pointer(n)
                .and_then(Value::as_f64)
                .filter(|n| *n >= 1.0)
                .map_or(0.0, |n| {
                    let mean = past.iter().sum::<f64>() / past.len() as f64;
                    let p = mean.clamp(1.0 / n, 1.0 - 1.0 / n);
                    (p * (1.0 - p) / n).sqrt()
                }),
            Scale::Millis => 0.0,
        };
        let spread = (MAD_SCALE * raw_mad).max(sampling_error);
        let change = match worse {
            Worse::Higher => x - median,
            Worse::Lower => median - x,
        };
        // A material change first: a flat history (MAD 0) must not page on a hair's width.
        let material = match scale {
            Scale::Rate(_) => change >= drift.rate_delta.0,
            Scale::Millis => {
                median > 0.0
                    && change > 0.0
                    && x.max(median) / x.min(median) >= drift.latency_ratio.0
            }
        };
        let z = if spread > 0.0 {
            change / spread
        } else {
            f64::INFINITY
        };
        if !material || z < Z_LIMIT {
            continue;
        }
        let show = |v: f64| match scale {
            Scale::Rate(_) => format_rate(v),
            Scale::Millis => format_ms(v),
        };
        let z_text = if z.is_finite() {
            format!("robust z {z:.1}")
        } else {
            "the history never moved".to_string()
        };
        findings.push(Finding {
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
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(error_rate: f64, p95: f64) -> Value {
        json!({"summary": {"error_rate": error_rate, "pass_rate": 1.0, "latency_ms": {"p95": p95}}})
    }

    #[test]
    fn flags_only_far_and_material_changes() {
        let history: Vec<Value> = (0..20)
            .map(|i| {
                doc(
                    0.01 + (i % 3) as f64 * 0.002,
                    1000.0 + (i % 5) as f64 * 20.0,
                )
            })
            .collect();
        let drift = Drift::default();
        assert!(check_trend(&doc(0.012, 1040.0), &history, &drift, "default").is_empty());
        let found = check_trend(&doc(0.20, 3000.0), &history, &drift, "default");
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
        let rare = |e: f64| json!({"summary": {"error_rate": e, "samples": 100}});
        let history: Vec<Value> = (0..30)
            .map(|i| rare(if i % 3 == 0 { 0.01 } else { 0.0 }))
            .collect();
        assert!(check_trend(&rare(0.02), &history, &drift, "default").is_empty());
        let found = check_trend(&rare(0.08), &history, &drift, "default");
        assert_eq!(found.len(), 1, "{found:?}");
        // Too little history: no judgement.
        assert!(check_trend(&doc(0.5, 9000.0), &history[..5], &drift, "default").is_empty());
        // A better value is never a finding.
        assert!(check_trend(&doc(0.0, 500.0), &history, &drift, "default").is_empty());
    }
}
