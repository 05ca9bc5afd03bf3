//! JUnit XML for CI systems: one test suite per gate run, a test case per golden case
//! (failed unless the case passed) and per compared metric (failed when it drifted at or
//! above the gate's level, or when there was too little data to tell). Model output reaches
//! the XML only through `quick-junit`, which escapes it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::compare::Severity;
use crate::pipeline::RunOutcome;
use crate::summary::CaseStatus;

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

    let mut cases = TestSuite::new(format!(
        "{} · cases · {}",
        outcome.probe, primary.summary.target
    ));
    for c in &primary.cases {
        let status = match c.status {
            CaseStatus::Pass => TestCaseStatus::success(),
            CaseStatus::Skipped => TestCaseStatus::skipped(),
            other => failure(
                c.failing_reason.as_deref().unwrap_or("failed"),
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
                Some(s) if s >= fail_on => {
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
        .filter(|f| f.kind != crate::compare::FindingKind::Drift)
    {
        // Too little data fails a gate at any level, as the verdict does.
        let fails =
            f.severity >= fail_on || f.kind == crate::compare::FindingKind::InsufficientData;
        let status = if fails {
            failure(&f.message, f.severity.as_str())
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(format!("{:?}: {}", f.kind, f.metric).to_lowercase(), status);
        case.set_classname(format!("{}.limits", outcome.probe));
        metrics.add_test_case(case);
    }
    report.add_test_suite(metrics);
    report.to_string().unwrap_or_default()
}
