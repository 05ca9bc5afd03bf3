//! The drift comparison on hand-built evidence: edge cases of severity, the direction of the
//! paired case outcome and the finish-reason test on sparse tables.

use probity::compare::{Comparison, Decision, FindingKind, Severity, TestRecord, compare};
use probity::config::Drift;
use probity::stats::Reservoir;
use probity::summary::{CaseOutcome, Count, Evidence};

/// `answered` samples that all passed, with these latencies.
fn evidence(latency: Vec<f64>, answered: u64) -> Evidence {
    let mut e = Evidence::default();
    e.rates.insert(
        "sample_fail".into(),
        Count {
            events: 0,
            n: answered,
        },
    );
    let seen = latency.len() as u64;
    e.continuous.insert(
        "latency_ms".into(),
        Reservoir {
            cap: 5000,
            seen,
            values: latency,
        },
    );
    e
}

/// The test a comparison ran on `metric`.
fn test_of<'a>(report: &'a Comparison, metric: &str) -> &'a TestRecord {
    report.tests.iter().find(|t| t.metric == metric).unwrap()
}

#[test]
fn nothing_below_the_minimum_effect_is_a_finding_whatever_the_critical_effect() {
    // Only the warning minimum raised to ×2.0; the critical effect keeps its default ×1.5.
    // A clear ×1.6 slowdown is below what the user said matters.
    let base: Vec<f64> = (0..200).map(|i| 1000.0 + (i % 50) as f64 * 4.0).collect();
    let slower: Vec<f64> = base.iter().map(|v| v * 1.6).collect();
    let much_slower: Vec<f64> = base.iter().map(|v| v * 2.5).collect();
    let drift = Drift {
        latency_ratio: (2.0, 1.5),
        ..Drift::default()
    };
    let b = evidence(base, 200);
    let found = compare(&b, &evidence(slower, 200), None, &drift, "t", 1).findings;
    assert!(
        !found.iter().any(|f| f.metric.starts_with("latency_")),
        "{found:#?}"
    );
    let found = compare(&b, &evidence(much_slower, 200), None, &drift, "t", 1).findings;
    let median = found.iter().find(|f| f.metric == "latency_median").unwrap();
    assert_eq!(median.severity, Severity::Critical);
}

#[test]
fn cases_that_stop_passing_read_as_a_rise_in_failing_cases() {
    let (mut b, mut c) = (evidence(vec![], 50), evidence(vec![], 50));
    for i in 0..10 {
        let case = |passes| CaseOutcome {
            samples: 5,
            passes,
            min_pass_rate: 1.0,
        };
        b.cases.insert(format!("s/{i}"), case(5));
        c.cases
            .insert(format!("s/{i}"), case(if i == 0 { 5 } else { 0 }));
    }
    let found = compare(&b, &c, None, &Drift::default(), "t", 1).findings;
    let f = found.iter().find(|f| f.metric == "case_pass").unwrap();
    assert_eq!(f.current.unwrap().value, 0.9);
    assert_eq!(f.baseline.unwrap().value, 0.0);
    assert!(
        f.message
            .starts_with("share of cases failing 90.0% vs 0.0% in baseline (+90.0 points"),
        "{}",
        f.message
    );
}

/// `case_pass` is one-sided towards more failing cases, like the other paired rates: 7 cases
/// flipped to fail and none to pass gives scipy.stats.binomtest(7, 7, 0.5,
/// alternative="greater").pvalue = 1/128, half the two-sided McNemar p; cases that improved
/// give the upper tail, never a small p.
#[test]
fn case_pass_is_tested_one_sided_towards_worse() {
    let outcomes = |passing: &[bool]| {
        let mut e = evidence(vec![], 50);
        for (i, &pass) in passing.iter().enumerate() {
            e.cases.insert(
                format!("s/{i}"),
                CaseOutcome {
                    samples: 5,
                    passes: if pass { 5 } else { 0 },
                    min_pass_rate: 1.0,
                },
            );
        }
        e
    };
    let good = outcomes(&[true; 10]);
    let worse = outcomes(&[
        false, false, false, false, false, false, false, true, true, true,
    ]);
    let report = compare(&good, &worse, None, &Drift::default(), "t", 1);
    let t = test_of(&report, "case_pass");
    assert_eq!(t.test, "mcnemar_exact_one_sided");
    assert!((t.p / (1.0 / 128.0) - 1.0).abs() < 1e-12, "p {}", t.p);
    // The same flips the other way: an improvement, p = P(X >= 0) = 1.
    let report = compare(&worse, &good, None, &Drift::default(), "t", 1);
    assert_eq!(test_of(&report, "case_pass").p, 1.0);
}

#[test]
fn sparse_finish_reasons_get_an_exact_test() {
    // 20 answers a side, `length` 6 times in one: expected counts of 3. Pearson's
    // chi-square gives p = 0.0079 here (significant at α = 0.01); Fisher's exact test, as
    // scipy.stats.fisher_exact([[14, 6], [20, 0]]) computes it, p = 0.020196.
    let (mut b, mut c) = (evidence(vec![], 20), evidence(vec![], 20));
    b.finish_reasons.insert("stop".into(), 20);
    c.finish_reasons.insert("stop".into(), 14);
    c.finish_reasons.insert("length".into(), 6);
    let report = compare(&b, &c, None, &Drift::default(), "t", 1);
    let t = test_of(&report, "finish_reason");
    assert_eq!(t.test, "fisher_exact");
    assert!(
        (t.p / 0.020_196_020_196_020_202 - 1.0).abs() < 1e-6,
        "p {}",
        t.p
    );
    // Not significant, yet beyond the minimum divergence: inconclusive, not drift.
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.metric == "finish_reason")
        .collect();
    assert!(
        found.iter().all(|f| f.kind == FindingKind::Inconclusive),
        "{found:#?}"
    );

    // Plenty of answers: the chi-square test, the rare reason (expected 1.5) pooled with the
    // next rarest; scipy.stats.chi2_contingency([[390, 10], [300, 100]], correction=False)
    // gives p = 2.4675990238053444e-20.
    let (mut b, mut c) = (evidence(vec![], 400), evidence(vec![], 400));
    for (e, stop, length, filter) in [(&mut b, 390, 8, 2), (&mut c, 300, 99, 1)] {
        e.finish_reasons.insert("stop".into(), stop);
        e.finish_reasons.insert("length".into(), length);
        e.finish_reasons.insert("content_filter".into(), filter);
    }
    let report = compare(&b, &c, None, &Drift::default(), "t", 1);
    let t = test_of(&report, "finish_reason");
    assert_eq!(t.test, "chi_square");
    assert!(
        (t.p / 2.467_599_023_805_344_4e-20 - 1.0).abs() < 1e-6,
        "p {}",
        t.p
    );
}

#[test]
fn an_inconclusive_tail_never_asks_for_fewer_samples_than_it_had() {
    // 30 a side, the same body, three answers of the current run 15× slower: the p95 moves
    // ×10 or more, but a shape test on 30 values cannot call 3 of them a change. The
    // shift model's sample size is then below 30; the sentence must not ask for fewer
    // samples than the run had (it read "about 6 answered samples a side would decide it").
    let base: Vec<f64> = (0..30).map(|i| 40.0 + f64::from(i % 10)).collect();
    let mut tail = base.clone();
    for v in tail.iter_mut().take(3) {
        *v *= 15.0;
    }
    let report = compare(
        &evidence(base, 30),
        &evidence(tail, 30),
        None,
        &Drift::default(),
        "t",
        1,
    );
    let p95 = report
        .undecided
        .iter()
        .find(|u| u.metric == "latency_p95")
        .unwrap_or_else(|| panic!("p95 decided: {:#?}", report.tests));
    assert!(p95.moved, "{p95:#?}");
    let asked = p95
        .message
        .split("about ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    if p95
        .message
        .contains("answered samples a side would decide it")
    {
        assert!(asked.is_some_and(|n| n > 30), "{}", p95.message);
    }
    assert!(p95.message.contains("would decide it"), "{}", p95.message);
}

#[test]
fn an_unchanged_case_outcome_is_decided_only_at_a_size_that_could_tell() {
    // Case outcomes have no effect interval. One case stops passing and another starts: an
    // effect of 0, but 10 cases could not have shown a rise in failing cases of 5 points:
    // undecided, so a gate cannot pass on it. 5,000 cases could.
    let outcomes = |cases: usize, failing: usize| {
        let mut e = evidence(vec![], 50);
        for i in 0..cases {
            e.cases.insert(
                format!("s/{i}"),
                CaseOutcome {
                    samples: 5,
                    passes: if i == failing { 0 } else { 5 },
                    min_pass_rate: 1.0,
                },
            );
        }
        e
    };
    let decision = |cases: usize| {
        let report = compare(
            &outcomes(cases, 0),
            &outcomes(cases, 1),
            None,
            &Drift::default(),
            "t",
            1,
        );
        test_of(&report, "case_pass").decision
    };
    assert_eq!(decision(10), Decision::Undecided);
    assert_eq!(decision(5000), Decision::BelowMinEffect);
}
