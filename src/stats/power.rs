//! Power: the smallest change a comparison of the given sample sizes can detect, so a report
//! can say "no regression found, and one of X or more would have been".
//!
//! Both use the normal approximation and a one-sided test at level `alpha` towards "worse"
//! (a higher rate, a slower median), matching how probity gates. `z_a = Phi^{-1}(1 - alpha)`
//! and `z_b = Phi^{-1}(power)`. Preconditions: `alpha` in (0, 0.5) and `power` in (0.5, 1);
//! outside them the formulas still return a number but it no longer means much.

use super::special::norm_ppf;

/// The smallest absolute increase `d` of a rate `p0` that a one-sided test of `n1` baseline
/// against `n2` current samples detects with probability `power` at level `alpha`.
///
/// Solves `d = z_a sqrt(pbar (1 - pbar) (1/n1 + 1/n2)) + z_b sqrt(p0 (1 - p0) / n1 + p1 (1 -
/// p1) / n2)` for `d`, with `p1 = p0 + d` and `pbar = (n1 p0 + n2 p1) / (n1 + n2)` (the
/// pooled z-test's null variance, and the variance under the alternative); by bisection,
/// since `p1` appears on both sides. Use it to size `samples:` and to qualify a pass.
///
/// Returns `f64::INFINITY` when no increase up to `1 - p0` is detectable (e.g. `n1` or `n2`
/// is 0, or `p0 >= 1`). A negative `p0` counts as 0.
pub fn mde_rate(p0: f64, n1: u64, n2: u64, alpha: f64, power: f64) -> f64 {
    if n1 == 0 || n2 == 0 || p0.is_nan() || p0 >= 1.0 {
        return f64::INFINITY;
    }
    let p0 = p0.max(0.0);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let za = norm_ppf(1.0 - alpha);
    let zb = norm_ppf(power);
    if !za.is_finite() || !zb.is_finite() {
        return f64::INFINITY;
    }
    // excess(d) > 0 once d is detectable
    let excess = |d: f64| {
        let p1 = p0 + d;
        let pbar = (n1f * p0 + n2f * p1) / (n1f + n2f);
        let null_sd = (pbar * (1.0 - pbar) * (1.0 / n1f + 1.0 / n2f))
            .max(0.0)
            .sqrt();
        let alt_sd = (p0 * (1.0 - p0) / n1f + p1 * (1.0 - p1) / n2f)
            .max(0.0)
            .sqrt();
        d - za * null_sd - zb * alt_sd
    };
    let (mut lo, mut hi) = (0.0, 1.0 - p0);
    if excess(hi) < 0.0 {
        return f64::INFINITY;
    }
    // 200 halvings reach the f64 resolution of any interval within [0, 1]
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if excess(mid) >= 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= f64::EPSILON * hi {
            break;
        }
    }
    hi
}

/// The smallest ratio of medians (current / baseline, above 1) of a log-normal-ish metric
/// (latency, tokens) that the Mann–Whitney test detects with probability `power` at
/// one-sided level `alpha`, with `n1` baseline and `n2` current samples.
///
/// `exp((z_a + z_b) log_sd sqrt((1/n1 + 1/n2) pi / 3))`, where `log_sd` is the standard
/// deviation of ln(metric): the normal-theory detectable shift of mean log (= log median for
/// a log-normal), with sample sizes scaled by the Mann–Whitney test's asymptotic relative
/// efficiency against the t-test on normal data, 3/pi ≈ 0.955. Use it to state what a
/// latency comparison could have caught.
///
/// Returns `f64::INFINITY` when `n1` or `n2` is 0 and 1 when `log_sd <= 0` (a constant
/// metric: any change is visible).
pub fn mde_ratio(log_sd: f64, n1: u64, n2: u64, alpha: f64, power: f64) -> f64 {
    if n1 == 0 || n2 == 0 || log_sd.is_nan() {
        return f64::INFINITY;
    }
    if log_sd <= 0.0 {
        return 1.0;
    }
    let z = norm_ppf(1.0 - alpha) + norm_ppf(power);
    let inflate = (1.0 / n1 as f64 + 1.0 / n2 as f64) * std::f64::consts::PI / 3.0;
    (z * log_sd * inflate.sqrt()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate() {
        assert_eq!(mde_rate(0.1, 0, 10, 0.05, 0.8), f64::INFINITY);
        assert_eq!(mde_rate(0.1, 10, 0, 0.05, 0.8), f64::INFINITY);
        assert_eq!(mde_ratio(0.5, 0, 10, 0.05, 0.8), f64::INFINITY);
        assert_eq!(mde_ratio(0.0, 10, 10, 0.05, 0.8), 1.0);
        // a rate already at 1 cannot increase
        assert_eq!(mde_rate(1.0, 100, 100, 0.05, 0.8), f64::INFINITY);
    }

    #[test]
    fn shrinks_with_sample_size() {
        let small = mde_rate(0.02, 100, 100, 0.05, 0.8);
        let large = mde_rate(0.02, 10_000, 10_000, 0.05, 0.8);
        assert!(small.is_finite() && large < small && large > 0.0);
        // from zero, something positive is still needed
        assert!(mde_rate(0.0, 1000, 1000, 0.05, 0.8) > 0.0);
        let r1 = mde_ratio(0.5, 50, 50, 0.05, 0.8);
        let r2 = mde_ratio(0.5, 5000, 5000, 0.05, 0.8);
        assert!(r1 > r2 && r2 > 1.0);
    }
}
