//! The plan: which case, sample and target each request is. Samples go round the cases
//! (every case's first sample before any case's second), and targets are interleaved case by
//! case, so a budget that runs out still leaves every case some samples, and time-of-day or
//! load effects hit every case and both sides of a gate alike.

use crate::golden::Case;

/// One sample of one case on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkItem {
    pub case: usize,
    pub sample: u32,
    pub target: usize,
}

/// Every request of a run, in sending order. `samples` applies where a case sets none.
pub fn plan(cases: &[Case], samples: u32, targets: usize) -> Vec<WorkItem> {
    let per_case: Vec<u32> = cases.iter().map(|c| c.samples.unwrap_or(samples)).collect();
    let rounds = per_case.iter().copied().max().unwrap_or(0);
    let mut items =
        Vec::with_capacity(per_case.iter().map(|&n| n as usize).sum::<usize>() * targets);
    for sample in 0..rounds {
        for (case, &n) in per_case.iter().enumerate() {
            if sample < n {
                for target in 0..targets {
                    items.push(WorkItem {
                        case,
                        sample,
                        target,
                    });
                }
            }
        }
    }
    items
}

/// How many requests the plan of `cases` sends, counted without building it: each case's
/// own `samples` (else `samples`) on every target. Saturates rather than wraps.
pub fn planned_requests(cases: &[Case], samples: u32, targets: usize) -> u64 {
    cases
        .iter()
        .map(|c| u64::from(c.samples.unwrap_or(samples)))
        .fold(0u64, u64::saturating_add)
        .saturating_mul(targets as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::Expect;

    fn case(id: &str, samples: Option<u32>) -> Case {
        Case {
            labels: Default::default(),
            id: id.into(),
            set: "s".into(),
            messages: vec![],
            vars: Default::default(),
            context: vec![],
            samples,
            min_pass_rate: 1.0,
            expect: Expect::default(),
        }
    }

    #[test]
    fn samples_go_round_the_cases_and_targets_interleave() {
        let cases = [case("a", None), case("b", Some(1))];
        let items = plan(&cases, 2, 2);
        let compact: Vec<(usize, u32, usize)> =
            items.iter().map(|w| (w.case, w.sample, w.target)).collect();
        assert_eq!(
            compact,
            [
                (0, 0, 0),
                (0, 0, 1),
                (1, 0, 0),
                (1, 0, 1),
                (0, 1, 0),
                (0, 1, 1)
            ]
        );
    }

    #[test]
    fn the_plan_is_counted_as_it_would_be_built() {
        let cases = [case("a", None), case("b", Some(1)), case("c", Some(7))];
        for (samples, targets) in [(0, 1), (3, 1), (3, 2), (10, 3)] {
            assert_eq!(
                planned_requests(&cases, samples, targets),
                plan(&cases, samples, targets).len() as u64
            );
        }
        // Far beyond what could be built, it saturates instead of wrapping.
        let huge = [case("a", Some(u32::MAX)), case("b", Some(u32::MAX))];
        assert_eq!(planned_requests(&huge, 0, usize::MAX), u64::MAX);
    }
}
