//! Tests that compare two rates (error rate, refusal rate, pass rate of a case): Fisher's
//! exact test, the pooled two-proportion z-test, a chooser between them, and McNemar's exact
//! test for paired outcomes.
//!
//! Fisher is written here rather than taken from `statrs::stats_tests::fishers_exact`, which
//! disagrees with scipy in two ways (checked against scipy 1.17): it treats probabilities
//! within a relative 1e-4 of the observed one as ties in the two-sided test (scipy uses
//! 1e-14, R 1e-7), and it forms tails as `1 - cdf`, which loses every digit of a p-value
//! below about 1e-16. Here tails are summed directly in log space.

use super::special::{ln_binom, norm_cdf, norm_sf};
use super::{Alternative, TestResult};

/// Relative tolerance under which a table's probability counts as "as extreme as" the
/// observed one in the two-sided Fisher test. scipy uses 1e-14 on boost's pmf; our log-space
/// pmf is good to about 1e-12, so 1e-14 could split mathematically equal probabilities (of
/// mirrored tables) by rounding. 1e-7 (R's choice) keeps those ties, and distinct
/// hypergeometric probabilities are never that close for tables of realistic size.
const FISHER_TIE: f64 = 1e-7;

/// Fisher's exact test on the 2×2 table `[[a, b], [c, d]]` given row-major as
/// `[a, b, c, d]`.
///
/// Matches `scipy.stats.fisher_exact([[a, b], [c, d]], alternative)`: `statistic` is the
/// sample odds ratio `a d / (b c)` (infinite when `b c == 0 < a d`), `Greater` tests an odds
/// ratio above 1 (`a` large), `Less` below 1. Use it for rates when counts are small (a
/// handful of errors): it is exact whatever the counts.
///
/// A table with an all-zero row or column carries no information: p = 1 and the odds ratio
/// is NaN (as scipy).
pub fn fisher_exact(table: [u64; 4], alt: Alternative) -> TestResult {
    let [a, b, c, d] = table;
    let name = "fisher_exact";
    if a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0 {
        return TestResult {
            test: name,
            statistic: f64::NAN,
            p: 1.0,
        };
    }
    let (af, bf, cf, df) = (a as f64, b as f64, c as f64, d as f64);
    let odds = if b > 0 && c > 0 {
        af * df / (bf * cf)
    } else {
        f64::INFINITY
    };
    // a ~ Hypergeometric: population a+b+c+d, `row1 = a+b` marked, `col1 = a+c` drawn
    let h = Hypergeom::new(a + b, c + d, a + c);
    let p = match alt {
        Alternative::Less => h.sum_pmf(h.lo..=a),
        Alternative::Greater => h.sum_pmf(a..=h.hi),
        Alternative::TwoSided => {
            let lp_obs = h.ln_pmf(a);
            let cut = lp_obs + FISHER_TIE.ln_1p();
            (h.lo..=h.hi)
                .map(|k| h.ln_pmf(k))
                .filter(|&lp| lp <= cut)
                .map(f64::exp)
                .sum()
        }
    };
    TestResult {
        test: name,
        statistic: odds,
        p: p.clamp(0.0, 1.0),
    }
}

/// The hypergeometric law of the top-left cell of a 2×2 table with fixed margins.
struct Hypergeom {
    row1: u64,
    row2: u64,
    col1: u64,
    /// ln C(row1 + row2, col1), the normaliser
    ln_total: f64,
    lo: u64,
    hi: u64,
}

impl Hypergeom {
    fn new(row1: u64, row2: u64, col1: u64) -> Self {
        Hypergeom {
            row1,
            row2,
            col1,
            ln_total: ln_binom(row1 + row2, col1),
            lo: col1.saturating_sub(row2),
            hi: col1.min(row1),
        }
    }

    fn ln_pmf(&self, k: u64) -> f64 {
        if k < self.lo || k > self.hi {
            return f64::NEG_INFINITY;
        }
        ln_binom(self.row1, k) + ln_binom(self.row2, self.col1 - k) - self.ln_total
    }

    /// Sum of the pmf over `range`, term by term (no `1 - cdf` cancellation).
    fn sum_pmf(&self, range: std::ops::RangeInclusive<u64>) -> f64 {
        range.map(|k| self.ln_pmf(k).exp()).sum()
    }
}

/// The pooled two-proportion z-test of `x1 / n1` (baseline) against `x2 / n2` (current).
///
/// `statistic` is `z = (p2 - p1) / sqrt(p (1 - p) (1/n1 + 1/n2))` with `p` the pooled rate;
/// `Greater` tests `p2 > p1` (the current rate is higher). The two-sided p equals
/// `scipy.stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)`'s, and
/// all three match `statsmodels.stats.proportion.proportions_ztest([x2, x1], [n2, n1],
/// alternative)`. Use it when every expected cell count is at least 5 (see [`rate_test`]).
///
/// Degenerate inputs: an empty sample, or rates that are both 0 or both 1 (zero pooled
/// variance), give `z = 0, p = 1`. `x > n` is treated as `x == n`.
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64, alt: Alternative) -> TestResult {
    let name = "two_proportion_z";
    let none = TestResult {
        test: name,
        statistic: 0.0,
        p: 1.0,
    };
    if n1 == 0 || n2 == 0 {
        return none;
    }
    let (x1, x2) = (x1.min(n1), x2.min(n2));
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let var = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    if var <= 0.0 {
        return none;
    }
    let z = (x2 as f64 / n2f - x1 as f64 / n1f) / var.sqrt();
    let p = match alt {
        Alternative::Greater => norm_sf(z),
        Alternative::Less => norm_cdf(z),
        Alternative::TwoSided => 2.0 * norm_sf(z.abs()),
    };
    TestResult {
        test: name,
        statistic: z,
        p: p.clamp(0.0, 1.0),
    }
}

/// Compare the baseline rate `x1 / n1` with the current `x2 / n2`, choosing the test.
///
/// Fisher's exact test (on `[[x2, n2 - x2], [x1, n1 - x1]]`, so `Greater` again means the
/// current rate is higher and `statistic` is the odds ratio) when any expected cell count of
/// the 2×2 table is below 5, the pooled z-test ([`two_proportion_z`]) otherwise. Why: the z
/// (chi-square) approximation is poor with small expected counts (Cochran's rule), which is
/// exactly the common case of rare errors; with large counts the two agree closely and z is
/// O(1) where Fisher's two-sided sum costs O(n). `test` tells which was used.
pub fn rate_test(x1: u64, n1: u64, x2: u64, n2: u64, alt: Alternative) -> TestResult {
    if n1 == 0 || n2 == 0 {
        return two_proportion_z(x1, n1, x2, n2, alt);
    }
    let (x1, x2) = (x1.min(n1), x2.min(n2));
    let total = (n1 + n2) as f64;
    let successes = (x1 + x2) as f64;
    let failures = total - successes;
    let min_expected = n1.min(n2) as f64 * successes.min(failures) / total;
    if min_expected < 5.0 {
        fisher_exact([x2, n2 - x2, x1, n1 - x1], alt)
    } else {
        two_proportion_z(x1, n1, x2, n2, alt)
    }
}

/// McNemar's exact test for paired binary outcomes, from the discordant counts: `b` pairs
/// that passed in the baseline and failed now, `c` the reverse.
///
/// Two-sided, matching `scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue` (and
/// `statsmodels.stats.contingency_tables.mcnemar(exact=True)`): `p = min(1, 2 P(X <= min(b,
/// c)))` with `X ~ Binomial(b + c, 1/2)`. `statistic` is `min(b, c)`. Use it when the same
/// cases ran in both runs and you compare per-case outcomes. No discordant pair (`b + c ==
/// 0`) gives p = 1.
pub fn mcnemar_exact(b: u64, c: u64) -> TestResult {
    let n = b + c;
    let k = b.min(c);
    let name = "mcnemar_exact";
    if n == 0 || b == c {
        return TestResult {
            test: name,
            statistic: k as f64,
            p: 1.0,
        };
    }
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let tail: f64 = (0..=k).map(|i| (ln_binom(n, i) - ln_half_n).exp()).sum();
    TestResult {
        test: name,
        statistic: k as f64,
        p: (2.0 * tail).min(1.0),
    }
}

/// One-sided exact McNemar test towards worse: of `to_bad + to_good` discordant pairs,
/// `to_bad` went from good to bad. `p = P(X >= to_bad)` with `X ~ Binomial(to_bad + to_good,
/// 1/2)` (scipy `binomtest(to_bad, n, 0.5, alternative="greater")`); `statistic` is
/// `to_bad`. No discordant pair gives p = 1. Unlike halving the two-sided p, this is the
/// exact tail in both directions (an improvement gives p >= 1/2, not a flat 1).
pub fn mcnemar_exact_one_sided(to_bad: u64, to_good: u64) -> TestResult {
    let n = to_bad + to_good;
    let name = "mcnemar_exact_one_sided";
    if n == 0 {
        return TestResult {
            test: name,
            statistic: 0.0,
            p: 1.0,
        };
    }
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    // Sum the shorter tail for accuracy: P(X >= k) = 1 - P(X <= k - 1).
    let p = if 2 * to_bad > n {
        (to_bad..=n)
            .map(|i| (ln_binom(n, i) - ln_half_n).exp())
            .sum::<f64>()
    } else {
        1.0 - (0..to_bad)
            .map(|i| (ln_binom(n, i) - ln_half_n).exp())
            .sum::<f64>()
    };
    TestResult {
        test: name,
        statistic: to_bad as f64,
        p: p.clamp(0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_zero_margins_give_p_one() {
        for t in [[0, 0, 0, 0], [0, 0, 3, 4], [0, 5, 0, 7], [3, 0, 4, 0]] {
            let r = fisher_exact(t, Alternative::TwoSided);
            assert_eq!(r.p, 1.0, "{t:?}");
        }
    }

    #[test]
    fn z_degenerate() {
        for (x1, n1, x2, n2) in [(0, 0, 0, 0), (0, 10, 0, 0), (0, 10, 0, 20), (10, 10, 5, 5)] {
            let r = two_proportion_z(x1, n1, x2, n2, Alternative::TwoSided);
            assert_eq!((r.statistic, r.p), (0.0, 1.0));
            let r = rate_test(x1, n1, x2, n2, Alternative::Greater);
            assert_eq!(r.p, 1.0);
        }
    }

    #[test]
    fn rate_test_chooses_by_expected_counts() {
        assert_eq!(
            rate_test(1, 100, 3, 100, Alternative::Greater).test,
            "fisher_exact"
        );
        assert_eq!(
            rate_test(30, 100, 45, 100, Alternative::Greater).test,
            "two_proportion_z"
        );
        // same direction convention in both branches: the current rate is higher
        assert!(rate_test(0, 100, 6, 100, Alternative::Greater).p < 0.05);
        assert!(rate_test(10, 100, 40, 100, Alternative::Greater).p < 0.05);
        assert!(rate_test(0, 100, 6, 100, Alternative::Less).p > 0.5);
    }

    #[test]
    fn mcnemar_degenerate() {
        assert_eq!(mcnemar_exact(0, 0).p, 1.0);
        assert_eq!(mcnemar_exact(4, 4).p, 1.0);
        assert_eq!(mcnemar_exact(0, 1).p, 1.0);
        assert!((mcnemar_exact(0, 5).p - 0.0625).abs() < 1e-15);
    }
}
