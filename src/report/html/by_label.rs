//! The run report's "cost by feature" table: a target's figures per label key and value
//! (`summary.by_label`), formatted here so the template only lays them out (handlebars
//! escapes every value, and label values come from files).

use serde::Serialize;

use crate::compare::{format_ms, format_rate, format_usd};
use crate::summary::RunSummary;

/// One label value of one target.
#[derive(Debug, Clone, Serialize)]
pub struct LabelRow {
    pub key: String,
    pub value: String,
    pub requests: u64,
    pub samples: u64,
    pub error_rate: String,
    pub latency_p95: String,
    pub pass_rate: String,
    pub tokens: String,
    pub cost: String,
    pub cost_per_request: String,
}

/// The rows of `s`, by key then value; empty when no label was set.
pub fn rows(s: &RunSummary) -> Vec<LabelRow> {
    let dash = || "—".to_string();
    s.by_label
        .iter()
        .flat_map(|(key, values)| {
            values.iter().map(move |(value, f)| LabelRow {
                key: key.clone(),
                value: value.clone(),
                requests: f.requests,
                samples: f.samples,
                error_rate: format_rate(f.error_rate),
                latency_p95: f.latency_ms.p95.map(format_ms).unwrap_or_else(dash),
                pass_rate: f
                    .pass_rate
                    .map(|r| format_rate(r.value))
                    .unwrap_or_else(dash),
                tokens: format!("{} in / {} out", f.tokens.input, f.tokens.output),
                cost: format_usd(f.cost_usd),
                cost_per_request: f.cost_per_request_usd.map(format_usd).unwrap_or_else(dash),
            })
        })
        .collect()
}
