//! Latency-like figures (latency, TTFT) in a high-dynamic-range histogram: percentiles to
//! three significant digits in constant memory, however long a run or a daemon goes.
//!
//! One quantile method everywhere: numpy's default (linear interpolation between the order
//! statistics at rank `(n - 1) q`, Hyndman & Fan type 7), which is what `stats::quantile`
//! computes on exact values and what the drift comparison, its bootstrap and the trend check
//! use. Here the order statistics are read from the histogram (each the middle of its bucket,
//! within 0.1%), so a summary's p95 and a finding's p95 of the same run agree to three
//! significant digits. (The histogram's own `value_at_quantile` is a nearest-rank upper
//! value: at 30 samples its p95 is the 29th value, where type 7 lies between the 28th and
//! 29th — on a heavy tail, twice as far.)

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// p50 / p95 / p99 / mean / max in milliseconds; all `None` when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

/// Records milliseconds at microsecond resolution.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
    /// Exact, because the histogram rounds within its precision.
    sum_ms: f64,
    max_ms: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            // Auto-resizing from 1 µs: no configured ceiling can clip a pathological request.
            #[allow(clippy::expect_used)]
            histogram: Histogram::new(3).expect("3 significant figures is a valid precision"),
            sum_ms: 0.0,
            max_ms: 0.0,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let micros = (ms * 1000.0).round() as u64;
        // `record` grows the auto-resizing histogram; `saturating_record` would clip at its
        // current ceiling instead.
        if self.histogram.record(micros).is_err() {
            self.histogram.saturating_record(micros);
        }
        self.sum_ms += ms;
        self.max_ms = self.max_ms.max(ms);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The `k`-th smallest value (0-based) in milliseconds, as the middle of its bucket (the
    /// exact maximum for the largest).
    fn order_statistic(&self, k: u64) -> Option<f64> {
        let mut seen = 0u64;
        for v in self.histogram.iter_recorded() {
            seen += v.count_at_value();
            if seen > k {
                let micros = self.histogram.median_equivalent(v.value_iterated_to());
                return Some((micros as f64 / 1000.0).min(self.max_ms));
            }
        }
        None
    }

    /// The `q`-quantile in milliseconds by numpy's linear method (see the module comment).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.histogram.len();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let h = (n - 1) as f64 * q;
        let lo = h.floor() as u64;
        let frac = h - lo as f64;
        let a = self.order_statistic(lo)?;
        if frac == 0.0 || lo + 1 >= n {
            return Some(a);
        }
        let b = self.order_statistic(lo + 1)?;
        Some(a + (b - a) * frac)
    }

    pub fn percentiles(&self) -> Percentiles {
        let n = self.histogram.len();
        if n == 0 {
            return Percentiles::default();
        }
        let at = |q: f64| self.quantile(q);
        Percentiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            mean: Some(self.sum_ms / n as f64),
            max: Some(self.max_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_histogram_precision() {
        let mut h = LatencyHistogram::default();
        for i in 1..=1000 {
            h.record(i as f64);
        }
        let p = h.percentiles();
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() <= b * 1e-3;
        // numpy.quantile(range(1, 1001), [0.5, 0.95, 0.99]) = 500.5, 950.05, 990.01
        assert!(close(p.p50, 500.5), "{p:?}");
        assert!(close(p.p95, 950.05), "{p:?}");
        assert!(close(p.p99, 990.01), "{p:?}");
        assert_eq!(p.mean, Some(500.5));
        assert_eq!(p.max, Some(1000.0));
        assert_eq!(
            LatencyHistogram::default().percentiles(),
            Percentiles::default()
        );
    }

    /// The summary's p95 is the comparison's p95 (numpy's linear method on the exact values,
    /// `stats::quantile`): 30 heavy-tailed latencies, where a nearest-rank p95 (the 29th
    /// value, 1,100 ms) is far from numpy's (`numpy.quantile(v, 0.95)` = 866 ms).
    #[test]
    fn percentiles_use_the_comparisons_quantile_method() {
        let mut values: Vec<f64> = (1..=28).map(|i| 300.0 + 10.0 * i as f64).collect();
        values.extend([1100.0, 2100.0]);
        let mut h = LatencyHistogram::default();
        for v in &values {
            h.record(*v);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.5, 0.95, 0.99] {
            let exact = crate::stats::quantile(&values, q).unwrap();
            let got = h.quantile(q).unwrap();
            assert!((got / exact - 1.0).abs() < 1e-3, "q {q}: {got} vs {exact}");
        }
        let p = h.percentiles();
        assert!((p.p95.unwrap() / 866.0 - 1.0).abs() < 1e-3, "{p:?}");
    }
}
