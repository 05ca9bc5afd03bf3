//! Rules: what of a finished run is worth an alert. Each threshold, drift, trend and case
//! finding of warning or critical severity becomes a signal named after its kind and
//! metric (`threshold:error_rate`, `drift:latency_p95`, `case:set/id`); "could not probe"
//! is a critical signal of its own. The probe's custom rules (`alerts.rules`) test one
//! summary metric of each probed target and fire under their own name (`cost-spike`).
//! Inhibition lives here too: while the probe could not probe, its quality, latency and
//! custom rules say nothing (their numbers mean nothing then).

use std::collections::BTreeMap;

use super::metric;
use crate::compare::{Finding, FindingKind, Severity, show};
use crate::config::AlertRule;
use crate::pipeline::{RunOutcome, TargetInfo};

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
    /// The likely cause, short, appended to the summary line ("top error: timeout (31 of
    /// 48)"); filled in by `context`.
    pub cause: Option<String>,
    /// Further lines for the message (errors with an example, model changes), in order.
    pub details: Vec<(String, String)>,
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
                cause: None,
                details: Vec::new(),
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

/// The signals of the probe's custom rules in a finished run: one per rule and probed
/// target whose metric compares as the rule says. A metric the run did not measure (`null`
/// in the document) fires nothing.
pub fn custom_signals(rules: &[AlertRule], outcome: &RunOutcome) -> Vec<Signal> {
    let mut out = Vec::new();
    for t in &outcome.targets {
        let Ok(doc) = serde_json::to_value(&t.summary) else {
            continue;
        };
        let labels = outcome
            .info_of(&t.summary.target)
            .map(|i| i.labels.clone())
            .unwrap_or_default();
        for rule in rules {
            let Some(m) = metric::metric(&rule.metric) else {
                continue;
            };
            // The rule's own name: a component rule's entry is a pattern (issue 13).
            let Some(current) = metric::value_in(&doc, &rule.metric) else {
                continue;
            };
            if !rule.op.holds(current, rule.value) {
                continue;
            }
            out.push(Signal {
                rule: rule.name.clone(),
                target: t.summary.target.clone(),
                severity: if rule.critical {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                message: format!(
                    "{} {} (rule {}: {} {})",
                    m.label,
                    show(m.unit, current),
                    rule.name,
                    rule.op.as_str(),
                    show(m.unit, rule.value)
                ),
                labels: labels.clone(),
                cause: None,
                details: Vec::new(),
            });
        }
    }
    out
}

/// Every signal of a finished run: its findings' and the custom rules', inhibition
/// applied (could-not-probe silences the custom rules too).
pub fn signals_of(outcome: &RunOutcome, rules: &[AlertRule]) -> Vec<Signal> {
    let mut out = signals(&outcome.findings, &outcome.target_info);
    if !inhibiting(&out) {
        out.extend(custom_signals(rules, outcome));
    }
    out
}

/// The three most frequent error classes with their counts, most frequent first (ties by
/// name), the zero counts left out.
pub fn top_errors(errors: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut by_count: Vec<(String, u64)> = errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_count.truncate(3);
    by_count
}
