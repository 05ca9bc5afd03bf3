//! Cases in the verdict: a case that passes less often than its `min_pass_rate` is a
//! finding, as a failed assertion is in a test runner. Confidently below (the Wilson upper
//! bound of its pass rate under the minimum) is critical; below but within its interval (a
//! stochastic case that may just have been unlucky) is a warning. A case whose every answered
//! sample failed is critical whatever its interval: nothing passed at all.
//!
//! The pass rate and interval are the case summary's own (errors count against the case), so
//! the finding, the case's status and the JUnit file always agree. A case with no answer at
//! all is left to the error findings (and to fail-fast): its failing reason is the error.

use super::{Estimate, Finding, FindingKind, Severity, format_rate};
use crate::summary::{CaseStatus, CaseSummary};

/// A finding per case below its `min_pass_rate`.
pub fn check_cases(cases: &[CaseSummary]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for c in cases {
        let f = &c.figures;
        if !matches!(c.status, CaseStatus::Fail | CaseStatus::Flaky) || f.samples == 0 {
            continue;
        }
        let upper = c.ci[1];
        let severity = if c.status == CaseStatus::Fail || upper < c.min_pass_rate {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let passes = f.passes;
        let why = c.failing_reason.as_deref().unwrap_or("failed its checks");
        let how_sure = if severity == Severity::Critical {
            "confidently below"
        } else {
            "below, within its interval,"
        };
        findings.push(Finding {
            metric: "case_pass_rate".to_string(),
            kind: FindingKind::Case,
            target: c.target.clone(),
            baseline: None,
            current: Some(Estimate {
                value: f.pass_rate,
                ci: Some(c.ci),
                n: Some(f.samples),
            }),
            test: Some("wilson".to_string()),
            statistic: None,
            p: None,
            p_adjusted: None,
            effect: None,
            min_effect: Some(c.min_pass_rate),
            severity,
            message: format!(
                "case {}/{} passed {passes}/{} ({}, 95% CI {}–{}), {how_sure} its min_pass_rate {}: {why}",
                c.set,
                c.id,
                f.samples,
                format_rate(f.pass_rate),
                format_rate(c.ci[0]),
                format_rate(c.ci[1]),
                format_rate(c.min_pass_rate),
            ),
            case: Some(format!("{}/{}", c.set, c.id)),
        });
    }
    findings
}
