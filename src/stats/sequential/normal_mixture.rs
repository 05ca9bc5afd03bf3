//! The two-sided normal-mixture boundary (Howard, Ramdas, McAuliffe & Sekhon 2021, eq. (14);
//! `confseq.boundaries.normal_mixture_bound(..., is_one_sided=False)`), and the asymptotic
//! confidence sequence for a mean built on it with the empirical variance (Waudby-Smith,
//! Arbour, Sinha, Kennedy & Ramdas 2021, "Time-uniform central limit theory and asymptotic
//! confidence sequences", Theorem 2.2).
//!
//! For a sum `S_t` with intrinsic time (accumulated variance) `V_t`, the Gaussian mixture of
//! exponential supermartingales `exp(λ S − λ² V / 2)` over `λ ~ N(0, 1/ρ)` is
//! `M_t = sqrt(ρ / (V + ρ)) · exp(S² / (2 (V + ρ)))`, and `M_t ≥ 1/α` exactly when
//! `|S_t| ≥ u(V_t) = sqrt((V + ρ) · ln((V + ρ) / (ρ α²)))`. So the confidence sequence
//! `mean ± u(V_t) / t` and the e-process `M_t(μ₀)` are one and the same test: the
//! sequence excludes `μ₀` exactly when `M_t(μ₀) ≥ 1/α`, which is what lets e-BH combine
//! these metrics with the betting ones.
//!
//! With `V_t = t σ̂²_t` (σ̂² the running sample variance) the sequence is asymptotic: valid
//! as the data grow, like the CLT interval a fixed-N comparison would use, but uniformly
//! over time. `ρ` sets the time the boundary is tightest at: [`best_rho`] for `V*`.

/// The two-sided normal-mixture boundary on `|S_t|` at intrinsic time `v`, level `alpha`,
/// mixture precision `rho` (closed form).
pub fn two_sided_bound(v: f64, alpha: f64, rho: f64) -> f64 {
    let v = v.max(0.0);
    ((v + rho) * (((v + rho) / rho).ln() + 2.0 * (1.0 / alpha).ln())).sqrt()
}

/// The ρ that makes the boundary tightest at intrinsic time `v_opt` for level `alpha`
/// (Howard et al. 2021, eq. (15) approximately; `confseq.boundaries.best_rho`).
pub fn best_rho(v_opt: f64, alpha: f64) -> f64 {
    let l = 2.0 * (1.0 / alpha).ln();
    v_opt / (l + (1.0 + l).ln())
}

/// The mixture e-value `M_t` for a sum `s` at intrinsic time `v` with precision `rho`
/// (saturating at `f64::MAX` rather than overflowing to infinity).
pub fn mixture_e_value(s: f64, v: f64, rho: f64) -> f64 {
    log_mixture_e_value(s, v, rho).exp().min(f64::MAX)
}

/// `ln M_t`, which stays finite where `M_t` itself would overflow.
pub fn log_mixture_e_value(s: f64, v: f64, rho: f64) -> f64 {
    let v = v.max(0.0);
    0.5 * (rho / (v + rho)).ln() + s * s / (2.0 * (v + rho))
}

/// The asymptotic confidence sequence of a mean at one time: its centre, its half-width,
/// and the mixture e-value against `μ₀ = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCs {
    pub n: usize,
    pub mean: f64,
    pub radius: f64,
    /// `M_t(0)`: evidence that the mean is not 0 (two-sided), saturating at `f64::MAX`.
    pub e_zero: f64,
    /// `ln M_t(0)`.
    pub log_e_zero: f64,
}

impl MeanCs {
    /// The sequence for `values` at level `alpha`, tuned to be tightest after `n_opt`
    /// observations. The variance is floored at `var_floor` (a tiny positive number keeps a
    /// run of identical differences from claiming zero width and infinite evidence by
    /// arithmetic accident; a constant stream of 0 still gets a tight sequence).
    pub fn of(values: &[f64], alpha: f64, n_opt: f64, var_floor: f64) -> Option<MeanCs> {
        let n = values.len();
        if n < 2 {
            return None;
        }
        let t = n as f64;
        let mean = values.iter().sum::<f64>() / t;
        let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (t - 1.0);
        let var = var.max(var_floor);
        let v = t * var;
        let rho = best_rho(n_opt.max(1.0) * var, alpha);
        let radius = two_sided_bound(v, alpha, rho) / t;
        let log_e_zero = log_mixture_e_value(t * mean, v, rho);
        Some(MeanCs {
            n,
            mean,
            radius,
            e_zero: log_e_zero.exp().min(f64::MAX),
            log_e_zero,
        })
    }

    pub fn lower(&self) -> f64 {
        self.mean - self.radius
    }

    pub fn upper(&self) -> f64 {
        self.mean + self.radius
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_excludes_zero_exactly_when_the_e_value_reaches_one_over_alpha() {
        for (mean, n) in [(0.1, 50usize), (0.3, 20), (-0.2, 80), (0.05, 400)] {
            let values: Vec<f64> = (0..n)
                .map(|i| mean + if i % 2 == 0 { 0.5 } else { -0.5 })
                .collect();
            let cs = MeanCs::of(&values, 0.05, 100.0, 1e-12).unwrap();
            let excludes = cs.lower() > 0.0 || cs.upper() < 0.0;
            assert_eq!(excludes, cs.e_zero >= 20.0, "{cs:?}");
        }
    }

    #[test]
    fn the_boundary_grows_like_the_square_root_of_time_and_log() {
        let rho = best_rho(100.0, 0.05);
        let (a, b) = (
            two_sided_bound(100.0, 0.05, rho),
            two_sided_bound(400.0, 0.05, rho),
        );
        assert!(b > 2.0 * a && b < 2.6 * a, "{a} {b}");
    }
}
