//! The JSON document of a run (`probity run --format json`, the file under `reports/`, and
//! the summary stored with the run). Its shape is documented in `docs/json-output.md` and
//! versioned by `schema_version`; fields are only ever added.

use serde_json::{Value, json};

use crate::pipeline::RunOutcome;

/// Bumped only when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// The run as one JSON object.
pub fn run_document(outcome: &RunOutcome) -> Value {
    let primary = outcome.primary();
    let duration = (outcome.finished_at - outcome.started_at).num_milliseconds() as f64 / 1000.0;
    let mut doc = json!({
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "probe": outcome.probe,
        "status": outcome.status.as_str(),
        "status_reason": outcome.status_reason,
        "verdict": outcome.verdict.as_str(),
        "exit_code": outcome.exit_code,
        "started_at": outcome.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "finished_at": outcome.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_s": duration,
        "trace_id": outcome.trace_id,
        "target": outcome.target_info.first().map(|t| json!(t)).unwrap_or(Value::Null),
        "budget": { "max_cost_usd": outcome.budget_usd, "spent_usd": outcome.runner.spent_usd },
        "summary": primary.map(|t| json!(t.summary)).unwrap_or(Value::Null),
        "cases": primary.map(|t| json!(t.cases)).unwrap_or(json!([])),
        "findings": outcome.findings,
        "baseline": outcome.comparison.as_ref().map(|c| json!({
            "source": c.source,
            "run_id": c.run_id,
            "target": c.target,
            "labels": c.labels,
            "insufficient_data": c.comparison.insufficient,
            "tests": c.comparison.tests,
            "undecided": c.comparison.undecided,
        })),
        "notes": outcome.notes,
    });
    if outcome.targets.len() > 1 {
        doc["targets"] = outcome
            .targets
            .iter()
            .zip(&outcome.target_info)
            .map(|(t, info)| json!({ "target": info, "summary": t.summary, "cases": t.cases }))
            .collect();
    }
    // Issue 15: where a sequential gate stopped, why, and each metric's sequence there.
    if let Some(seq) = &outcome.sequential {
        doc["sequential"] = json!(seq);
    }
    doc
}
