//! Properties of the anytime-valid machinery (issue 15), bounded to a few seconds:
//!
//! - under the null, the betting capital (plug-in and aGRAPA bets) is a nonnegative
//!   supermartingale: it never goes negative, and either crossing (plug-in above `1/α`, or
//!   aGRAPA above `2/α`: each at `α/2`, a union bound) happens in at most about `α` of simulated
//!   sequences (Ville's inequality, checked over every time, not only the last);
//! - the normal-mixture sequence crosses zero under the null in at most about `α` of
//!   sequences, looked at after every observation;
//! - the bounds always bracket the running mean, and e-BH never rejects more than its
//!   largest e-values justify.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use probity::stats::sequential::{Betting, MeanCs, Side, e_bh};

/// Rejections (ever, over `n` looks) out of `trials` null sequences of paired rate
/// differences with discordance `q` each way.
fn betting_null_crossings(seed: u64, q: f64, n: usize, trials: usize, alpha: f64) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut crossed = 0;
    for _ in 0..trials {
        let mut b = Betting::new(alpha);
        let mut ever = false;
        for _ in 0..n {
            let u: f64 = rng.random();
            let d = if u < q {
                -1.0
            } else if u < 2.0 * q {
                1.0
            } else {
                0.0
            };
            b.push((d + 1.0) / 2.0);
            let k = b.capital(0.5, Side::Above);
            let g = b.agrapa_capital(0.5);
            assert!(k >= 0.0 && k.is_finite() && g >= 0.0 && g.is_finite());
            ever |= k >= 1.0 / alpha || g >= 2.0 / alpha;
        }
        crossed += usize::from(ever);
    }
    crossed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn the_betting_e_process_keeps_its_level_under_the_null(
        seed in any::<u64>(),
        q in 0.02f64..0.3,
    ) {
        let (alpha, trials) = (0.05, 300);
        let crossed = betting_null_crossings(seed, q, 120, trials, alpha);
        // α·trials = 20 expected at most; allow binomial noise (+4 sd).
        let limit = alpha * trials as f64 + 4.0 * (alpha * (1.0 - alpha) * trials as f64).sqrt();
        prop_assert!((crossed as f64) <= limit, "{crossed} of {trials} crossed");
    }

    #[test]
    fn the_asymptotic_sequence_keeps_its_level_when_looked_at_every_time(
        seed in any::<u64>(),
        scale in 0.1f64..5.0,
    ) {
        let (alpha, trials, n) = (0.05, 200, 200);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut crossed = 0;
        for _ in 0..trials {
            let mut xs = Vec::with_capacity(n);
            let mut ever = false;
            for i in 0..n {
                // Centred, skewed (exponential minus its mean): the CLT's harder case.
                let u: f64 = rng.random::<f64>().max(1e-12);
                xs.push(scale * (-u.ln() - 1.0));
                // Looked at every 10 observations from 20 on, as rounds of a gate would.
                if i >= 19 && i % 10 == 9 {
                    let cs = MeanCs::of(&xs, alpha, 100.0, 1e-12).unwrap();
                    ever |= cs.lower() > 0.0 || cs.upper() < 0.0;
                }
            }
            crossed += usize::from(ever);
        }
        let limit = alpha * trials as f64 + 4.0 * (alpha * (1.0 - alpha) * trials as f64).sqrt();
        prop_assert!((crossed as f64) <= limit, "{crossed} of {trials} crossed");
    }

    #[test]
    fn betting_bounds_bracket_the_mean(xs in prop::collection::vec(0.0f64..=1.0, 1..200), alpha in 0.01f64..0.2) {
        let mut b = Betting::new(alpha);
        for x in &xs {
            b.push(*x);
        }
        let (lo, hi) = (b.bound(Side::Above, alpha), b.bound(Side::Below, alpha));
        prop_assert!(lo <= b.mean() + 1e-9 && b.mean() <= hi + 1e-9, "{lo} {} {hi}", b.mean());
        prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
    }

    #[test]
    fn e_bh_rejects_a_prefix_of_the_largest(es in prop::collection::vec(0.0f64..1e4, 0..12), alpha in 0.01f64..0.2) {
        let rejected = e_bh(&es, alpha);
        let k = rejected.iter().filter(|r| **r).count();
        for (i, r) in rejected.iter().enumerate() {
            for (j, s) in rejected.iter().enumerate() {
                if *r && !*s {
                    prop_assert!(es[i] >= es[j]);
                }
            }
        }
        if k > 0 {
            let smallest = es.iter().zip(&rejected).filter(|(_, r)| **r).map(|(e, _)| *e).fold(f64::INFINITY, f64::min);
            prop_assert!(smallest >= es.len() as f64 / (alpha * k as f64));
        }
    }
}
