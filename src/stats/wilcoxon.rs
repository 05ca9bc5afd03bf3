//! The Wilcoxon signed-rank test for paired samples, as
//! `scipy.stats.wilcoxon(x, y, zero_method="wilcox", correction=False, method="auto",
//! nan_policy="omit")` in scipy 1.17.
//!
//! Use it when two targets were probed in the same run, case by case and sample by sample, so
//! that each baseline value has a paired candidate value: pairing removes the case-to-case
//! spread (a long prompt is slow on both targets) that an unpaired test such as
//! [`super::mann_whitney_u`] has to treat as noise.
//!
//! statrs has no signed-rank test, so it is written here. scipy 1.17's `method="auto"` picks
//! one of three p-values, by the number `n` of pairs left after NaN pairs are omitted (zero
//! differences still counted):
//! - `n <= 50`, no zero difference and no tie among the `|d|`: the exact null distribution of
//!   `r+`, counted by a DP over rank sums (`test = "wilcoxon_signed_rank_exact"`);
//! - `n <= 13` with zeros or ties: scipy runs `permutation_test` over all `2^n` sign flips,
//!   which is the exact null distribution conditional on the (mid)ranks. The same DP counts
//!   it over doubled ranks, so it is exact and deterministic here as in scipy
//!   (`"wilcoxon_signed_rank_permutation"`);
//! - otherwise the normal approximation with the tie correction of the variance and no
//!   continuity correction (`"wilcoxon_signed_rank_asymptotic"`).
//!
//! The rule is scipy's, including one consequence worth knowing: zeros are dropped from the
//! ranking ("wilcox"), yet a single zero difference moves 14 to 50 pairs from the exact test
//! to the normal approximation, as a single tie does.

use super::special::{norm_cdf, norm_sf};
use super::{Alternative, TestResult};

/// scipy's `method="auto"` goes exact up to this many pairs (zeros included).
const MAX_EXACT_N: usize = 50;
/// With ties or zeros, scipy's exhaustive sign-flip permutation test up to this many pairs
/// (2^13 = 8192 fits in its default 9999 resamples, so the test is exact).
const MAX_PERMUTATION_N: usize = 13;

/// Wilcoxon signed-rank test on paired samples `(x[i], y[i])`, testing the differences
/// `d = x - y`.
///
/// Matches `scipy.stats.wilcoxon(x, y, zero_method="wilcox", correction=False,
/// alternative=alt, method="auto", nan_policy="omit")` (scipy 1.17.1; see the module docs for
/// how "auto" chooses, and `test` for which p-value was used):
/// - pairs where `x[i]` or `y[i]` is NaN are dropped; zero differences are dropped from the
///   ranking (but, as in scipy, still count towards the method thresholds);
/// - the `|d|` are ranked with average ranks for ties; `r+` is the sum of the ranks of the
///   positive differences, `r-` of the negative ones;
/// - `statistic` is scipy's: `min(r+, r-)` for [`Alternative::TwoSided`], `r+` for the
///   one-sided alternatives;
/// - [`Alternative::Greater`] means x tends to be greater than y (differences positive),
///   [`Alternative::Less`] that x tends to be smaller. Two-sided p-values are twice the
///   smaller tail, capped at 1.
///
/// Degenerate inputs give `statistic = NaN, p = 1` ("no evidence"), `test =
/// "wilcoxon_signed_rank"`, where scipy differs:
/// - `x` and `y` of different lengths: scipy raises `ValueError` (or broadcasts a length-1
///   side); here no pairing is guessed.
/// - no non-zero difference (all pairs equal, all NaN, or empty): older scipy raised; scipy
///   1.17 returns `statistic 0, p 1` for 1 to 13 pairs (its permutation test), `statistic 0,
///   p NaN` for more, and `NaN, NaN` when no pair is left.
///
/// A difference that is itself NaN (`inf - inf`) is skipped like a zero, as scipy does.
/// O(n log n) (one sort) for the normal approximation; the exact branches count at most
/// 2^50 sign patterns with a DP of about n³ steps (n ≤ 50).
pub fn wilcoxon_signed_rank(x: &[f64], y: &[f64], alt: Alternative) -> TestResult {
    let degenerate = TestResult {
        test: "wilcoxon_signed_rank",
        statistic: f64::NAN,
        p: 1.0,
    };
    if x.len() != y.len() {
        return degenerate;
    }
    let mut n_pairs = 0usize;
    let mut has_zero = false;
    let mut d: Vec<f64> = Vec::with_capacity(x.len());
    for (&a, &b) in x.iter().zip(y) {
        if a.is_nan() || b.is_nan() {
            continue;
        }
        n_pairs += 1;
        let v = a - b;
        if v == 0.0 {
            has_zero = true;
        } else if !v.is_nan() {
            d.push(v);
        }
    }
    if d.is_empty() {
        return degenerate;
    }
    let ranked = signed_ranks(&mut d);
    let statistic = match alt {
        Alternative::TwoSided => ranked.r_plus.min(ranked.r_minus),
        Alternative::Greater | Alternative::Less => ranked.r_plus,
    };
    let m = d.len();
    let (test, p) = if n_pairs <= MAX_EXACT_N && !has_zero && !ranked.has_ties {
        (
            "wilcoxon_signed_rank_exact",
            sign_flip_p(&ranked.doubled_ranks, ranked.r_plus, alt),
        )
    } else if n_pairs <= MAX_PERMUTATION_N {
        (
            "wilcoxon_signed_rank_permutation",
            sign_flip_p(&ranked.doubled_ranks, ranked.r_plus, alt),
        )
    } else {
        // scipy's expressions, in its order of operations
        let count = m as f64;
        let mean = count * (count + 1.0) * 0.25;
        let var24 = count * (count + 1.0) * (2.0 * count + 1.0);
        let se = ((var24 - ranked.tie_term / 2.0) / 24.0).sqrt();
        let z = (ranked.r_plus - mean) / se;
        let p = match alt {
            Alternative::Greater => norm_sf(z),
            Alternative::Less => norm_cdf(z),
            Alternative::TwoSided => 2.0 * norm_sf(z.abs()),
        };
        ("wilcoxon_signed_rank_asymptotic", p)
    };
    TestResult {
        test,
        statistic,
        p: p.clamp(0.0, 1.0),
    }
}

/// The signed ranks of non-zero, non-NaN differences.
struct SignedRanks {
    r_plus: f64,
    r_minus: f64,
    /// `sum(t^3 - t)` over groups of `t` tied `|d|`.
    tie_term: f64,
    has_ties: bool,
    /// Twice each (average) rank, a whole number; filled only when the exact branches may
    /// need it (at most [`MAX_EXACT_N`] differences).
    doubled_ranks: Vec<u64>,
}

/// Ranks `|d|` (sorting `d` by absolute value in place) with average ranks for ties.
fn signed_ranks(d: &mut [f64]) -> SignedRanks {
    d.sort_unstable_by(|a, b| a.abs().total_cmp(&b.abs()));
    let keep_ranks = d.len() <= MAX_EXACT_N;
    let mut doubled_ranks = Vec::with_capacity(if keep_ranks { d.len() } else { 0 });
    let (mut r_plus, mut r_minus, mut tie_term, mut has_ties) = (0.0, 0.0, 0.0, false);
    let mut i = 0;
    while i < d.len() {
        let mut j = i + 1;
        while j < d.len() && d[j].abs() == d[i].abs() {
            j += 1;
        }
        // ranks i+1 ..= j share their average, (i + 1 + j) / 2: twice it is a whole number
        let doubled = (i + 1 + j) as u64;
        let avg = doubled as f64 / 2.0;
        for &v in &d[i..j] {
            if v > 0.0 {
                r_plus += avg;
            } else {
                r_minus += avg;
            }
            if keep_ranks {
                doubled_ranks.push(doubled);
            }
        }
        if j - i > 1 {
            let t = (j - i) as f64;
            has_ties = true;
            tie_term += t * t * t - t;
        }
        i = j;
    }
    SignedRanks {
        r_plus,
        r_minus,
        tie_term,
        has_ties,
        doubled_ranks,
    }
}

/// The p-value of `r+` under the null that each difference is equally likely positive or
/// negative: with the ranks fixed, `r+` is the sum of a uniformly random subset of them.
///
/// `counts[s]` is the number of subsets of the doubled ranks (halved again when none is odd)
/// summing to `s`, built by the subset-sum DP (one pass per rank, about m³/6 steps: 21,000
/// at m = 50). Every count is at most
/// 2^50, exact in u64, and the tails divided by 2^m are exact in f64 (scipy's float DP is
/// exact too: all its terms are dyadic). Without ties this is scipy's exact distribution
/// (`_get_wilcoxon_distr`), read as it reads it (`P(R+ <= r+)` for `Less`, `P(R+ >= r+)`
/// for `Greater`, twice the smaller for two-sided); with ties it is what scipy's exhaustive
/// `permutation_test` over sign flips counts.
fn sign_flip_p(doubled_ranks: &[u64], r_plus: f64, alt: Alternative) -> f64 {
    // without half ranks (always so without ties) count in whole ranks: half the work
    let unit = if doubled_ranks.iter().all(|r| r % 2 == 0) {
        2
    } else {
        1
    };
    let total: u64 = doubled_ranks.iter().map(|r| r / unit).sum();
    let mut counts = vec![0u64; total as usize + 1];
    counts[0] = 1;
    let mut reach = 0usize;
    for &r in doubled_ranks {
        let r = (r / unit) as usize;
        for s in (0..=reach).rev() {
            counts[s + r] += counts[s];
        }
        reach += r;
    }
    // r+ is a sum of half-integers, exact in f64
    let obs = (2.0 * r_plus / unit as f64).round() as usize;
    let le: u64 = counts[..=obs.min(reach)].iter().sum();
    let ge: u64 = counts[obs.min(reach + 1)..].iter().sum();
    let scale = 0.5f64.powi(doubled_ranks.len() as i32);
    let (p_less, p_greater) = (le as f64 * scale, ge as f64 * scale);
    match alt {
        Alternative::Less => p_less,
        Alternative::Greater => p_greater,
        Alternative::TwoSided => (2.0 * p_less.min(p_greater)).min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranks(n: u64) -> Vec<u64> {
        (1..=n).map(|r| 2 * r).collect()
    }

    #[test]
    fn degenerate_inputs() {
        for (x, y) in [
            (&[1.0, 2.0][..], &[1.0][..]),
            (&[], &[]),
            (&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]),
            (&[f64::NAN, 1.0], &[2.0, f64::NAN]),
            (&[f64::INFINITY], &[f64::INFINITY]),
        ] {
            for alt in [
                Alternative::TwoSided,
                Alternative::Greater,
                Alternative::Less,
            ] {
                let r = wilcoxon_signed_rank(x, y, alt);
                assert!(r.statistic.is_nan(), "{x:?} {y:?}");
                assert_eq!(r.p, 1.0);
                assert_eq!(r.test, "wilcoxon_signed_rank");
            }
        }
    }

    #[test]
    fn exact_distribution_sums_to_one_and_is_symmetric() {
        for n in [1u64, 2, 7, 20, 50] {
            let top = (n * (n + 1) / 2) as f64;
            let r = ranks(n);
            assert_eq!(sign_flip_p(&r, top, Alternative::Less), 1.0);
            assert_eq!(sign_flip_p(&r, 0.0, Alternative::Greater), 1.0);
            assert_eq!(
                sign_flip_p(&r, top, Alternative::Greater),
                0.5f64.powi(n as i32)
            );
            for k in 0..=(top as u64) {
                let k = k as f64;
                let lo = sign_flip_p(&r, k, Alternative::Less);
                let hi = sign_flip_p(&r, top - k, Alternative::Greater);
                assert_eq!(lo, hi, "n {n} k {k}");
            }
        }
    }

    #[test]
    fn signs_and_statistic() {
        // d = [1, -2, 3]: r+ = 1 + 3, r- = 2
        let x = [2.0, 0.0, 3.0];
        let y = [1.0, 2.0, 0.0];
        let g = wilcoxon_signed_rank(&x, &y, Alternative::Greater);
        assert_eq!((g.statistic, g.test), (4.0, "wilcoxon_signed_rank_exact"));
        // P(R+ >= 4) over 8 sign patterns: {3,1}, {3,2}, {1,2,3} -> 3/8
        assert_eq!(g.p, 0.375);
        let t = wilcoxon_signed_rank(&x, &y, Alternative::TwoSided);
        assert_eq!(t.statistic, 2.0);
        // swapping x and y swaps the one-sided p-values
        let l = wilcoxon_signed_rank(&y, &x, Alternative::Less);
        assert_eq!(l.p, g.p);
    }
}
