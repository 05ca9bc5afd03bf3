//! Descriptive statistics: quantiles (numpy's default linear interpolation), median, mean,
//! the median absolute deviation and the robust z-score built on it.
//!
//! NaNs carry no information about a latency or a score, so every function that takes raw
//! values ignores them; [`quantile`] takes an already sorted slice and documents that it must
//! hold no NaN.

/// The factor that makes the raw MAD a consistent estimate of a normal standard deviation
/// (`1 / Phi^{-1}(3/4)`, scipy's `median_abs_deviation(scale="normal")` uses the same).
pub const MAD_SCALE: f64 = 1.482_602_218_505_602;

/// The `q`-quantile of an ascending `sorted` slice, with numpy's default method
/// (`numpy.quantile(a, q, method="linear")`): position `h = (n - 1) q`, interpolated
/// linearly between the two neighbouring order statistics.
///
/// Use it for latency percentiles of a finished run (p50, p95, p99). Returns `None` for an
/// empty slice or `q` outside `[0, 1]` (or NaN). Precondition: `sorted` is ascending and
/// holds no NaN (sort with `f64::total_cmp` after filtering NaNs); otherwise the result is
/// some value of the slice, not an error.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let a = sorted[lo];
    match sorted.get(lo + 1) {
        Some(&b) if frac > 0.0 => Some(lerp(a, b, frac)),
        _ => Some(a),
    }
}

/// numpy's `_lerp`: `a + (b - a) t`, computed from the nearer end so the result stays
/// within `[a, b]` and is exact at both ends. Infinite ends (bootstrap ratios over a zero
/// baseline) give the infinite end rather than numpy's NaN from `inf - inf`.
pub(crate) fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b || t == 0.0 {
        return a;
    }
    if t == 1.0 {
        return b;
    }
    let diff = b - a;
    if !diff.is_finite() {
        return if a.is_infinite() { a } else { b };
    }
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The median of `values` (any order; NaNs ignored), as `numpy.median`: the mean of the two
/// middle values for an even count. `None` when no non-NaN value is left.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    median_in_place(&mut v)
}

/// Median by selection (O(n)), reordering `v`; `v` must hold no NaN.
pub(crate) fn median_in_place(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (left, &mut upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    // the lower middle is the largest element left of `mid`
    let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(lerp(lower, upper, 0.5))
}

/// The arithmetic mean of `values` (NaNs ignored); `None` when no value is left.
pub fn mean(values: &[f64]) -> Option<f64> {
    let (sum, count) = values
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, c), &x| (s + x, c + 1));
    (count > 0).then(|| sum / count as f64)
}

/// The median and the raw median absolute deviation `median(|x - median|)` of `values`
/// (NaNs ignored), as `(median, mad)`.
///
/// Matches `numpy.median(x)` and `scipy.stats.median_abs_deviation(x, scale=1.0)`. Use it to
/// flag outliers (with [`robust_z`]) where one slow answer must not move the yardstick as it
/// would move a mean and standard deviation. `None` when no value is left. Multiply the MAD
/// by [`MAD_SCALE`] for a normal-consistent scale.
pub fn mad(values: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let med = median_in_place(&mut v)?;
    for x in &mut v {
        *x = (*x - med).abs();
    }
    let spread = median_in_place(&mut v)?;
    Some((med, spread))
}

/// The robust z-score `(x - median) / (MAD_SCALE * mad)`, with `mad` the raw MAD from
/// [`mad`]; on normal data it is close to the ordinary z-score.
///
/// When `mad == 0` (more than half the values identical) any departure is infinitely many
/// MADs away: the result is 0 for `x == median` and ±infinity otherwise, never NaN (unless
/// an input is NaN).
pub fn robust_z(x: f64, median: f64, mad: f64) -> f64 {
    let d = x - median;
    if d == 0.0 {
        return 0.0;
    }
    if mad == 0.0 {
        return if d > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    d / (MAD_SCALE * mad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_give_none() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(mad(&[]), None);
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(mean(&[f64::NAN, f64::NAN]), None);
    }

    #[test]
    fn quantile_rejects_q_outside_unit() {
        assert_eq!(quantile(&[1.0], -0.1), None);
        assert_eq!(quantile(&[1.0], 1.1), None);
        assert_eq!(quantile(&[1.0], f64::NAN), None);
    }

    #[test]
    fn single_value() {
        assert_eq!(quantile(&[7.0], 0.0), Some(7.0));
        assert_eq!(quantile(&[7.0], 1.0), Some(7.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(mad(&[7.0]), Some((7.0, 0.0)));
    }

    #[test]
    fn linear_interpolation() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn robust_z_with_zero_mad() {
        assert_eq!(robust_z(5.0, 5.0, 0.0), 0.0);
        assert_eq!(robust_z(6.0, 5.0, 0.0), f64::INFINITY);
        assert_eq!(robust_z(4.0, 5.0, 0.0), f64::NEG_INFINITY);
        assert!((robust_z(6.0, 5.0, 1.0) - 1.0 / MAD_SCALE).abs() < 1e-15);
    }
}
