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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::Expect;

    fn case(id: &str, samples: Option<u32>) -> Case {
        Case {
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
}
