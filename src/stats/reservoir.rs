//! A fixed-size uniform sample of a stream of values (Vitter's algorithm R), so a baseline
//! can keep a bounded, unbiased sample of latencies however many observations it has seen.
//! It is written into baseline files, hence serde.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// A uniform random sample of at most `cap` values from everything pushed so far.
///
/// After `seen` pushes every pushed value is in `values` with probability `cap / seen`.
/// Fields are public for serialisation; if a file holds more than `cap` values, pushes still
/// work (they replace among the first `cap`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservoir {
    /// The most values kept.
    pub cap: usize,
    /// How many values were pushed in total.
    pub seen: u64,
    /// The sample, in no particular order.
    pub values: Vec<f64>,
}

impl Reservoir {
    /// An empty reservoir keeping at most `cap` values (0 keeps none, but still counts).
    pub fn new(cap: usize) -> Self {
        Reservoir {
            cap,
            seen: 0,
            values: Vec::new(),
        }
    }

    /// A reservoir holding a uniform sample of at most `cap` of `values`, as if each had
    /// been pushed in turn. Use it to turn a finished run's observations into a baseline.
    pub fn from_values<R: Rng + ?Sized>(
        cap: usize,
        values: impl IntoIterator<Item = f64>,
        rng: &mut R,
    ) -> Self {
        let mut r = Reservoir::new(cap);
        for v in values {
            r.push(v, rng);
        }
        r
    }

    /// Offer one value: kept outright while there is room, afterwards it replaces a random
    /// kept value with probability `cap / seen` (algorithm R).
    pub fn push<R: Rng + ?Sized>(&mut self, x: f64, rng: &mut R) {
        self.seen += 1;
        if self.values.len() < self.cap {
            self.values.push(x);
            return;
        }
        let j = rng.random_range(0..self.seen);
        // j < cap <= len here, so the index is in bounds
        if j < self.cap as u64 {
            self.values[j as usize] = x;
        }
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn keeps_at_most_cap_and_counts_all() {
        let mut rng = StdRng::seed_from_u64(1);
        let r = Reservoir::from_values(10, (0..1000).map(f64::from), &mut rng);
        assert_eq!(r.len(), 10);
        assert_eq!(r.seen, 1000);
        let r = Reservoir::from_values(10, (0..3).map(f64::from), &mut rng);
        assert_eq!(r.values, vec![0.0, 1.0, 2.0]);
        let mut r = Reservoir::from_values(0, (0..3).map(f64::from), &mut rng);
        assert!(r.is_empty());
        r.push(1.0, &mut rng);
        assert_eq!(r.seen, 4);
    }

    #[test]
    fn sample_is_uniform() {
        // each of 100 values should be kept about cap/seen = 20% of the time
        let mut rng = StdRng::seed_from_u64(7);
        let mut hits = [0u32; 100];
        for _ in 0..4000 {
            let r = Reservoir::from_values(20, (0..100).map(f64::from), &mut rng);
            for v in r.values {
                hits[v as usize] += 1;
            }
        }
        // expected 800 each, sd ~25: 6 sd either side
        assert!(hits.iter().all(|&h| (650..=950).contains(&h)), "{hits:?}");
    }

    #[test]
    fn round_trips_through_json() {
        let mut rng = StdRng::seed_from_u64(3);
        let r = Reservoir::from_values(5, [1.5, 2.5, 3.5], &mut rng);
        let s = serde_json::to_string(&r).unwrap_or_default();
        let back: Reservoir = serde_json::from_str(&s).unwrap_or_else(|_| Reservoir::new(0));
        assert_eq!(back, r);
    }

    #[test]
    fn oversized_file_still_pushes() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut r = Reservoir {
            cap: 2,
            seen: 5,
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0],
        };
        for _ in 0..100 {
            r.push(9.0, &mut rng);
        }
        assert_eq!(r.len(), 5);
    }
}
