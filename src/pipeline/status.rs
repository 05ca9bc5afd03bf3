//! How a run ended apart from its verdict: complete, cut short by the budget or a cancel, or
//! too little probed to judge at all.

use super::RunStatus;
use crate::runner::RunnerReport;
use crate::summary::TargetResult;

/// Whether the run probed enough to judge, and why not.
pub(super) fn status_of(
    targets: &[TargetResult],
    report: &RunnerReport,
    min_samples: u32,
) -> (RunStatus, Option<String>) {
    for t in targets {
        let f = &t.summary.figures;
        if f.samples == 0 {
            let why = if report.skipped_budget > 0 {
                "the budget could not cover a single request"
            } else {
                "nothing was sent"
            };
            return (
                RunStatus::CouldNotProbe,
                Some(format!("target `{}`: {why}", t.summary.target)),
            );
        }
        if f.answered == 0 {
            let classes: Vec<String> = f.errors.iter().map(|(c, n)| format!("{n} {c}")).collect();
            return (
                RunStatus::CouldNotProbe,
                Some(format!(
                    "target `{}`: every request failed ({})",
                    t.summary.target,
                    classes.join(", ")
                )),
            );
        }
        if report.skipped_budget > 0 {
            if let Some(c) = t
                .cases
                .iter()
                .find(|c| c.figures.answered < u64::from(min_samples))
            {
                return (
                    RunStatus::CouldNotProbe,
                    Some(format!(
                        "the budget ran out before case `{}` got {min_samples} answered sample(s)",
                        c.id
                    )),
                );
            }
        }
    }
    if report.interrupted {
        (RunStatus::Interrupted, None)
    } else if report.skipped_budget > 0 {
        (
            RunStatus::BudgetExhausted,
            Some(format!(
                "{} samples not sent: budget spent",
                report.skipped_budget
            )),
        )
    } else {
        (RunStatus::Complete, None)
    }
}
