//! The sequential gate's round loop (issue 15), inside the one pipeline that carries out a
//! run: the runner sends its plan as always (every case's first sample before any case's
//! second, the candidate and the baseline target interleaved case by case), observations go
//! to the store as they arrive, and every pair (the same case and sample on both targets)
//! also goes to a [`Monitor`]. When a round is complete — every case planned for that
//! sample has its pair (or its pair cannot form: a side not sent for the budget) — the
//! monitor tests every metric; once it is decided, and the run has its `min_samples`
//! rounds, the pipeline stops the runner (those in flight finish and are stored, nothing
//! more is sent). So that a stop saves calls even when a few slow answers hold a round open
//! while the other slots race ahead, the runner is held one round ahead of the decisions:
//! sample `s` is sent only once round `s − 1` is assessed ([`Watch::allowed`]). The verdict is then the sequential one
//! ([`judge`]); what the fixed-N comparison says of the data gathered stays in the
//! document's `comparison` for reference.

use crate::compare::sequential::{
    Assessment, Monitor, SequentialDecision, SequentialReport, StopReason, stop_message,
};
use crate::compare::{Finding, Verdict};
use crate::config::Probe;
use crate::golden::Case;
use crate::runner::RunnerReport;
use crate::summary::{Measures, TargetResult};

/// The monitor of one run and where its rounds stand.
pub(super) struct Watch {
    monitor: Monitor,
    /// Cases planned for each sample index (a case may plan fewer samples than the run).
    expected: Vec<u64>,
    /// Pairs completed for each sample index.
    completed: Vec<u64>,
    /// Sides of each sample index that will never pair (not sent for the budget).
    unpairable: Vec<u64>,
    /// Rounds assessed so far.
    assessed: u32,
    /// No stop before this many rounds: the run's `min_samples`.
    min_rounds: u32,
    rounds: u32,
    last: Option<Assessment>,
    /// The round the gate stopped after, once it is decided.
    stopped_at: Option<u32>,
}

impl Watch {
    /// A watch for a run of `cases` at `samples` per case on two targets.
    pub fn new(probe: &Probe, cases: &[Case], samples: u32) -> Watch {
        let per_case: Vec<u32> = cases.iter().map(|c| c.samples.unwrap_or(samples)).collect();
        let rounds = per_case.iter().copied().max().unwrap_or(0);
        let expected: Vec<u64> = (0..rounds)
            .map(|s| per_case.iter().filter(|&&n| n > s).count() as u64)
            .collect();
        let planned_pairs: u64 = per_case.iter().map(|&n| u64::from(n)).sum();
        Watch {
            monitor: Monitor::new(&probe.drift, planned_pairs),
            completed: vec![0; expected.len()],
            unpairable: vec![0; expected.len()],
            expected,
            assessed: 0,
            min_rounds: probe.min_samples.max(1),
            rounds,
            last: None,
            stopped_at: None,
        }
    }

    /// Feeds the pairs completed since the last call; true when the gate is decided and the
    /// runner should stop now.
    pub fn feed(&mut self, pairs: Vec<(u32, Measures, Measures)>) -> bool {
        if self.stopped_at.is_some() {
            // Stragglers in flight at the stop are stored, not judged: the decision stands.
            return false;
        }
        for (sample, baseline, candidate) in pairs {
            self.monitor.add_pair(&baseline, &candidate);
            if let Some(c) = self.completed.get_mut(sample as usize) {
                *c += 1;
            }
        }
        while let Some(&need) = self.expected.get(self.assessed as usize) {
            let i = self.assessed as usize;
            if self.completed[i] + self.unpairable[i] < need {
                break;
            }
            self.assessed += 1;
            let a = self.monitor.assess(self.assessed);
            let decided = a.decision != SequentialDecision::Undecided;
            self.last = Some(a);
            if decided && self.assessed >= self.min_rounds.min(self.rounds) {
                self.stopped_at = Some(self.assessed);
                return self.assessed < self.rounds;
            }
        }
        false
    }

    /// The `sequential` block of the run, once it ended: the assessment at the stop, or a
    /// last one over everything gathered when no round decided it.
    pub fn report(
        mut self,
        runner: &RunnerReport,
        targets: &[TargetResult],
        calls_planned: u64,
        cut_short: bool,
    ) -> SequentialReport {
        let (assessment, reason) = match (self.stopped_at, self.last.take()) {
            (Some(round), Some(a)) if round < self.rounds => {
                let reason = match a.decision {
                    SequentialDecision::Pass => StopReason::BelowMinEffect,
                    _ => StopReason::Drift,
                };
                (a, reason)
            }
            (Some(_), Some(a)) => (a, StopReason::Samples),
            (_, last) => {
                // Not decided at any complete round: judge everything that came back (an
                // incomplete last round included) once more.
                let round = self.assessed.max(last.as_ref().map_or(0, |a| a.round));
                let a = self.monitor.assess(round);
                let reason = if cut_short {
                    StopReason::Interrupted
                } else {
                    StopReason::Samples
                };
                (a, reason)
            }
        };
        let sent_samples: u64 = targets.iter().map(|t| t.summary.figures.samples).sum();
        let mut report = SequentialReport {
            round: assessment.round,
            rounds_planned: self.rounds,
            stopped_early: matches!(reason, StopReason::Drift | StopReason::BelowMinEffect),
            reason,
            decision: assessment.decision,
            alpha: self.monitor_alpha(),
            calls_planned,
            calls_used: runner.sent,
            calls_saved: calls_planned.saturating_sub(sent_samples),
            metrics: assessment.metrics,
            message: String::new(),
        };
        report.message = stop_message(&report);
        report
    }

    /// Notes an observation as it arrives: a sample not sent for the budget never pairs.
    pub fn settled(&mut self, obs: &crate::runner::Observation) {
        if obs.status == crate::runner::Status::SkippedBudget {
            if let Some(u) = self.unpairable.get_mut(obs.sample as usize) {
                *u += 1;
            }
        }
    }

    /// The highest sample index the runner may send now: one round ahead of the rounds
    /// assessed (all of them once the gate is decided: the runner is stopped then anyway).
    pub fn allowed(&self) -> u32 {
        if self.stopped_at.is_some() {
            u32::MAX
        } else {
            self.assessed.saturating_add(1)
        }
    }

    /// Whether the watch stopped the run (so the runner's "interrupted" is its doing).
    pub fn stopped_early(&self) -> bool {
        self.stopped_at.is_some_and(|r| r < self.rounds)
    }

    fn monitor_alpha(&self) -> f64 {
        self.monitor.alpha()
    }
}

/// The verdict of a sequential gate: the comparison's own findings (fixed-N drift,
/// inconclusive, too little data) give way to the sequential ones, and the verdict follows
/// the findings as a run's does — a critical drift fails, an undecided gate is
/// `insufficient_data`, warnings warn, otherwise it passes. Thresholds, cases and trend
/// findings count as always.
pub(super) fn judge(
    findings: &mut Vec<Finding>,
    comparison_findings: &[Finding],
    report: &SequentialReport,
    target: &str,
) -> Verdict {
    findings.retain(|f| !comparison_findings.contains(f));
    let ours = report.findings(target);
    findings.splice(0..0, ours);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let undecided = report.decision == SequentialDecision::Undecided;
    if undecided {
        findings.push(crate::compare::insufficient_finding(
            target,
            &report.message,
        ));
    }
    Verdict::of(findings, undecided)
}
