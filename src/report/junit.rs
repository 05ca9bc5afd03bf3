//! JUnit XML for CI systems: one test suite per gate run, a test case per golden case and
//! per compared metric, and one for the verdict itself. It always agrees with the verdict
//! (and so with the exit code): nothing fails unless the verdict fails at the gate's level,
//! and then the verdict and whatever reached that level fail. A case or metric below the
//! level is reported as passing, with why it was not clean in its output. Model output
//! reaches the XML only through `quick-junit`, which escapes it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::compare::Severity;
use crate::pipeline::RunOutcome;
use crate::summary::{CaseStatus, CaseSummary};

/// The metric name of the findings a case below its `min_pass_rate` produces: reported in
/// the cases suite, not again among the limits.
const CASE_METRIC: &str = "case_pass_rate";

/// How bad a case that did not pass is, by the rule of the verdict's case findings: every
/// sample failing, or the interval wholly below `min_pass_rate`, is critical; below it
/// within its interval, a warning. A case that never answered is critical (it is also too
/// little to probe).
fn case_severity(c: &CaseSummary) -> Option<Severity> {
    match c.status {
        CaseStatus::Pass | CaseStatus::Skipped => None,
        CaseStatus::Fail | CaseStatus::Error => Some(Severity::Critical),
        CaseStatus::Flaky if c.ci[1] < c.min_pass_rate => Some(Severity::Critical),
        CaseStatus::Flaky => Some(Severity::Warning),
    }
}

/// A test that reached `fail_on` fails only when the verdict fails too; otherwise it passes,
/// saying why it was not clean.
fn judged(fails: bool, message: &str, kind: &str) -> TestCaseStatus {
    if fails {
        failure(message, kind)
    } else {
        TestCaseStatus::success()
    }
}

fn failure(message: &str, kind: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message).set_type(kind);
    status
}

/// The JUnit report of a run, failing metrics at `fail_on` or worse.
pub fn junit(outcome: &RunOutcome, fail_on: Severity) -> String {
    let mut report = Report::new("probity");
    let seconds = (outcome.finished_at - outcome.started_at)
        .num_milliseconds()
        .max(0) as u64;
    report.set_time(Duration::from_millis(seconds));
    let Some(primary) = outcome.primary() else {
        return String::new();
    };
    let verdict_fails = outcome.verdict.fails_at(fail_on);
    let reaches = |s: Severity| verdict_fails && s >= fail_on;

    let mut cases = TestSuite::new(format!(
        "{} · cases · {}",
        outcome.probe, primary.summary.target
    ));
    for c in &primary.cases {
        let reason = c.failing_reason.as_deref().unwrap_or("failed");
        let status = match (c.status, case_severity(c)) {
            (CaseStatus::Skipped, _) => TestCaseStatus::skipped(),
            (_, None) => TestCaseStatus::success(),
            (other, Some(severity)) => judged(
                reaches(severity),
                reason,
                match other {
                    CaseStatus::Error => "error",
                    CaseStatus::Flaky => "flaky",
                    _ => "fail",
                },
            ),
        };
        let mut case = TestCase::new(format!("{}/{}", c.set, c.id), status);
        case.set_classname(format!("{}.cases", outcome.probe))
            .set_assertions(c.figures.samples as usize);
        if c.status != CaseStatus::Pass && c.status != CaseStatus::Skipped {
            case.set_system_out(format!("{}: {reason}", c.status.as_str()));
        }
        cases.add_test_case(case);
    }
    report.add_test_suite(cases);

    let mut metrics = TestSuite::new(format!(
        "{} · metrics · {}",
        outcome.probe, primary.summary.target
    ));
    if let Some(c) = &outcome.comparison {
        for t in &c.comparison.tests {
            let status = match t.severity {
                Some(s) if reaches(s) => {
                    let message = outcome
                        .findings
                        .iter()
                        .find(|f| {
                            f.kind == crate::compare::FindingKind::Drift && f.metric == t.metric
                        })
                        .map(|f| f.message.clone())
                        .unwrap_or_else(|| format!("{} drifted", t.metric));
                    failure(&message, s.as_str())
                }
                _ => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(format!("drift: {}", t.metric), status);
            case.set_classname(format!("{}.drift", outcome.probe));
            metrics.add_test_case(case);
        }
    }
    for f in outcome
        .findings
        .iter()
        .filter(|f| f.kind != crate::compare::FindingKind::Drift && f.metric != CASE_METRIC)
    {
        // Too little data fails a gate at any level, as the verdict does.
        // Too little data fails a failing gate at any level, as the verdict does; a metric
        // that could not be decided fails one whose verdict waits on it.
        let fails = reaches(f.severity)
            || (verdict_fails && f.kind == crate::compare::FindingKind::InsufficientData)
            || (outcome.verdict == crate::compare::Verdict::InsufficientData
                && f.kind == crate::compare::FindingKind::Inconclusive);
        let status = judged(fails, &f.message, f.severity.as_str());
        let mut case = TestCase::new(format!("{:?}: {}", f.kind, f.metric).to_lowercase(), status);
        case.set_classname(format!("{}.limits", outcome.probe));
        metrics.add_test_case(case);
    }
    // The verdict itself, so a failing verdict always fails the report, whatever caused it.
    let status = judged(
        verdict_fails,
        &format!(
            "verdict {} (status {}, exit {})",
            outcome.verdict.as_str(),
            outcome.status.as_str(),
            outcome.exit_code
        ),
        outcome.verdict.as_str(),
    );
    let mut verdict = TestCase::new("verdict", status);
    verdict.set_classname(format!("{}.verdict", outcome.probe));
    metrics.add_test_case(verdict);
    report.add_test_suite(metrics);
    // Issue 15: the sequential gate's metrics and stop.
    if let Some(seq) = &outcome.sequential {
        report.add_test_suite(super::sequential::junit_suite(
            seq,
            &outcome.probe,
            &primary.summary.target,
            &reaches,
        ));
    }
    report.to_string().unwrap_or_default()
}
