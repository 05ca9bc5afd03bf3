//! The null distribution of the two-sided one-sample Kolmogorov statistic `D_n` for finite
//! `n` (scipy's `kstwo`), which `ks_2samp` uses for large samples.
//!
//! statrs's KS test approximates this with the limiting Kolmogorov distribution, which is
//! off by O(1/sqrt(n)) relative to scipy's `kstwo.sf(d, round(m n / (m + n)))`. This file
//! follows Simard & L'Ecuyer (2011), as scipy's `_kolmogn` does, choosing per region between
//! the Ruben–Gambino closed forms, the Durbin matrix (Marsaglia–Tsang–Wang), Pomeranz's
//! recursion, the Pelz–Good expansion and Miller's `2 × smirnov` tail approximation, with
//! scipy's cut-offs so that both pick the same method for the same input.

use statrs::function::factorial::ln_factorial;

const EP128: f64 = 3.402_823_669_209_385e38; // 2^128, the rescaling step
const EM128: f64 = 1.0 / EP128;

/// P(D_n > x) for the two-sided one-sample Kolmogorov–Smirnov statistic with `n`
/// observations (scipy `stats.kstwo.sf(x, n)`).
///
/// [`super::ks_2samp`] uses it for large samples; call it directly for a one-sample KS test
/// against a fully specified distribution. `n == 0` or a NaN `x` gives 1 (no evidence).
pub fn kstwo_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: for 1/(2n) <= x <= 1/n, P(D_n <= x) = n!/n^n (2t - 1)^n
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 / nf) * (2.0 * t - 1.0))
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        // Ruben–Gambino at the top end
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        // exact there: the two one-sided events cannot both happen
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - durbin_matrix_cdf(n, x));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_matrix_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
}

/// ln(n! / n^n) by Stirling's series with `n ln n` removed up front (no cancellation).
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // B_2j / (2j (2j - 1)) for j = 8 down to 1, highest power first for Horner
    const STIRLING: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING.iter().fold(0.0, |acc, c| acc * x + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// P(D+_n >= d), the one-sided statistic (scipy `special.smirnov(n, d)`), by the
/// Birnbaum–Tingey sum `d sum_{j=0}^{floor(n(1-d))} C(n, j) (d + j/n)^(j-1) (1 - d -
/// j/n)^(n-j)`. Every term is positive, so summing them in log space (relative to the
/// largest) keeps full relative accuracy even for p-values near the underflow limit.
pub(crate) fn smirnov_sf(n: u64, d: f64) -> f64 {
    if d.is_nan() || d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    let jmax = ((nf - nd).floor().max(0.0) as u64).min(n);
    let ln_n = nf.ln();
    let ln_d = d.ln();
    let ln_fact_n = ln_factorial(n);
    let mut terms = Vec::with_capacity(jmax as usize + 1);
    for j in 0..=jmax {
        let jf = j as f64;
        // 1 - d - j/n = (n - j - n d) / n, formed so small values keep their digits
        let rest = nf - jf - nd;
        if rest <= 0.0 && j < n {
            continue;
        }
        let ln_c = ln_fact_n - ln_factorial(j) - ln_factorial(n - j);
        // (d + j/n)^(j-1) d = d^0 for j = 0
        let ln_a = if j == 0 {
            0.0
        } else {
            (jf - 1.0) * ((nd + jf).ln() - ln_n) + ln_d
        };
        let ln_b = if j == n {
            0.0
        } else {
            (nf - jf) * (rest.ln() - ln_n)
        };
        terms.push(ln_c + ln_a + ln_b);
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return 0.0;
    }
    let sum: f64 = terms.iter().map(|t| (t - max).exp()).sum();
    clip((max + sum.ln()).exp())
}

/// P(D_n <= d) by the Durbin matrix method as Marsaglia, Tsang and Wang compute it: the
/// (k, k) entry of `H^n` times `n!/n^n`, with `d = (k - h)/n`. Intermediate results are
/// rescaled by 2^128 with the exponent kept aside. O(m^3 log n) for m = 2k - 1, so used
/// only where `n d` is small.
fn durbin_matrix_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut pwr = identity(m);
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut h_expnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            pwr = matmul(&pwr, &hm, m);
            expnt += h_expnt;
        }
        hm = matmul(&hm, &hm, m);
        h_expnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for e in &mut hm {
                *e /= EP128;
            }
            h_expnt += 128;
        }
        nn /= 2;
    }
    let mut p = pwr[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= 128;
        }
    }
    clip(ldexp(p, expnt))
}

fn identity(m: usize) -> Vec<f64> {
    let mut a = vec![0.0; m * m];
    for i in 0..m {
        a[i * m + i] = 1.0;
    }
    a
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for l in 0..m {
            let ail = a[i * m + l];
            if ail == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i * m + j] += ail * b[l * m + j];
            }
        }
    }
    c
}

/// `x * 2^e`, in steps so that neither the factor nor an intermediate overflows early.
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// The end points of the non-zero window of row `i` in Pomeranz's recursion.
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// P(D_n <= x) by Pomeranz's (1974) recursion: each row of a 2n+2 step recursion is a
/// convolution of the previous one with (unnormalised) Poisson weights; n! times the last
/// entry is the probability. Only a window of each row is non-zero.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let ni = n as i64;
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0; npwrs];
    let mut twogpower = vec![1.0; npwrs];
    let mut onem2gpower = vec![1.0; npwrs];
    let (g_n, two_g_n, one_m2g_n) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        let mf = m as f64;
        gpower[m] = gpower[m - 1] * g_n / mf;
        twogpower[m] = twogpower[m - 1] * two_g_n / mf;
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / mf;
    }
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt: i32 = 0;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|e| *e = 0.0);
        let (nj1, j2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = nj1;
        let pwrs = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let ln2u = ln2 as usize;
            let start = (k1 - v0s) as usize;
            let conv_start = (j1 - k1) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            // full convolution of v0[start..start+ln2] with pwrs[..ln2], entries
            // conv_start .. conv_start + conv_len
            for (out, c) in (conv_start..conv_start + conv_len).enumerate() {
                let mut s = 0.0;
                let lo = c.saturating_sub(ln2u - 1);
                let hi = c.min(ln2u - 1);
                for a in lo..=hi {
                    let va = v0.get(start + a).copied().unwrap_or(0.0);
                    s += va * pwrs.get(c - a).copied().unwrap_or(0.0);
                }
                if out < v1.len() {
                    v1[out] = s;
                }
            }
            let vmax = v1.iter().copied().fold(0.0, f64::max);
            if vmax > 0.0 && vmax < EM128 {
                v1.iter_mut().for_each(|e| *e *= EP128);
                expnt -= 128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let idx = (ni - v1s).max(0) as usize;
    let mut ans = v1.get(idx).copied().unwrap_or(0.0);
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += 128;
        }
        ans *= m as f64;
    }
    clip(ldexp(ans, expnt))
}

/// P(D_n <= x) by the Pelz–Good (1976) asymptotic expansion to order n^(-3/2), for large n
/// away from the Durbin matrix's region.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in kk.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let denoms = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, den) in kk.iter_mut().zip(denoms) {
        *acc = *acc * q * sqrt2pi / den;
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ks2 = kf * kf;
        let qp = q2.powf(ks2);
        let kspi = PI * kf;
        k2extra += ks2 * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    let mut sum = 0.0;
    for (i, acc) in kk.iter().enumerate() {
        sum += acc / nf.powf(i as f64 / 2.0);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends() {
        assert_eq!(kstwo_sf(10, 0.0), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        assert_eq!(kstwo_sf(10, 0.01), 1.0);
        assert_eq!(smirnov_sf(5, 0.0), 1.0);
        assert_eq!(smirnov_sf(5, 1.0), 0.0);
        assert!((smirnov_sf(1, 0.3) - 0.7).abs() < 1e-15);
    }

    #[test]
    fn methods_agree_where_regions_meet() {
        // Durbin matrix and Pomeranz are both exact; they must agree anywhere
        for (n, x) in [(20u64, 0.15), (50, 0.1), (100, 0.08), (7, 0.3)] {
            let a = durbin_matrix_cdf(n, x);
            let b = pomeranz_cdf(n, x);
            assert!((a - b).abs() < 1e-10, "n={n} x={x}: {a} {b}");
        }
    }
}
