//! How a run ended apart from its verdict: complete, cut short by the budget or a cancel, or
//! too little probed to judge at all. `min_samples` ("fewest answered samples per case for
//! the run to count as probed") holds whatever the cause of the shortfall: budget, errors,
//! an unreachable target.

use super::RunStatus;
use crate::runner::RunnerReport;
use crate::summary::{CaseSummary, TargetResult};

/// What the status is judged against, besides the summaries.
pub(super) struct Expected<'a> {
    pub min_samples: u32,
    /// Requests the plan held.
    pub total: u64,
    /// The caller cancelled the run (Ctrl-C, shutdown).
    pub cancelled: bool,
    /// Samples planned for a case (`set`, `id`): a case planned for fewer than
    /// `min_samples` needs only what it was planned for.
    pub planned: &'a dyn Fn(&str, &str) -> u64,
}

/// Whether the run probed enough to judge, and why not.
pub(super) fn status_of(
    targets: &[TargetResult],
    report: &RunnerReport,
    expected: &Expected<'_>,
) -> (RunStatus, Option<String>) {
    let shortfall = shortfall(targets, report, expected);
    if expected.cancelled {
        // Stored as cancelled, whatever else went wrong: the operator stopped it.
        let got: u64 = targets.iter().map(|t| t.summary.figures.samples).sum();
        let mut why = format!("cancelled after {got} of {} samples", expected.total);
        if let Some(s) = shortfall {
            why = format!("{why}; {s}");
        }
        return (RunStatus::Interrupted, Some(why));
    }
    if let Some(why) = &report.unreachable {
        return (RunStatus::CouldNotProbe, Some(why.clone()));
    }
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
    }
    if let Some(why) = shortfall {
        return (RunStatus::CouldNotProbe, Some(why));
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

/// The first case (of any target) with fewer answered samples than it needs, and why.
fn shortfall(
    targets: &[TargetResult],
    report: &RunnerReport,
    expected: &Expected<'_>,
) -> Option<String> {
    for t in targets {
        let needed = |c: &CaseSummary| {
            u64::from(expected.min_samples).min((expected.planned)(&c.set, &c.id))
        };
        let Some(c) = t.cases.iter().find(|c| c.figures.answered < needed(c)) else {
            continue;
        };
        let need = needed(c);
        let case = if targets.len() > 1 {
            format!("case `{}/{}` of target `{}`", c.set, c.id, t.summary.target)
        } else {
            format!("case `{}/{}`", c.set, c.id)
        };
        let f = &c.figures;
        if f.skipped_budget > 0 || (report.skipped_budget > 0 && f.errors.is_empty()) {
            return Some(format!(
                "the budget ran out before {case} got {need} answered sample(s) (min_samples; {} answered)",
                f.answered
            ));
        }
        let mut causes: Vec<String> = f.errors.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let unsent = (expected.planned)(&c.set, &c.id).saturating_sub(f.samples);
        if unsent > 0 {
            causes.push(format!("{unsent} not sent"));
        }
        return Some(format!(
            "{case} got {} answered sample(s), fewer than the {need} needed (min_samples){}",
            f.answered,
            if causes.is_empty() {
                String::new()
            } else {
                format!(": {}", causes.join(", "))
            }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_target_could_not_be_probed_and_says_why() {
        let why = "target `default`: could not reach http://127.0.0.1:19199/v1/chat/completions: connection refused";
        let report = RunnerReport {
            unreachable: Some(why.to_string()),
            ..RunnerReport::default()
        };
        let expected = Expected {
            min_samples: 1,
            total: 10,
            cancelled: false,
            planned: &|_, _| 10,
        };
        assert_eq!(
            status_of(&[], &report, &expected),
            (RunStatus::CouldNotProbe, Some(why.to_string()))
        );
        // A cancel still wins: the operator stopped the run, and it exits 130.
        let cancelled = Expected {
            cancelled: true,
            ..expected
        };
        assert_eq!(
            status_of(&[], &report, &cancelled).0,
            RunStatus::Interrupted
        );
    }
}
