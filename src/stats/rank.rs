//! Rank-based comparisons of two samples (latencies, token counts, scores): the
//! Mann–Whitney U test and Cliff's delta. The Kolmogorov–Smirnov test lives in `ks.rs`.
//!
//! Mann–Whitney is written here rather than taken from `statrs::stats_tests::mannwhitneyu`,
//! which disagrees with scipy and cannot take probity's sample sizes: its `Automatic` method
//! goes exact only when both samples have at most 8 values where scipy goes exact when
//! either has at most 8 (no ties), its exact p-value enumerates all C(n1 + n2, min) subsets
//! (hopeless for 5 baseline values against 2,000 current ones), and it checks comparability
//! over all O(n²) pairs (5·10⁹ comparisons at 100,000 values). Here ranking is one sort, and
//! the exact null distribution is a truncated Gaussian-binomial generating function, linear
//! in the needed tail.

use super::special::norm_sf;
use super::{Alternative, TestResult};

/// Ranks of the pooled sample: the sum of the average ranks of `x`, and the tie term
/// `sum(t^3 - t)` over groups of `t` equal values. NaNs must already be removed.
struct Ranked {
    rank_sum_x: f64,
    tie_term: f64,
    has_ties: bool,
}

fn rank_pooled(x: &[f64], y: &[f64]) -> Ranked {
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i + 1;
        // -0.0 and 0.0 are the same value to a test, though total_cmp orders them
        while j < pooled.len() && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        // ranks i+1 ..= j share their average
        let avg = (i + 1 + j) as f64 / 2.0;
        let in_x = pooled[i..j].iter().filter(|p| p.1).count();
        rank_sum_x += avg * in_x as f64;
        if j - i > 1 {
            has_ties = true;
            tie_term += t * t * t - t;
        }
        i = j;
    }
    Ranked {
        rank_sum_x,
        tie_term,
        has_ties,
    }
}

fn without_nan(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

/// The Mann–Whitney U (Wilcoxon rank-sum) test of `x` against `y`.
///
/// Matches `scipy.stats.mannwhitneyu(x, y, alternative=alt, method="auto",
/// use_continuity=True)`: `statistic` is U of `x` (the number of pairs with `x > y`, ties
/// counting one half); `Greater` tests that `x` is stochastically greater than `y`. The
/// p-value is exact when either sample has at most 8 values and there are no ties, and
/// otherwise the normal approximation with tie correction and continuity correction (scipy's
/// own rule; `test` says which). Use it to compare latency or score distributions between a
/// baseline and a run: it needs no normality and one slow outlier cannot dominate it.
///
/// NaNs are dropped. An empty sample gives `U = 0, p = 1` (no evidence).
pub fn mann_whitney_u(x: &[f64], y: &[f64], alt: Alternative) -> TestResult {
    let x = without_nan(x);
    let y = without_nan(y);
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return TestResult {
            test: "mann_whitney_u",
            statistic: 0.0,
            p: 1.0,
        };
    }
    let ranked = rank_pooled(&x, &y);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = ranked.rank_sum_x - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let (u, factor) = match alt {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let exact = (n1 <= 8 || n2 <= 8) && !ranked.has_ties;
    let (test, sf) = if exact {
        // without ties U is a whole number
        (
            "mann_whitney_u_exact",
            mwu_exact_sf(u.round() as u64, n1, n2),
        )
    } else {
        let n = n1f + n2f;
        let mu = n1f * n2f / 2.0;
        let s = (n1f * n2f / 12.0 * ((n + 1.0) - ranked.tie_term / (n * (n - 1.0)))).sqrt();
        // continuity correction: subtract 1/2, as scipy (it always moves towards the mean,
        // since the two-sided U is the larger of U1, U2). With s == 0 (all values equal) z is
        // -infinity and the p-value 1.
        let z = (u - mu - 0.5) / s;
        ("mann_whitney_u_asymptotic", norm_sf(z))
    };
    TestResult {
        test,
        statistic: u1,
        p: (sf * factor).clamp(0.0, 1.0),
    }
}

/// P(U >= u) under the null for sample sizes `n1, n2` with no ties (exact), computed as
/// scipy does: with the symmetry `P(U >= u) = P(U <= n1 n2 - u)`, summing the shorter
/// lower tail of the frequencies.
fn mwu_exact_sf(u: u64, n1: usize, n2: usize) -> f64 {
    let mn = (n1 as u64) * (n2 as u64);
    let u = u.min(mn);
    let kc = mn - u;
    if u < kc {
        // 1 - P(U <= u) + P(U = u), from the lower tail up to u
        let (cdf, pmf) = mwu_lower_tail(u, n1, n2);
        1.0 - cdf + pmf
    } else {
        mwu_lower_tail(kc, n1, n2).0
    }
}

/// `(P(U <= k), P(U = k))` for the null distribution of U with sample sizes `n1, n2`.
///
/// The number of arrangements with `U = j` is the coefficient of `q^j` in the Gaussian
/// binomial `[n1 + n2 choose m]_q = prod_{i=1..m} (1 - q^{n+i}) / (1 - q^i)` with `m` the
/// smaller and `n` the larger size. Truncated at degree `k` that costs O(m k): divide by
/// each `(1 - q^i)` (a strided prefix sum), then multiply by each `(1 - q^{n+i})`. Exact in
/// i128 while the counts fit (C(n1 + n2, m) below 1.7e38, e.g. m = 8 with n up to ~2e5);
/// beyond that in f64, where only the multiplications subtract and the lost digits are far
/// below the tests' tolerance.
fn mwu_lower_tail(k: u64, n1: usize, n2: usize) -> (f64, f64) {
    let m = n1.min(n2);
    let n = n1.max(n2);
    let k = k as usize;
    if let Some(counts) = gaussian_binomial_i128(m, n, k) {
        let total = binom_i128(m + n, m);
        if let Some(total) = total {
            let cum: i128 = counts.iter().sum();
            let t = total as f64;
            return (cum as f64 / t, counts[k] as f64 / t);
        }
    }
    let counts = gaussian_binomial_f64(m, n, k);
    let ln_total = super::special::ln_binom((m + n) as u64, m as u64);
    let scale = (-ln_total).exp();
    let cum: f64 = counts.iter().sum();
    (cum * scale, counts[k] * scale)
}

fn gaussian_binomial_i128(m: usize, n: usize, k: usize) -> Option<Vec<i128>> {
    let mut a = vec![0i128; k + 1];
    a[0] = 1;
    for i in 1..=m {
        for j in i..=k {
            a[j] = a[j].checked_add(a[j - i])?;
        }
    }
    for i in 1..=m {
        let s = n + i;
        for j in (s..=k).rev() {
            a[j] = a[j].checked_sub(a[j - s])?;
        }
    }
    Some(a)
}

fn gaussian_binomial_f64(m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut a = vec![0f64; k + 1];
    a[0] = 1.0;
    for i in 1..=m {
        for j in i..=k {
            a[j] += a[j - i];
        }
    }
    for i in 1..=m {
        let s = n + i;
        for j in (s..=k).rev() {
            a[j] -= a[j - s];
        }
    }
    a
}

/// C(n, k) in i128, `None` on overflow.
fn binom_i128(n: usize, k: usize) -> Option<i128> {
    let k = k.min(n - k);
    let mut r: i128 = 1;
    for i in 0..k {
        // r * (n - i) / (i + 1) stays integral at every step
        r = r.checked_mul((n - i) as i128)? / (i as i128 + 1);
    }
    Some(r)
}

/// Cliff's delta `P(Y > X) - P(Y < X)` for independent draws `X` from `x` and `Y` from `y`,
/// in `[-1, 1]`: positive when the second sample (the current run) tends to be larger.
///
/// Use it as the effect size beside [`mann_whitney_u`]: a p-value says whether a shift is
/// real, delta says how big it is on a scale that is the same for every metric (|δ| < 0.147
/// is conventionally negligible, < 0.33 small, < 0.474 medium). Computed in O(n log n) from
/// the rank sum, `δ = 1 - 2 U_x / (n_x n_y)`, rather than by comparing all pairs. NaNs are
/// dropped; an empty sample gives 0.
pub fn cliffs_delta(x: &[f64], y: &[f64]) -> f64 {
    let x = without_nan(x);
    let y = without_nan(y);
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let u1 = rank_pooled(&x, &y).rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    (1.0 - 2.0 * u1 / (n1 * n2)).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_samples() {
        let r = mann_whitney_u(&[], &[1.0], Alternative::TwoSided);
        assert_eq!((r.statistic, r.p), (0.0, 1.0));
        let r = mann_whitney_u(&[f64::NAN], &[1.0], Alternative::Less);
        assert_eq!(r.p, 1.0);
        assert_eq!(cliffs_delta(&[], &[]), 0.0);
        assert_eq!(cliffs_delta(&[1.0], &[]), 0.0);
    }

    #[test]
    fn identical_samples() {
        let v = [3.0; 20];
        let r = mann_whitney_u(&v, &v, Alternative::TwoSided);
        assert_eq!(r.p, 1.0);
        assert_eq!(r.statistic, 200.0);
        assert_eq!(cliffs_delta(&v, &v), 0.0);
    }

    #[test]
    fn cliffs_delta_matches_pairwise_definition() {
        let x = [1.0, 2.0, 2.0, 5.0, 7.0];
        let y = [2.0, 3.0, 8.0, 1.0];
        let mut s = 0i32;
        for a in x {
            for b in y {
                s += (b > a) as i32 - (b < a) as i32;
            }
        }
        let want = s as f64 / 20.0;
        assert!((cliffs_delta(&x, &y) - want).abs() < 1e-15);
        assert_eq!(cliffs_delta(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert_eq!(cliffs_delta(&[3.0, 4.0], &[1.0, 2.0]), -1.0);
    }

    #[test]
    fn exact_distribution_sums_to_one() {
        for (m, n) in [(1, 1), (3, 5), (8, 8), (2, 40), (8, 300)] {
            let mn = (m * n) as u64;
            let (cdf, _) = mwu_lower_tail(mn, m, n);
            assert!((cdf - 1.0).abs() < 1e-12, "{m} {n} {cdf}");
            let f = gaussian_binomial_f64(m, n, mn as usize);
            let i = gaussian_binomial_i128(m, n, mn as usize).unwrap_or_default();
            for (a, b) in f.iter().zip(&i) {
                assert!((a - *b as f64).abs() <= 1e-9 * a.abs().max(1.0));
            }
        }
    }
}
