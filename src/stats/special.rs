//! Thin wrappers over statrs's special functions and distributions, in the shapes the tests
//! here need (survival functions, two-sided critical values, log binomials).
//!
//! statrs's normal CDF (via its `erfc`) agrees with scipy's `ndtr` to about 1e-10 relative
//! down to 1e-300, its inverse to about 1e-15, and its chi-square survival function to
//! about 1e-14: all well inside the 1e-6 the reference tests demand, so they are used as is.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use statrs::function::factorial::ln_factorial;

/// The standard normal distribution; building it cannot fail for (0, 1).
fn std_normal() -> Normal {
    Normal::standard()
}

/// P(Z <= z) for a standard normal Z (scipy `special.ndtr`).
pub(crate) fn norm_cdf(z: f64) -> f64 {
    std_normal().cdf(z)
}

/// P(Z > z) for a standard normal Z, without the cancellation of `1 - cdf`.
pub(crate) fn norm_sf(z: f64) -> f64 {
    std_normal().cdf(-z)
}

/// The standard normal quantile (scipy `norm.ppf`); `p` outside `(0, 1)` gives ±infinity.
pub(crate) fn norm_ppf(p: f64) -> f64 {
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else {
        std_normal().inverse_cdf(p)
    }
}

/// The two-sided critical value `z_{1 - (1 - confidence) / 2}`.
///
/// `confidence` is clamped to `[0, 1)`: 0 gives z = 0 (a point interval), and a value at or
/// above 1 (or NaN) would give an infinite z, so it is treated as the largest value below 1.
pub(crate) fn z_two_sided(confidence: f64) -> f64 {
    let c = if confidence.is_nan() {
        0.95
    } else {
        confidence.clamp(0.0, 1.0 - f64::EPSILON)
    };
    norm_ppf(0.5 + c / 2.0)
}

/// P(X > x) for X ~ chi-square with `dof` degrees of freedom (scipy `chi2.sf`).
///
/// `dof` must be at least 1; 0 degrees of freedom (a table with one row or column) has no
/// test, and returns 1 so that callers see "no evidence".
pub(crate) fn chi2_sf(x: f64, dof: usize) -> f64 {
    if dof == 0 || x.is_nan() {
        return 1.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    match ChiSquared::new(dof as f64) {
        Ok(d) => d.sf(x),
        // unreachable for dof >= 1, kept total rather than panicking
        Err(_) => 1.0,
    }
}

/// ln C(n, k), or -infinity when `k > n` (an impossible draw).
pub(crate) fn ln_binom(n: u64, k: u64) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}
