//! `probity history`: the stored runs, newest first, one line each.

use super::{CommandError, open_store, store_path, store_path_of_probe};
use crate::cli::Cli;
use crate::exit;
use crate::report::terminal::Style;

pub fn history(cli: &Cli, probe: Option<&str>, limit: usize) -> Result<i32, CommandError> {
    let path = match probe {
        Some(p) => store_path_of_probe(cli, p),
        None => store_path(cli, None),
    };
    let store = open_store(&path)?;
    let runs = store.runs(probe, limit)?;
    if runs.is_empty() {
        println!("no runs stored yet");
        return Ok(exit::PASSED);
    }
    let style = Style::detect();
    println!(
        "{}",
        style.bold(&format!(
            "{:<24} {:<20} {:<20} {:<16} {:<8} {:>7} {:>7} {:>9}",
            "run", "probe", "started (UTC)", "status", "verdict", "samples", "errors", "p95"
        )),
    );
    for run in runs {
        let summary = run.summary.as_ref().map(|s| &s["summary"]);
        let number = |key: &str| summary.and_then(|s| s[key].as_f64());
        let p95 = summary.and_then(|s| s["latency_ms"]["p95"].as_f64());
        let status = if run.is_finished() {
            run.status.clone()
        } else {
            "unfinished".to_string()
        };
        println!(
            "{:<24} {:<20} {:<20} {:<16} {:<8} {:>7} {:>7} {:>9}",
            run.id,
            run.probe,
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            status,
            run.verdict.as_deref().unwrap_or("-"),
            number("samples")
                .map(|n| format!("{n:.0}"))
                .unwrap_or_else(|| "-".into()),
            number("error_rate")
                .map(|r| format!("{:.1}%", r * 100.0))
                .unwrap_or_else(|| "-".into()),
            p95.map(crate::compare::format_ms)
                .unwrap_or_else(|| "-".into()),
        );
    }
    Ok(exit::PASSED)
}
