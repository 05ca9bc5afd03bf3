//! The betting e-process and confidence sequence for the mean of observations in [0, 1]
//! (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by betting",
//! JRSS-B; the hedged capital process of §4 with predictable plug-in empirical-Bernstein
//! bets, `confseq.betting.betting_mart` with `lambda_predmix_eb`).
//!
//! Against `H₀: mean ≤ m`, a gambler starting with capital 1 bets `λ_i` on each observation
//! and holds `K_t(m) = Π (1 + λ_i (x_i − m))`. With `λ_i ≥ 0` chosen before `x_i` is seen
//! and small enough that no factor is negative, `K_t(m)` is a nonnegative supermartingale
//! under `H₀`, so by Ville's inequality `P(∃t: K_t(m) ≥ 1/α) ≤ α`: an e-process valid at
//! any stopping time. The set of `m` where it stays below `1/α` is a one-sided confidence
//! sequence. The bets follow Waudby-Smith & Ramdas' predictable plug-in:
//! `λ_i = sqrt(2 ln(1/α) / (σ̂²_{i−1} · i · ln(1 + i)))`, with the running mean and variance
//! started from a prior observation (mean ½, variance ¼), truncated at `c / m` (`c = ½`) so
//! that a single loss costs at most half the capital.
//!
//! For the *test* (the e-value a gate fails on) the bets are aGRAPA instead — the adaptive
//! Kelly bet `λ_i = (μ̂_{i−1} − m) / (σ̂²_{i−1} + (μ̂_{i−1} − m)²)` (Waudby-Smith & Ramdas
//! 2023, §B.3; `confseq.betting_strategies.lambda_aKelly`), kept ≥ 0 so the capital stays a
//! supermartingale under the composite `H₀: mean ≤ m`, and truncated at `0.9 / m`.
//! It grows the capital as fast as the data allow when the mean is above `m` — the power a
//! failing gate needs — where the plug-in bets are tuned for a narrow sequence instead.
//!
//! Why betting for rates: a rate's paired difference is bounded, so this needs no
//! asymptotics (exact at every sample size, where the CLT is poor for rare events), and it
//! adapts to the variance: with few discordant pairs its sequence is much tighter than
//! Hoeffding's.

/// Which side of `m` the gambler bets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Bets the mean is above `m`: evidence against `H₀: mean ≤ m`; gives a lower bound.
    Above,
    /// Bets the mean is below `m`: evidence against `H₀: mean ≥ m`; gives an upper bound.
    Below,
}

/// Truncation of the bets: at most this share of the capital can be lost on one step.
pub const TRUNCATION: f64 = 0.5;
/// Truncation of the aGRAPA test bets: bolder, since a gate's signal is often a handful of
/// discordant pairs among many ties, where a bet capped at ½ grows too slowly (any cap
/// below 1 keeps the capital nonnegative, so the level is the same).
pub const AGRAPA_TRUNCATION: f64 = 0.9;

/// Observations in [0, 1] seen so far, and the bets that precede each (predictable: bet `i`
/// uses observations before `i` only).
#[derive(Debug, Clone)]
pub struct Betting {
    alpha: f64,
    xs: Vec<f64>,
    /// The untruncated plug-in bet placed before each observation.
    lambdas: Vec<f64>,
    /// The regularised running mean and variance before each observation (aGRAPA's inputs).
    before: Vec<(f64, f64)>,
    sum: f64,
    sum_sq_dev: f64,
}

impl Betting {
    /// A new process whose bets are tuned for level `alpha` (one-sided).
    pub fn new(alpha: f64) -> Betting {
        Betting {
            alpha,
            xs: Vec::new(),
            lambdas: Vec::new(),
            before: Vec::new(),
            sum: 0.0,
            sum_sq_dev: 0.0,
        }
    }

    pub fn len(&self) -> usize {
        self.xs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// Adds one observation, clamped into [0, 1].
    pub fn push(&mut self, x: f64) {
        let x = if x.is_nan() { 0.5 } else { x.clamp(0.0, 1.0) };
        let t = self.xs.len() as f64 + 1.0;
        // σ̂²_{t−1}: prior ¼ counted as one observation, then squared deviations from the
        // running means (as `lambda_predmix_eb` computes it).
        let var_before = (0.25 + self.sum_sq_dev) / t;
        let lambda = (2.0 * (1.0 / self.alpha).ln() / (var_before * t * (1.0 + t).ln())).sqrt();
        self.lambdas
            .push(if lambda.is_finite() { lambda } else { 0.0 });
        self.before.push(((0.5 + self.sum) / t, var_before));
        self.xs.push(x);
        self.sum += x;
        let mean_now = (0.5 + self.sum) / (t + 1.0);
        self.sum_sq_dev += (x - mean_now).powi(2);
    }

    /// `K_t(m)` after all observations, betting on `side`.
    pub fn capital(&self, m: f64, side: Side) -> f64 {
        let mut log_k = 0.0;
        for (&x, &l) in self.xs.iter().zip(&self.lambdas) {
            let factor = match side {
                Side::Above => 1.0 + l.min(TRUNCATION / m.max(1e-12)) * (x - m),
                Side::Below => 1.0 - l.min(TRUNCATION / (1.0 - m).max(1e-12)) * (x - m),
            };
            log_k += factor.max(0.0).ln();
        }
        log_k.exp()
    }

    /// The aGRAPA capital against `H₀: mean ≤ m`: the e-process a gate tests with.
    pub fn agrapa_capital(&self, m: f64) -> f64 {
        let mut log_k = 0.0;
        for (&x, &(mu, var)) in self.xs.iter().zip(&self.before) {
            let gap = mu - m;
            let kelly = gap / (var + gap * gap);
            let lambda = if kelly.is_finite() { kelly } else { 0.0 };
            let lambda = lambda.clamp(0.0, AGRAPA_TRUNCATION / m.max(1e-12));
            log_k += (1.0 + lambda * (x - m)).max(0.0).ln();
        }
        log_k.exp()
    }

    /// The one-sided bound at level `alpha`: for `Above` the smallest `m` whose capital stays
    /// below `1/α` (a lower bound of the mean), for `Below` the largest (an upper bound).
    /// The capital is monotone in `m`, so bisection finds it to 1e-10.
    pub fn bound(&self, side: Side, alpha: f64) -> f64 {
        let threshold = 1.0 / alpha;
        // Rejected at m: capital ≥ 1/α. Above: rejected for small m; Below: for large m.
        let rejected = |m: f64| self.capital(m, side) >= threshold;
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
        match side {
            Side::Above => {
                if !rejected(0.0) {
                    return 0.0;
                }
                // invariant: rejected(lo), !rejected(hi)
                while hi - lo > 1e-10 {
                    let mid = 0.5 * (lo + hi);
                    if rejected(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                hi
            }
            Side::Below => {
                if !rejected(1.0) {
                    return 1.0;
                }
                // invariant: !rejected(lo), rejected(hi)
                while hi - lo > 1e-10 {
                    let mid = 0.5 * (lo + hi);
                    if rejected(mid) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                lo
            }
        }
    }

    /// The mean of the observations (0.5 with none).
    pub fn mean(&self) -> f64 {
        if self.xs.is_empty() {
            0.5
        } else {
            self.sum / self.xs.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_bracket_the_mean_and_tighten_with_data() {
        let mut b = Betting::new(0.05);
        let mut widths = Vec::new();
        for i in 0..400 {
            b.push(if i % 4 == 0 { 1.0 } else { 0.0 });
            if (i + 1) % 100 == 0 {
                let (lo, hi) = (b.bound(Side::Above, 0.05), b.bound(Side::Below, 0.05));
                assert!(lo <= b.mean() && b.mean() <= hi, "{lo} {} {hi}", b.mean());
                widths.push(hi - lo);
            }
        }
        assert!(widths.windows(2).all(|w| w[1] < w[0]), "{widths:?}");
    }

    #[test]
    fn capital_is_one_before_any_bet_and_grows_against_a_false_null() {
        let mut b = Betting::new(0.05);
        assert_eq!(b.capital(0.5, Side::Above), 1.0);
        for _ in 0..50 {
            b.push(1.0);
        }
        assert!(b.capital(0.5, Side::Above) > 20.0);
        assert!(b.capital(0.5, Side::Below) < 1.0);
    }
}
