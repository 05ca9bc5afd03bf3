//! Latency-like figures (latency, TTFT) in a high-dynamic-range histogram: percentiles to
//! three significant digits in constant memory, however long a run or a daemon goes.

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

    pub fn percentiles(&self) -> Percentiles {
        let n = self.histogram.len();
        if n == 0 {
            return Percentiles::default();
        }
        let at = |q: f64| Some(self.histogram.value_at_quantile(q) as f64 / 1000.0);
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
        assert!(close(p.p50, 500.0), "{p:?}");
        assert!(close(p.p95, 950.0), "{p:?}");
        assert!(close(p.p99, 990.0), "{p:?}");
        assert_eq!(p.mean, Some(500.5));
        assert_eq!(p.max, Some(1000.0));
        assert_eq!(
            LatencyHistogram::default().percentiles(),
            Percentiles::default()
        );
    }
}
