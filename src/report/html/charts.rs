//! Which charts a report shows and the data each is drawn from; the drawing itself is
//! `svg` (pure functions returning escaped SVG markup). Distributions come from the runs'
//! evidence (the bounded samples a comparison keeps), so a stored run redraws the same.

use serde::Serialize;

use super::history::{METRICS, Point, Unit};
use super::svg::{self, Marker, MarkerKind, TrendPoint};
use crate::summary::Evidence;

/// The SVG markup of each chart; an empty string where there is nothing to draw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Charts {
    pub latency: String,
    pub ttft: String,
    pub length: String,
    pub trends: Vec<Trend>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub metric: String,
    pub svg: String,
}

/// This run's samples of a metric and the baseline's.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub current: Vec<f64>,
    pub baseline: Option<Vec<f64>>,
}

/// The distributions a run report overlays on its baseline's.
#[derive(Debug, Clone, Default)]
pub struct Distributions {
    pub latency: Sample,
    pub ttft: Sample,
    pub length: Sample,
}

fn values(e: Option<&Evidence>, key: &str) -> Option<Vec<f64>> {
    e.and_then(|e| e.continuous.get(key))
        .map(|r| r.values.clone())
}

impl Distributions {
    pub fn from_evidence(current: Option<&Evidence>, baseline: Option<&Evidence>) -> Self {
        let sample = |key: &str| Sample {
            current: values(current, key).unwrap_or_default(),
            baseline: values(baseline, key).filter(|v| !v.is_empty()),
        };
        Distributions {
            latency: sample("latency_ms"),
            ttft: sample("ttft_ms"),
            length: sample("output_tokens"),
        }
    }
}

/// The trend metrics a run report shows (the history shows all of `METRICS`).
const RUN_TRENDS: [&str; 5] = [
    "pass_rate",
    "error_rate",
    "latency_p95",
    "ttft_p95",
    "cost_per_request",
];

/// Draws the distributions (where this run has samples) and a trend per key metric that
/// some run has. `run`: the run whose report this is (its trend shows only `RUN_TRENDS`);
/// `None` for the history report.
pub fn draw(d: &Distributions, trend: &[Point], run: Option<&str>) -> Charts {
    let dist = |title: &str, unit: &str, s: &Sample| {
        if s.current.is_empty() {
            String::new()
        } else {
            svg::distribution(title, unit, &s.current, s.baseline.as_deref())
        }
    };
    let markers: Vec<Marker> = trend
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let deploy = (!p.deployment.is_empty()).then(|| Marker {
                at: i,
                label: p.deployment.join("; "),
                kind: MarkerKind::Deployment,
            });
            let alerts = p.alerts.iter().map(move |a| Marker {
                at: i,
                label: format!("{} {} {}", a.rule, a.severity, a.change),
                kind: MarkerKind::Alert,
            });
            deploy.into_iter().chain(alerts)
        })
        .collect();
    let trends = METRICS
        .iter()
        .filter(|m| run.is_none() || RUN_TRENDS.contains(&m.key))
        .filter(|m| trend.iter().any(|p| p.values.contains_key(m.key)))
        .map(|m| {
            let scale = if m.unit == Unit::Share { 100.0 } else { 1.0 };
            let points: Vec<TrendPoint> = trend
                .iter()
                .map(|p| TrendPoint {
                    label: p.started_at.format("%m-%d %H:%M").to_string(),
                    value: p.values.get(m.key).map(|v| v * scale),
                    href: Some(format!("{}.html", super::probe_folder(&p.run_id))),
                })
                .collect();
            Trend {
                metric: m.label.to_string(),
                svg: svg::trend(m.label, m.unit.axis(), &points, &markers),
            }
        })
        .collect();
    Charts {
        latency: dist("latency: this run over the baseline", "ms", &d.latency),
        ttft: dist(
            "time to first token: this run over the baseline",
            "ms",
            &d.ttft,
        ),
        length: dist(
            "output length: this run over the baseline",
            "tokens",
            &d.length,
        ),
        trends,
    }
}
