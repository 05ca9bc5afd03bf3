//! Rules: what of a finished run is worth an alert. Each threshold, drift, trend and case
//! finding of warning or critical severity becomes a signal named after its kind and
//! metric (`threshold:error_rate`, `drift:latency_p95`, `case:set/id`); "could not probe"
//! is a critical signal of its own. Inhibition lives here too: while the probe could not
//! probe, its quality and latency rules say nothing (their numbers mean nothing then).

use std::collections::BTreeMap;

use crate::compare::{Finding, FindingKind, Severity};
use crate::pipeline::TargetInfo;

/// The rule name of "could not probe".
pub const COULD_NOT_PROBE: &str = "could_not_probe";

/// One rule failing in this run, for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// `threshold:error_rate`, `drift:latency_p95`, `case:set/id`, `could_not_probe`.
    pub rule: String,
    pub target: String,
    pub severity: Severity,
    /// The finding's sentence: value and threshold, or baseline, effect and p.
    pub message: String,
    /// The target's labels (identity of the incident beside probe and rule).
    pub labels: BTreeMap<String, String>,
}

/// The rule a finding belongs to, or `None` for findings that never alert (insufficient
/// data and inconclusive ones say "could not tell", not "something is wrong").
pub fn rule_of(f: &Finding) -> Option<String> {
    let prefix = match f.kind {
        FindingKind::Threshold => "threshold",
        FindingKind::Drift => "drift",
        FindingKind::Trend => "trend",
        FindingKind::Case => {
            return Some(format!("case:{}", f.case.as_deref().unwrap_or(&f.metric)));
        }
        FindingKind::CouldNotProbe => return Some(COULD_NOT_PROBE.to_string()),
        FindingKind::InsufficientData | FindingKind::Inconclusive => return None,
    };
    Some(format!("{prefix}:{}", f.metric))
}

/// The signals of a run's findings, inhibition applied.
pub fn signals(findings: &[Finding], targets: &[TargetInfo]) -> Vec<Signal> {
    let labels_of = |target: &str| {
        targets
            .iter()
            .find(|t| t.name == target)
            .map(|t| t.labels.clone())
            .unwrap_or_default()
    };
    let mut out: Vec<Signal> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || f.kind == FindingKind::CouldNotProbe)
        .filter_map(|f| {
            Some(Signal {
                rule: rule_of(f)?,
                target: f.target.clone(),
                severity: if f.kind == FindingKind::CouldNotProbe {
                    Severity::Critical
                } else {
                    f.severity
                },
                message: f.message.clone(),
                labels: labels_of(&f.target),
            })
        })
        .collect();
    if inhibiting(&out) {
        out.retain(|s| s.rule == COULD_NOT_PROBE);
    }
    // One signal per rule and target: the most severe (a threshold finding per level).
    out.sort_by(|a, b| {
        (&a.rule, &a.target)
            .cmp(&(&b.rule, &b.target))
            .then(b.severity.cmp(&a.severity))
    });
    out.dedup_by(|b, a| a.rule == b.rule && a.target == b.target);
    out
}

/// Whether could-not-probe fires, which silences the probe's other rules (and keeps their
/// open incidents as they are: nothing is known of them this run).
pub fn inhibiting(signals: &[Signal]) -> bool {
    signals.iter().any(|s| s.rule == COULD_NOT_PROBE)
}

/// The signals of a finished run, each with its target's top error classes appended when
/// the run had errors ("top errors: timeout 31 of 48, http_5xx 4"), so the on-call sees
/// the cause without opening the report.
pub fn signals_of(outcome: &crate::pipeline::RunOutcome) -> Vec<Signal> {
    let mut out = signals(&outcome.findings, &outcome.target_info);
    for s in &mut out {
        let Some(t) = outcome
            .targets
            .iter()
            .find(|t| t.summary.target == s.target)
        else {
            continue;
        };
        if let Some(top) = top_errors(&t.summary.figures.errors, t.summary.figures.samples) {
            s.message = format!("{}; top errors: {top}", s.message);
        }
    }
    out
}

/// The three most frequent error classes with their counts, the first "of" the samples.
pub fn top_errors(errors: &BTreeMap<String, u64>, samples: u64) -> Option<String> {
    let mut by_count: Vec<(&String, &u64)> = errors.iter().filter(|(_, n)| **n > 0).collect();
    if by_count.is_empty() {
        return None;
    }
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = by_count
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, (class, n))| {
            if i == 0 {
                format!("{class} {n} of {samples}")
            } else {
                format!("{class} {n}")
            }
        })
        .collect();
    Some(parts.join(", "))
}
