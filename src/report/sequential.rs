//! The sequential gate's block in the run's outputs (issue 15): where it stopped, why, the
//! calls it used and saved, and each metric's confidence sequence at the stop — a Markdown
//! section and a JUnit suite. (The JSON document carries the `SequentialReport` itself under
//! `sequential`; the HTML report reads it from there.)

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::compare::Severity;
use crate::compare::sequential::{MetricDecision, SequentialReport, show_cs, show_e, show_effect};
use crate::report::markdown::escape;

/// What a metric's decision reads as.
pub fn decision_label(d: MetricDecision) -> &'static str {
    match d {
        MetricDecision::Drift => "drift",
        MetricDecision::BelowMinEffect => "below minimum effect",
        MetricDecision::NoSignal => "no events",
        MetricDecision::Undecided => "undecided",
    }
}

/// The Markdown section: one sentence, then a table of the metrics tested.
pub fn markdown_block(report: &SequentialReport) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n### Sequential gate\n\n{}.", escape(&report.message));
    let _ = writeln!(
        md,
        "\n| metric | method | pairs | effect | confidence sequence | minimum effect | e-value | decision |\n|---|---|---|---|---|---|---|---|"
    );
    for m in report
        .metrics
        .iter()
        .filter(|m| m.decision != MetricDecision::NoSignal)
    {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            escape(&m.label),
            m.method,
            m.pairs,
            escape(&show_effect(m.effect_kind, m.effect)),
            escape(&show_cs(m)),
            escape(&show_effect(m.effect_kind, m.min_effect)),
            show_e(m.e_value),
            decision_label(m.decision)
        );
    }
    let quiet = report
        .metrics
        .iter()
        .filter(|m| m.decision == MetricDecision::NoSignal)
        .count();
    if quiet > 0 {
        let _ = writeln!(
            md,
            "\n{quiet} rate(s) had no event on either side (not tested)."
        );
    }
    md
}

/// The JUnit suite: one test per metric tested (failing when it drifted at the gate's
/// level and the verdict fails), and the stop itself with its sentence.
pub fn junit_suite(
    report: &SequentialReport,
    probe: &str,
    target: &str,
    reaches: &dyn Fn(Severity) -> bool,
) -> TestSuite {
    let mut suite = TestSuite::new(format!("{probe} · sequential · {target}"));
    for m in report
        .metrics
        .iter()
        .filter(|m| m.decision != MetricDecision::NoSignal)
    {
        let line = format!(
            "{} {} (sequence {}, e = {}, {} pairs): {}",
            m.label,
            show_effect(m.effect_kind, m.effect),
            show_cs(m),
            show_e(m.e_value),
            m.pairs,
            decision_label(m.decision)
        );
        let status = match m.severity {
            Some(s) if m.decision == MetricDecision::Drift && reaches(s) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(line.clone()).set_type(s.as_str());
                status
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(format!("sequential: {}", m.metric), status);
        case.set_classname(format!("{probe}.sequential"))
            .set_assertions(m.pairs as usize)
            .set_system_out(line);
        suite.add_test_case(case);
    }
    let mut stop = TestCase::new("sequential: stop", TestCaseStatus::success());
    stop.set_classname(format!("{probe}.sequential"))
        .set_system_out(report.message.clone());
    suite.add_test_case(stop);
    suite
}

/// The HTML report's view of the block, read back from the run's stored document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SequentialView {
    pub message: String,
    pub rows: Vec<SequentialRow>,
    /// Rates with no event on either side (not tested).
    pub quiet: usize,
}

/// One metric's row in the HTML report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SequentialRow {
    pub label: String,
    pub method: String,
    pub pairs: u64,
    pub effect: String,
    pub cs: String,
    pub min_effect: String,
    pub e_value: String,
    pub decision: &'static str,
    /// `critical` / `warning` for a drift, empty otherwise (the row's class).
    pub class: &'static str,
}

/// The view of the document's `sequential` block; `None` when the run was not sequential.
pub fn html_view(doc: &serde_json::Value) -> Option<SequentialView> {
    let report: SequentialReport = serde_json::from_value(doc.get("sequential")?.clone()).ok()?;
    Some(SequentialView {
        message: report.message.clone(),
        quiet: report
            .metrics
            .iter()
            .filter(|m| m.decision == MetricDecision::NoSignal)
            .count(),
        rows: report
            .metrics
            .iter()
            .filter(|m| m.decision != MetricDecision::NoSignal)
            .map(|m| SequentialRow {
                label: m.label.clone(),
                method: m.method.clone(),
                pairs: m.pairs,
                effect: show_effect(m.effect_kind, m.effect),
                cs: show_cs(m),
                min_effect: show_effect(m.effect_kind, m.min_effect),
                e_value: show_e(m.e_value),
                decision: decision_label(m.decision),
                class: match (m.decision, m.severity) {
                    (MetricDecision::Drift, Some(Severity::Critical)) => "critical",
                    (MetricDecision::Drift, _) => "warning",
                    _ => "",
                },
            })
            .collect(),
    })
}
