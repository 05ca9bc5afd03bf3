//! Confidence intervals for rates: the Wilson score interval for one proportion and
//! Newcombe's hybrid score interval for the difference of two.
//!
//! Wilson rather than the textbook Wald interval because probes run few samples per case and
//! rates sit near 0 or 1 (error rates, refusal rates), where Wald collapses to a zero-width
//! interval and undercovers badly.

use super::special::z_two_sided;

/// The Wilson score interval `(lo, hi)` for a proportion `successes / n`.
///
/// Matches `statsmodels.stats.proportion.proportion_confint(successes, n,
/// alpha=1 - confidence, method="wilson")`. Use it for every rate probity reports (error,
/// refusal, format compliance): it keeps its coverage near 0 and 1 and for small `n`.
///
/// Degenerate inputs: `n == 0` gives `(0, 1)` (nothing is known); `successes > n` is
/// treated as `successes == n`. `confidence` is clamped to `[0, 1)` (0 gives the point
/// `(p, p)`; NaN is read as 0.95). The ends are exactly 0 when `successes == 0` and exactly 1 when
/// `successes == n`, where the closed form only gets within rounding.
pub fn wilson(successes: u64, n: u64, confidence: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let x = successes.min(n);
    let nf = n as f64;
    let p = x as f64 / nf;
    let z = z_two_sided(confidence);
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    let lo = if x == 0 {
        0.0
    } else {
        (center - half).max(0.0)
    };
    let hi = if x == n {
        1.0
    } else {
        (center + half).min(1.0)
    };
    (lo, hi)
}

/// The difference of two proportions `p2 - p1` with Newcombe's hybrid score interval
/// (Newcombe 1998, method 10), returned as `(diff, lo, hi)`.
///
/// Sample 1 is the baseline and sample 2 the current run, so a positive difference means the
/// rate went up. Matches `statsmodels.stats.proportion.confint_proportions_2indep(x2, n2, x1,
/// n1, compare="diff", method="newcomb", alpha=1 - confidence)`. Use it to report how much a
/// rate changed: unlike the Wald difference interval it stays inside `[-1, 1]` and behaves at
/// zero counts.
///
/// With `L_i, U_i` the Wilson limits of `p_i`:
/// `lo = d - sqrt((p2 - L2)^2 + (U1 - p1)^2)`, `hi = d + sqrt((U2 - p2)^2 + (p1 - L1)^2)`.
/// A side with `n == 0` counts as `p = 0` with Wilson interval `(0, 1)`, which makes the
/// difference interval as wide as that ignorance demands.
pub fn diff_interval(x1: u64, n1: u64, x2: u64, n2: u64, confidence: f64) -> (f64, f64, f64) {
    let p1 = rate(x1, n1);
    let p2 = rate(x2, n2);
    let (l1, u1) = wilson(x1, n1, confidence);
    let (l2, u2) = wilson(x2, n2, confidence);
    let d = p2 - p1;
    let lo = d - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt();
    let hi = d + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt();
    (d, lo.max(-1.0), hi.min(1.0))
}

/// `x / n`, with 0 for an empty sample and `x` capped at `n`.
fn rate(x: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        x.min(n) as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sample_is_the_unit_interval() {
        assert_eq!(wilson(0, 0, 0.95), (0.0, 1.0));
        assert_eq!(wilson(3, 0, 0.95), (0.0, 1.0));
    }

    #[test]
    fn ends_are_exact_at_zero_and_all() {
        let (lo, hi) = wilson(0, 10, 0.95);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 1.0);
        let (lo, hi) = wilson(10, 10, 0.95);
        assert_eq!(hi, 1.0);
        assert!(lo > 0.0 && lo < 1.0);
    }

    #[test]
    fn more_successes_than_trials_is_capped() {
        assert_eq!(wilson(12, 10, 0.95), wilson(10, 10, 0.95));
    }

    #[test]
    fn odd_confidences_do_not_panic_or_nan() {
        for c in [0.0, 1.0, 2.0, -1.0, f64::NAN] {
            let (lo, hi) = wilson(3, 10, c);
            assert!(
                lo.is_finite() && hi.is_finite() && lo <= hi,
                "{c}: {lo} {hi}"
            );
        }
        let (lo, hi) = wilson(3, 10, 0.0);
        assert!((lo - 0.3).abs() < 1e-12 && (hi - 0.3).abs() < 1e-12);
    }

    #[test]
    fn difference_with_empty_sides() {
        let (d, lo, hi) = diff_interval(0, 0, 0, 0, 0.95);
        assert_eq!(d, 0.0);
        assert!((-1.0..=0.0).contains(&lo) && (0.0..=1.0).contains(&hi));
        let (d, lo, hi) = diff_interval(0, 0, 5, 10, 0.95);
        assert_eq!(d, 0.5);
        assert!(lo < d && d < hi);
    }
}
