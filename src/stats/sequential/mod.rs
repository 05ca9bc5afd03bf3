//! Anytime-valid statistics for the sequential gate (issue 15): e-processes and confidence
//! sequences that stay valid however often they are looked at, so a gate may test after
//! every round and stop the moment the answer is clear without inflating its error rates.
//!
//! - [`betting`]: the betting confidence sequence / e-process for the mean of bounded
//!   observations (Waudby-Smith & Ramdas 2023, predictable plug-in empirical-Bernstein
//!   bets), used for paired differences of rates (each in {-1, 0, 1}).
//! - [`normal_mixture`]: the two-sided normal-mixture boundary of Howard et al. 2021 and the
//!   asymptotic confidence sequence built on it with the empirical variance (Waudby-Smith et
//!   al. 2021, "time-uniform central limit theory"), used for continuous paired differences.
//! - [`ebh`]: e-BH (Wang & Ramdas 2022), which combines the e-values of every metric at the
//!   gate's α under any dependence between metrics.

pub mod betting;
pub mod ebh;
pub mod normal_mixture;

pub use betting::{Betting, Side};
pub use ebh::e_bh;
pub use normal_mixture::{MeanCs, best_rho, log_mixture_e_value, mixture_e_value, two_sided_bound};
