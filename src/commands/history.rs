//! `probity history`: the stored runs, newest first, one line each (or a JSON array), the
//! baseline run of each probe marked. Reading the history never creates a database.

use std::collections::BTreeSet;

use super::{CommandError, database, open_existing};
use crate::cli::{Cli, Format};
use crate::config::display_path;
use crate::exit;
use crate::report::terminal::{Style, sanitize};
use crate::store::RunRecord;

/// One line of the listing, as text cells and as JSON.
struct Line {
    cells: [String; 9],
    json: serde_json::Value,
}

const HEADERS: [&str; 9] = [
    "",
    "run",
    "probe",
    "started (UTC)",
    "status",
    "verdict",
    "samples",
    "errors",
    "p95",
];
/// Columns aligned right (numbers); the others left.
const RIGHT: [bool; 9] = [false, false, false, false, false, false, true, true, true];

fn line(run: &RunRecord, baseline: bool) -> Line {
    let summary = run.summary.as_ref().map(|s| &s["summary"]);
    let number = |key: &str| summary.and_then(|s| s[key].as_f64());
    let p95 = summary.and_then(|s| s["latency_ms"]["p95"].as_f64());
    let status = if run.is_finished() {
        run.status.clone()
    } else {
        "unfinished".to_string()
    };
    let json = serde_json::json!({
        "run_id": run.id,
        "probe": run.probe,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": status,
        "verdict": run.verdict,
        "baseline": baseline,
        "samples": number("samples"),
        "error_rate": number("error_rate"),
        "latency_p95_ms": p95,
        "exit_code": run.exit_code,
    });
    let cells = [
        if baseline { "*" } else { "" }.to_string(),
        run.id.clone(),
        sanitize(&run.probe, 40),
        run.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        status,
        run.verdict.clone().unwrap_or_else(|| "-".into()),
        number("samples")
            .map(|n| format!("{n:.0}"))
            .unwrap_or_else(|| "-".into()),
        number("error_rate")
            .map(|r| format!("{:.1}%", r * 100.0))
            .unwrap_or_else(|| "-".into()),
        p95.map(crate::compare::format_ms)
            .unwrap_or_else(|| "-".into()),
    ];
    Line { cells, json }
}

/// Cells padded to the widest of their column, so no value (`insufficient_data`, a long
/// probe name) pushes the others out of line.
fn table(lines: &[Line]) -> Vec<String> {
    let mut widths = HEADERS.map(|h| h.chars().count());
    for l in lines {
        for (w, c) in widths.iter_mut().zip(&l.cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let row = |cells: &[String]| {
        cells
            .iter()
            .zip(widths.iter().zip(RIGHT))
            .map(|(c, (&w, right))| {
                if right {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end()
            .to_string()
    };
    let headers = HEADERS.map(str::to_string);
    std::iter::once(row(&headers))
        .chain(lines.iter().map(|l| row(&l.cells)))
        .collect()
}

pub fn history(
    cli: &Cli,
    probe: Option<&str>,
    limit: usize,
    format: Format,
) -> Result<i32, CommandError> {
    let path = database(cli, &[])?;
    let Some(store) = open_existing(&path)? else {
        match format {
            Format::Json => println!("[]"),
            Format::Text => println!(
                "no runs stored yet (no database at {})",
                display_path(&path)
            ),
        }
        return Ok(exit::PASSED);
    };
    let runs = store.runs(probe, limit)?;
    let baselines: BTreeSet<(String, String)> = store
        .baselines()?
        .into_iter()
        .map(|b| (b.probe, b.run_id))
        .collect();
    let lines: Vec<Line> = runs
        .iter()
        .map(|r| line(r, baselines.contains(&(r.probe.clone(), r.id.clone()))))
        .collect();
    let any_marked = lines.iter().any(|l| !l.cells[0].is_empty());
    if format == Format::Json {
        let all: Vec<serde_json::Value> = lines.into_iter().map(|l| l.json).collect();
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        return Ok(exit::PASSED);
    }
    if lines.is_empty() {
        println!("no runs stored yet in {}", display_path(&path));
        return Ok(exit::PASSED);
    }
    let style = Style::detect();
    let mut rows = table(&lines).into_iter();
    if let Some(header) = rows.next() {
        println!("{}", style.bold(&header));
    }
    for row in rows {
        println!("{row}");
    }
    if any_marked {
        println!("{}", style.dim("* the probe's baseline run"));
    }
    Ok(exit::PASSED)
}
