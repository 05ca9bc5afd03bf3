//! Absolute limits: each `thresholds:` entry held against the run's summary. A ceiling for
//! error rate, latency, refusals, hallucinations and cost; a floor for format compliance and
//! pass rate. Crossing `critical` is critical, else crossing `warning` is a warning.

use super::{Estimate, Finding, FindingKind, Severity, format_ms, format_rate};
use crate::config::{Limit, Thresholds};
use crate::summary::{Rate, RunSummary};

#[derive(Clone, Copy)]
enum Direction {
    /// Above the limit is bad.
    Ceiling,
    /// Below the limit is bad.
    Floor,
}

#[derive(Clone, Copy)]
enum Unit {
    Rate,
    Millis,
    Usd,
}

impl Unit {
    fn show(self, x: f64) -> String {
        match self {
            Unit::Rate => format_rate(x),
            Unit::Millis => format_ms(x),
            Unit::Usd => format!("${x:.4}"),
        }
    }
}

/// One limit to check: (metric, label, limit, current value, direction, unit).
type Check<'a> = (
    &'a str,
    &'a str,
    Option<Limit>,
    Option<Estimate>,
    Direction,
    Unit,
);

fn rate_estimate(rate: Option<Rate>) -> Option<Estimate> {
    rate.map(|r| Estimate {
        value: r.value,
        ci: Some(r.ci),
        n: Some(r.n),
    })
}

/// Every limit the run crosses.
pub fn check_thresholds(t: &Thresholds, s: &RunSummary) -> Vec<Finding> {
    let f = &s.figures;
    let q = &s.quality;
    let error_rate = (f.samples > 0).then_some(Estimate {
        value: f.error_rate,
        ci: Some(f.error_rate_ci),
        n: Some(f.samples),
    });
    let pass_rate = (f.samples > 0).then_some(Estimate {
        value: f.pass_rate,
        ci: Some(f.pass_rate_ci),
        n: Some(f.samples),
    });
    let checks: [Check; 9] = [
        (
            "error_rate",
            "error rate",
            t.error_rate,
            error_rate,
            Direction::Ceiling,
            Unit::Rate,
        ),
        (
            "latency_p95",
            "p95 latency",
            t.latency_p95_ms,
            f.latency_ms.p95.map(Estimate::value),
            Direction::Ceiling,
            Unit::Millis,
        ),
        (
            "latency_p99",
            "p99 latency",
            t.latency_p99_ms,
            f.latency_ms.p99.map(Estimate::value),
            Direction::Ceiling,
            Unit::Millis,
        ),
        (
            "ttft_p95",
            "p95 time to first token",
            t.ttft_p95_ms,
            f.ttft_ms.p95.map(Estimate::value),
            Direction::Ceiling,
            Unit::Millis,
        ),
        (
            "refusal_rate",
            "over-refusal rate",
            t.refusal_rate,
            rate_estimate(q.over_refusal),
            Direction::Ceiling,
            Unit::Rate,
        ),
        (
            "hallucination_rate",
            "hallucination rate",
            t.hallucination_rate,
            rate_estimate(q.hallucination),
            Direction::Ceiling,
            Unit::Rate,
        ),
        (
            "cost_usd",
            "run cost",
            t.cost_usd,
            Some(Estimate::value(f.cost_usd)),
            Direction::Ceiling,
            Unit::Usd,
        ),
        (
            "format_compliance",
            "format compliance",
            t.format_compliance,
            rate_estimate(q.format_compliance),
            Direction::Floor,
            Unit::Rate,
        ),
        (
            "pass_rate",
            "pass rate",
            t.pass_rate,
            pass_rate,
            Direction::Floor,
            Unit::Rate,
        ),
    ];
    let mut findings = Vec::new();
    for (metric, label, limit, current, direction, unit) in checks {
        let (Some(limit), Some(current)) = (limit, current) else {
            continue;
        };
        let crosses = |level: f64| match direction {
            Direction::Ceiling => current.value > level,
            Direction::Floor => current.value < level,
        };
        let crossed = [
            (Severity::Critical, limit.critical),
            (Severity::Warning, limit.warning),
        ]
        .into_iter()
        .find_map(|(severity, level)| level.filter(|l| crosses(*l)).map(|l| (severity, l)));
        let Some((severity, level)) = crossed else {
            continue;
        };
        let side = match direction {
            Direction::Ceiling => "above",
            Direction::Floor => "below",
        };
        findings.push(Finding {
            metric: metric.to_string(),
            kind: FindingKind::Threshold,
            target: s.target.clone(),
            baseline: None,
            current: Some(current),
            test: None,
            statistic: None,
            p: None,
            p_adjusted: None,
            effect: None,
            min_effect: Some(level),
            severity,
            case: None,
            message: format!(
                "{label} {} is {side} the {} limit {} — {}",
                unit.show(current.value),
                severity.as_str(),
                unit.show(level),
                severity.as_str()
            ),
        });
    }
    findings
}
