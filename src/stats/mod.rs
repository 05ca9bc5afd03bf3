//! Statistics for probity: descriptive summaries, intervals, hypothesis tests, effect sizes,
//! divergences, multiple-testing control, a seeded bootstrap, a reservoir sample and power
//! (minimum detectable effect) estimates.
//!
//! Every test and interval here is checked against scipy / statsmodels by
//! `tests/stats_reference.rs`, which reads vectors that `scripts/scipy_reference.py` writes.
//! statrs supplies the distributions (normal, chi-square, log-gamma); where statrs's own
//! `stats_tests` disagree with scipy the routine is written here, and the file says why.
//!
//! Sign conventions, used throughout so that callers can pass (baseline, current):
//! - rates: sample 1 is the baseline, sample 2 the current run; differences are `p2 - p1` and
//!   [`Alternative::Greater`] means "the current rate is higher".
//! - ranks / KS: scipy's conventions, `x` first: [`Alternative::Greater`] in
//!   [`mann_whitney_u`] means "x is stochastically greater than y", in [`ks_2samp`] "x's
//!   empirical CDF lies above y's somewhere" (x tends to be smaller), as in scipy.
//! - [`cliffs_delta`] is `P(y > x) - P(y < x)`: positive when the second sample is larger.

mod bootstrap;
mod categorical;
mod descriptive;
mod interval;
mod kolmogorov;
mod ks;
mod multiple;
mod power;
mod rank;
mod rates;
mod reservoir;
mod special;
mod wilcoxon;
// Issue 15: anytime-valid statistics for the sequential gate.
pub mod sequential;

pub use bootstrap::{Statistic, bootstrap_ratio};
pub use categorical::{chi2_contingency, js_divergence};
pub use descriptive::{MAD_SCALE, mad, mean, median, quantile, robust_z};
pub use interval::{diff_interval, wilson};
pub use kolmogorov::kstwo_sf;
pub use ks::ks_2samp;
pub use multiple::benjamini_hochberg;
pub use power::{mde_rate, mde_ratio};
pub use rank::{cliffs_delta, mann_whitney_u};
pub use rates::{
    fisher_exact, mcnemar_exact, mcnemar_exact_one_sided, rate_test, two_proportion_z,
};
pub use reservoir::Reservoir;
pub use wilcoxon::wilcoxon_signed_rank;

use serde::{Deserialize, Serialize};

/// The alternative hypothesis of a test (scipy's `alternative=` argument).
///
/// Serialised as scipy spells it: `"two-sided"`, `"greater"`, `"less"`. Each test documents
/// which sample the direction refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// The two samples differ in either direction.
    #[default]
    TwoSided,
    /// The tested quantity is greater (see each test for which one).
    Greater,
    /// The tested quantity is less (see each test for which one).
    Less,
}

/// The outcome of a hypothesis test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    /// Which test (and method) produced this, e.g. `"fisher_exact"`,
    /// `"mann_whitney_u_asymptotic"`; stable strings, fit for reports.
    pub test: &'static str,
    /// The test statistic; each test documents what it is.
    pub statistic: f64,
    /// The p-value, in `[0, 1]`.
    pub p: f64,
}
