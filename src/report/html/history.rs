//! A probe's history for the trend charts and the history report: the key metrics of each
//! finished run, where a deployment happened (the `model_version` label, any other target
//! label, the configured or the reported model changed from the run before), and which
//! alerts each run opened or resolved.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::HtmlError;
use super::charts::{self, Charts};
use super::view::{AlertLine, alerts_between, ms, pct};
use crate::compare::format_usd;
use crate::pipeline::TargetInfo;
use crate::store::{RunRecord, Store};
use crate::summary::RunSummary;

/// A key metric of the trend: its name, what people call it, and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share, 0..1, shown as a percentage.
    Share,
    Ms,
    Usd,
    /// A score, 0..1.
    Score,
}

impl Unit {
    pub fn axis(self) -> &'static str {
        match self {
            Unit::Share => "%",
            Unit::Ms => "ms",
            Unit::Usd => "USD",
            Unit::Score => "score",
        }
    }

    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Share => pct(v),
            Unit::Ms => ms(Some(v)),
            Unit::Usd => format_usd(v),
            Unit::Score => format!("{v:.3}"),
        }
    }
}

/// The key metrics, in the order the history shows them.
pub const METRICS: [Metric; 12] = [
    Metric {
        key: "pass_rate",
        label: "pass rate",
        unit: Unit::Share,
    },
    Metric {
        key: "error_rate",
        label: "error rate",
        unit: Unit::Share,
    },
    Metric {
        key: "latency_p50",
        label: "latency p50",
        unit: Unit::Ms,
    },
    Metric {
        key: "latency_p95",
        label: "latency p95",
        unit: Unit::Ms,
    },
    Metric {
        key: "ttft_p95",
        label: "TTFT p95",
        unit: Unit::Ms,
    },
    Metric {
        key: "cost_per_request",
        label: "cost per request",
        unit: Unit::Usd,
    },
    Metric {
        key: "format_compliance",
        label: "format compliance",
        unit: Unit::Share,
    },
    Metric {
        key: "over_refusal",
        label: "over-refusal",
        unit: Unit::Share,
    },
    Metric {
        key: "under_refusal",
        label: "under-refusal",
        unit: Unit::Share,
    },
    Metric {
        key: "grounding_support",
        label: "grounding support",
        unit: Unit::Score,
    },
    Metric {
        key: "similarity",
        label: "similarity",
        unit: Unit::Score,
    },
    Metric {
        key: "judge_pass",
        label: "judge pass",
        unit: Unit::Share,
    },
];

fn values(s: &RunSummary) -> BTreeMap<&'static str, f64> {
    let f = &s.figures;
    let q = &s.quality;
    let mut m = BTreeMap::new();
    m.insert("pass_rate", f.pass_rate);
    m.insert("error_rate", f.error_rate);
    let mut put = |k: &'static str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            m.insert(k, v);
        }
    };
    put("latency_p50", f.latency_ms.p50);
    put("latency_p95", f.latency_ms.p95);
    put("ttft_p95", f.ttft_ms.p95);
    put(
        "cost_per_request",
        (f.requests > 0).then(|| f.cost_usd / f.requests as f64),
    );
    put("format_compliance", q.format_compliance.map(|r| r.value));
    put("over_refusal", q.over_refusal.map(|r| r.value));
    put("under_refusal", q.under_refusal.map(|r| r.value));
    put("grounding_support", q.grounding_support.map(|r| r.value));
    put("similarity", q.similarity.map(|r| r.value));
    put("judge_pass", q.judge_pass.map(|r| r.value));
    m
}

/// One run of the trend.
#[derive(Debug, Clone)]
pub struct Point {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub verdict: String,
    pub values: BTreeMap<&'static str, f64>,
    /// What changed from the run before (`model_version 1 → 2`): a deployment marker.
    pub deployment: Vec<String>,
    /// Alerts this run opened or resolved.
    pub alerts: Vec<AlertLine>,
}

/// What identifies a deployment of a run's first target.
#[derive(Debug, Clone, Default, PartialEq)]
struct Deployed {
    model: String,
    labels: BTreeMap<String, String>,
    reported: Vec<String>,
}

fn deployed(store: &Store, r: &RunRecord) -> Result<Deployed, HtmlError> {
    let info: Option<TargetInfo> = r
        .targets
        .as_array()
        .and_then(|a| a.first())
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    Ok(Deployed {
        model: info.as_ref().map(|i| i.model.clone()).unwrap_or_default(),
        labels: info.map(|i| i.labels).unwrap_or_default(),
        reported: store.reported_models(&r.id)?,
    })
}

fn changes(before: &Deployed, now: &Deployed) -> Vec<String> {
    let mut out = Vec::new();
    if before.model != now.model {
        out.push(format!("model {} → {}", before.model, now.model));
    }
    let keys: std::collections::BTreeSet<&String> =
        before.labels.keys().chain(now.labels.keys()).collect();
    for k in keys {
        let (a, b) = (before.labels.get(k), now.labels.get(k));
        if a != b {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(none)".to_string());
            out.push(format!("{k} {} → {}", show(a), show(b)));
        }
    }
    // A run that got no answer reports no model: that is an outage, not a deployment.
    if before.reported != now.reported && !before.reported.is_empty() && !now.reported.is_empty() {
        out.push(format!(
            "reported model {} → {}",
            before.reported.join(", "),
            now.reported.join(", ")
        ));
    }
    out
}

/// The probe's last `n` finished runs, oldest first; with `up_to`, only runs started no
/// later than it (a run report's trend ends at its run).
pub fn points(
    store: &Store,
    probe: &str,
    n: usize,
    up_to: Option<&RunRecord>,
) -> Result<Vec<Point>, HtmlError> {
    // One more than shown: the oldest shown run's deployment marker needs the run before.
    // Newest first; for a run report of an older run, fetch more until enough runs up to
    // it are in (each record carries its whole document, so not the whole history at once).
    let mut limit = n.saturating_add(1);
    let loaded = loop {
        let runs = store.finished_runs(probe, limit)?;
        let up_to_it = |r: &&RunRecord| up_to.is_none_or(|u| r.started_at <= u.started_at);
        if runs.len() < limit || runs.iter().filter(up_to_it).count() > n {
            break runs;
        }
        limit = limit.saturating_mul(4);
    };
    // When each run's successor started: the alerts between are that run's.
    let all_starts: Vec<DateTime<Utc>> = loaded.iter().map(|r| r.started_at).collect();
    let mut runs = loaded;
    if let Some(last) = up_to {
        runs.retain(|r| r.started_at <= last.started_at);
    }
    runs.truncate(n.saturating_add(1));
    runs.reverse();
    let incidents = store.incidents(probe)?;
    let mut out = Vec::new();
    let mut before: Option<Deployed> = None;
    let skip = runs.len().saturating_sub(n);
    for (i, r) in runs.iter().enumerate() {
        let now = deployed(store, r)?;
        let deployment = before
            .as_ref()
            .map(|b| changes(b, &now))
            .unwrap_or_default();
        before = Some(now);
        if i < skip {
            continue;
        }
        let Some(doc) = r.summary.as_ref().filter(|d| d.get("run_id").is_some()) else {
            continue;
        };
        let summary: Option<RunSummary> = doc
            .get("summary")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        let next = all_starts
            .iter()
            .filter(|t| **t > r.started_at)
            .min()
            .copied();
        out.push(Point {
            run_id: r.id.clone(),
            started_at: r.started_at,
            verdict: doc["verdict"]
                .as_str()
                .or(r.verdict.as_deref())
                .unwrap_or("unknown")
                .to_string(),
            values: summary.as_ref().map(values).unwrap_or_default(),
            deployment,
            alerts: alerts_between(&incidents, r.started_at, next),
        });
    }
    Ok(out)
}

/// Everything the history template shows.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    pub title: String,
    pub version: &'static str,
    pub probe: String,
    pub runs: usize,
    pub metrics: Vec<String>,
    pub rows: Vec<HistoryRow>,
    pub charts: Charts,
    /// The provider's books beside the probes' spend (issue 13, `usage import`).
    pub books: Option<super::books::BooksView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub run_id: String,
    pub link: String,
    pub started: String,
    pub verdict: String,
    pub values: Vec<String>,
    pub deployment: String,
    pub alerts: Vec<AlertLine>,
}

/// The history view of `probe`'s last `n` finished runs.
pub fn history_view(store: &Store, probe: &str, n: usize) -> Result<HistoryView, HtmlError> {
    let pts = points(store, probe, n.max(1), None)?;
    if pts.is_empty() {
        let known: Vec<String> = store
            .runs(None, 1_000)?
            .into_iter()
            .map(|r| r.probe)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        let hint = match crate::config::suggest::closest(probe, names.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None if known.is_empty() => String::new(),
            None => format!("; probes with runs: {}", known.join(", ")),
        };
        return Err(HtmlError::NoHistory {
            probe: probe.to_string(),
            hint,
        });
    }
    let rows = pts
        .iter()
        .rev()
        .map(|p| HistoryRow {
            run_id: p.run_id.clone(),
            link: format!("{}.html", super::probe_folder(&p.run_id)),
            started: p.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            verdict: p.verdict.clone(),
            values: METRICS
                .iter()
                .map(|m| {
                    p.values
                        .get(m.key)
                        .map(|v| m.unit.show(*v))
                        .unwrap_or_else(|| "—".to_string())
                })
                .collect(),
            deployment: p.deployment.join("; "),
            alerts: p.alerts.clone(),
        })
        .collect();
    Ok(HistoryView {
        title: format!("{probe} · history of {} runs", pts.len()),
        version: env!("CARGO_PKG_VERSION"),
        probe: probe.to_string(),
        runs: pts.len(),
        metrics: METRICS.iter().map(|m| m.label.to_string()).collect(),
        rows,
        charts: charts::draw(&charts::Distributions::default(), &pts, None),
        books: super::books::books_view(store, pts[0].started_at, Utc::now())?,
    })
}
