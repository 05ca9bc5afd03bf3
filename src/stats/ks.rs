//! The two-sample Kolmogorov–Smirnov test, as `scipy.stats.ks_2samp(method="auto")`.
//!
//! Written here rather than taken from `statrs::stats_tests::ks_twosample`, which disagrees
//! with scipy: it has no exact one-sided p-values (always Hodges' approximation), refuses the
//! exact two-sided test past n1·n2 = 10,000 where scipy goes exact up to 10,000 per sample,
//! approximates large samples with the limiting Kolmogorov distribution where scipy uses the
//! finite-n one (`kstwo`, see `kolmogorov.rs`), and accumulates the ECDFs by repeated
//! `+= 1/n`, which can miss the exact lattice value of D. Here D is formed from integer
//! counts, and the exact p-values follow Hodges (1958) and Viehmann (2021) as scipy does.

use super::kolmogorov::kstwo_sf;
use super::{Alternative, TestResult};
use statrs::function::gamma::ln_gamma;

/// scipy's `MAX_AUTO_N`: exact p-values when both samples have at most this many values.
const MAX_EXACT_N: usize = 10_000;

/// The two-sample Kolmogorov–Smirnov test of `x` against `y`.
///
/// Matches `scipy.stats.ks_2samp(x, y, alternative=alt, method="auto")`. `statistic` is D:
/// for `TwoSided` the largest absolute gap between the two empirical CDFs; for `Greater`
/// the largest `F_x - F_y` (the alternative that x's CDF lies above y's somewhere, i.e. x
/// tends smaller); for `Less` the largest `F_y - F_x`. The p-value is exact when both
/// samples have at most 10,000 values (`test = "ks_2samp_exact"`), and otherwise the
/// finite-n Kolmogorov distribution at `n = round(n1 n2 / (n1 + n2))` (two-sided) or Hodges'
/// approximation (one-sided) (`"ks_2samp_asymptotic"`); as in scipy, an exact computation
/// that would overflow falls back to those. Use it when the shape of a distribution matters
/// (a new slow tail), not just its location (for that, [`super::mann_whitney_u`]).
///
/// NaNs are dropped. An empty sample gives `D = 0, p = 1`.
pub fn ks_2samp(x: &[f64], y: &[f64], alt: Alternative) -> TestResult {
    let mut xs: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut ys: Vec<f64> = y.iter().copied().filter(|v| !v.is_nan()).collect();
    let (n1, n2) = (xs.len(), ys.len());
    if n1 == 0 || n2 == 0 {
        return TestResult {
            test: "ks_2samp",
            statistic: 0.0,
            p: 1.0,
        };
    }
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    let (max_plus, max_minus) = ecdf_gaps(&xs, &ys);
    let d_num = match alt {
        Alternative::Greater => max_plus,
        Alternative::Less => max_minus,
        Alternative::TwoSided => max_plus.max(max_minus),
    };
    let prod = n1 as f64 * n2 as f64;
    let d = d_num as f64 / prod;
    if n1.max(n2) <= MAX_EXACT_N {
        let g = gcd(n1 as u64, n2 as u64);
        // D lives on the lattice 1/lcm(n1, n2); its numerator over n1·n2 is a multiple of g
        let h = d_num / g;
        let lcm = (n1 as u64 / g) * n2 as u64;
        let d_exact = h as f64 / lcm as f64;
        if h == 0 {
            return TestResult {
                test: "ks_2samp_exact",
                statistic: d_exact,
                p: 1.0,
            };
        }
        if let Some(p) = exact_p(n1 as u64, n2 as u64, g, h, alt) {
            return TestResult {
                test: "ks_2samp_exact",
                statistic: d_exact,
                p: p.clamp(0.0, 1.0),
            };
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = m * n / (m + n);
    let p = match alt {
        Alternative::TwoSided => kstwo_sf(en.round_ties_even() as u64, d),
        _ => {
            // Hodges (1957) eq. 5.3, m the larger sample
            let z = en.sqrt() * d;
            (-2.0 * z * z - 2.0 * z * (m + 2.0 * n) / (m * n * (m + n)).sqrt() / 3.0).exp()
        }
    };
    TestResult {
        test: "ks_2samp_asymptotic",
        statistic: d,
        p: p.clamp(0.0, 1.0),
    }
}

/// The largest `F_x - F_y` and `F_y - F_x` over all data points, as integer numerators over
/// `n1 n2` (`F_x(v) n1 n2 = #{x <= v} n2`), so D is exact.
fn ecdf_gaps(xs: &[f64], ys: &[f64]) -> (u64, u64) {
    let (n1, n2) = (xs.len() as i64, ys.len() as i64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut plus, mut minus) = (0i64, 0i64);
    while i < xs.len() || j < ys.len() {
        let v = match (xs.get(i), ys.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < xs.len() && xs[i] <= v {
            i += 1;
        }
        while j < ys.len() && ys[j] <= v {
            j += 1;
        }
        let diff = i as i64 * n2 - j as i64 * n1;
        plus = plus.max(diff);
        minus = minus.max(-diff);
    }
    (plus as u64, minus as u64)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact p-value for `D >= h / lcm(n1, n2)`, or `None` where the computation overflows
/// (scipy then falls back to the asymptotic p-value, and so do we).
fn exact_p(n1: u64, n2: u64, g: u64, h: u64, alt: Alternative) -> Option<f64> {
    let p = match alt {
        Alternative::TwoSided => {
            if n1 == n2 {
                prob_outside_square(n1, h)
            } else {
                outer_prob_inside(n1, n2, g, h)
            }
        }
        _ => {
            if n1 == n2 {
                // binom(2n, n - h) / binom(2n, n) as a product, without huge binomials
                (0..h).fold(1.0, |p, j| {
                    p * (n1 as f64 - j as f64) / (n1 as f64 + j as f64 + 1.0)
                })
            } else {
                let total = binom(n1 + n2, n1);
                if !total.is_finite() {
                    return None;
                }
                let paths = count_paths_outside(n1, n2, g, h)?;
                if paths > total {
                    return None;
                }
                paths / total
            }
        }
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some(p)
}

/// P(D_{n,n} >= h/n) for equal sample sizes: `2 sum_k (-1)^(k+1) C(2n, n - k h) / C(2n,
/// n)`, evaluated as nested ratios (Horner-like) to avoid the alternating sum's
/// cancellation.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let kmax = n / h;
    for k in (0..=kmax).rev() {
        let mut p1 = 1.0;
        for j in 0..h {
            let num = n as f64 - (k * h) as f64 - j as f64;
            p1 = num * p1 / (n as f64 + (k * h) as f64 + j as f64 + 1.0);
        }
        p = p1 * (1.0 - p);
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that leave the band `|x/m - y/n| <
/// h/lcm`, computed directly as 1 - (inside share) by Viehmann's (2021) recursion, one
/// sliding column at a time, each entry already divided by its binomial so no value grows.
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for e in a.iter_mut().take(maxj as usize) {
        *e = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let (fi, shift) = (i as f64, minj - lastminj);
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let prev = a.get((jj + shift) as usize).copied().unwrap_or(1.0);
            val = (prev * fi + val * j) / (fi + j);
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            for e in a.iter_mut().take(to).skip(from) {
                *e = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1) as usize).copied().unwrap_or(1.0)
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

/// The number of lattice paths from (0, 0) to (m, n) that reach `m y <= n x - h g`
/// somewhere (Hodges 1958, after Drion / Gnedenko / Korolyuk), for the one-sided exact
/// p-value. `None` when a binomial overflows f64.
fn count_paths_outside(m: u64, n: u64, g: u64, h: u64) -> Option<f64> {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mi, ni, gi, hi) = (m as i64, n as i64, g as i64, h as i64);
    let mg = mi / gi;
    let ng = ni / gi;
    let lxj = ni + floor_div(mg - hi, mg);
    if lxj <= 0 {
        return Some(binom(m + n, n));
    }
    let xj: Vec<i64> = (0..lxj)
        .map(|j| floor_div(hi + mg * j + ng - 1, ng))
        .collect();
    let mut b = vec![0.0f64; lxj as usize];
    b[0] = 1.0;
    for j in 1..lxj as usize {
        let mut bj = binom((xj[j] + j as i64) as u64, j as u64);
        for i in 0..j {
            let c = binom((xj[j] - xj[i] + (j - i) as i64) as u64, (j - i) as u64);
            bj -= c * b[i];
        }
        if !bj.is_finite() {
            return None;
        }
        b[j] = bj;
    }
    let mut paths = 0.0;
    for j in 0..lxj as usize {
        let c = binom((mi - xj[j] + ni - j as i64) as u64, (ni - j as i64) as u64);
        paths += b[j] * c;
    }
    paths.is_finite().then_some(paths)
}

/// C(n, k) in f64 as scipy's `special.binom` computes it for integers: a running product
/// for k (or n - k) below 20, else through the log-gamma function.
fn binom(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = if k > n / 2 { n - k } else { k };
    if k < 20 {
        let (mut num, mut den) = (1.0f64, 1.0f64);
        for i in 1..=k {
            num *= (i + n - k) as f64;
            den *= i as f64;
            if num.abs() > 1e50 {
                num /= den;
                den = 1.0;
            }
        }
        return num / den;
    }
    let (nf, kf) = (n as f64, k as f64);
    (ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_identical() {
        let r = ks_2samp(&[], &[1.0], Alternative::TwoSided);
        assert_eq!((r.statistic, r.p), (0.0, 1.0));
        let v = [2.0; 30];
        let r = ks_2samp(&v, &v, Alternative::TwoSided);
        assert_eq!((r.statistic, r.p), (0.0, 1.0));
    }

    #[test]
    fn disjoint_singletons() {
        let r = ks_2samp(&[0.0], &[1.0], Alternative::TwoSided);
        assert_eq!(r.statistic, 1.0);
        assert_eq!(r.p, 1.0);
    }

    #[test]
    fn binom_small_and_large() {
        assert_eq!(binom(10, 3), 120.0);
        assert_eq!(binom(5, 7), 0.0);
        let b = binom(100, 50);
        assert!((b / 1.008_913_445_455_642e29 - 1.0).abs() < 1e-12);
    }
}
