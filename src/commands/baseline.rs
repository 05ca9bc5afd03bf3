//! `probity baseline promote | list | show | export`.

use super::{CommandError, database, open_for_reading};
use crate::cli::{BaselineCommand, Cli};
use crate::compare::Baseline;
use crate::config::display_path;
use crate::exit;
use crate::pipeline::target_evidence;
use crate::store::Store;

pub fn baseline(cli: &Cli, command: &BaselineCommand) -> Result<i32, CommandError> {
    let path = database(cli, &[])?;
    if matches!(command, BaselineCommand::List)
        && !path.exists()
        && !crate::store::is_postgres_url(&path.to_string_lossy())
    {
        // Listing creates nothing: no database, no baselines.
        println!(
            "no baselines yet (no database at {}); promote a run with `probity baseline promote <run>`",
            display_path(&path)
        );
        return Ok(exit::PASSED);
    }
    let store = open_for_reading(&path)?;
    match command {
        BaselineCommand::Promote { run, target, force } => {
            promote(&store, run, target.as_deref(), *force)
        }
        BaselineCommand::List => list(&store),
        BaselineCommand::Show { probe } => show(&store, probe),
        BaselineCommand::Export { probe, to } => {
            let baseline = stored(&store, probe)?;
            baseline
                .write(to)
                .map_err(|e| CommandError::Usage(e.to_string()))?;
            println!(
                "wrote the baseline of `{probe}` (run {}) to {}",
                baseline.run_id,
                display_path(to)
            );
            Ok(exit::PASSED)
        }
    }
}

/// The labels of one target of a stored run.
fn labels_of(
    targets: &serde_json::Value,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    targets
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .and_then(|t| serde_json::from_value(t["labels"].clone()).ok())
        .unwrap_or_default()
}

/// Statuses of a run that stopped before it sent its plan: interrupted by Ctrl-C or a
/// shutdown (`cancelled`; `interrupted` in databases of earlier versions).
const CANCELLED: [&str; 2] = ["cancelled", "interrupted"];

fn promote(
    store: &Store,
    run: &str,
    target: Option<&str>,
    force: bool,
) -> Result<i32, CommandError> {
    let record = store.run(run)?;
    // A killed run has no evidence at all, so even --force cannot promote it.
    if !record.is_finished() {
        return Err(CommandError::Usage(format!(
            "run {} did not finish (still going, or its process was killed): it recorded no \
             summary to compare with, so it cannot be a baseline",
            record.id
        )));
    }
    if CANCELLED.contains(&record.status.as_str()) && !force {
        let samples = record
            .summary
            .as_ref()
            .and_then(|s| s["summary"]["samples"].as_u64())
            .map(|n| format!(" after {n} samples"))
            .unwrap_or_default();
        return Err(CommandError::Usage(format!(
            "run {} was {}{samples}: a baseline should be a finished run; promote it anyway \
             with --force",
            record.id, record.status
        )));
    }
    if record.status == "could_not_probe" {
        return Err(CommandError::Usage(format!(
            "run {} could not probe its endpoint; it cannot be a baseline",
            record.id
        )));
    }
    let first = record
        .targets
        .get(0)
        .and_then(|t| t["name"].as_str())
        .unwrap_or("default")
        .to_string();
    let target = target.map(str::to_string).unwrap_or(first);
    let evidence = store
        .evidence(&record.id)?
        .and_then(|e| target_evidence(&e, &target))
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "run {} has no evidence for target `{target}`",
                record.id
            ))
        })?;
    let labels = labels_of(&record.targets, &target);
    let baseline = Baseline::new(
        &record.probe,
        &record.id,
        &target,
        labels.clone(),
        record.started_at,
        evidence,
    );
    let data = serde_json::to_value(&baseline).map_err(|e| CommandError::Usage(e.to_string()))?;
    store.promote(&record.probe, &record.id, &labels, &data)?;
    if baseline.answered() < crate::compare::MIN_ANSWERED {
        eprintln!(
            "note: only {} answered samples; comparisons need {} on each side (raise `samples`)",
            baseline.answered(),
            crate::compare::MIN_ANSWERED
        );
    }
    println!(
        "run {} (target {target}, {} answered samples) is now the baseline of `{}`",
        record.id,
        baseline.answered(),
        record.probe
    );
    Ok(exit::PASSED)
}

fn stored(store: &Store, probe: &str) -> Result<Baseline, CommandError> {
    let record = store.baseline(probe)?.ok_or_else(|| {
        CommandError::Usage(format!(
            "probe `{probe}` has no baseline; promote a run with `probity baseline promote <run>`"
        ))
    })?;
    Baseline::from_json(
        &record.data.to_string(),
        &format!("the baseline of `{probe}`"),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))
}

fn list(store: &Store) -> Result<i32, CommandError> {
    let all = store.baselines()?;
    if all.is_empty() {
        println!("no baselines yet; promote a run with `probity baseline promote <run>`");
    }
    for b in all {
        let labels: Vec<String> = b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<24} run {:<24} promoted {}  {}",
            b.probe,
            b.run_id,
            b.promoted_at.format("%Y-%m-%d %H:%M"),
            labels.join(" ")
        );
    }
    Ok(exit::PASSED)
}

fn show(store: &Store, probe: &str) -> Result<i32, CommandError> {
    let b = stored(store, probe)?;
    println!(
        "baseline of `{}`: run {} (target {}), started {}",
        b.probe,
        b.run_id,
        b.target,
        b.run_started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    for (k, v) in &b.labels {
        println!("  label {k} = {v}");
    }
    println!(
        "  {} answered samples over {} cases",
        b.answered(),
        b.evidence.cases.len()
    );
    for (name, count) in b.evidence.rates.iter().filter(|(_, c)| c.n > 0) {
        println!(
            "  {name:<16} {}/{} ({:.1}%)",
            count.events,
            count.n,
            100.0 * count.events as f64 / count.n as f64
        );
    }
    for (name, reservoir) in b.evidence.continuous.iter().filter(|(_, r)| !r.is_empty()) {
        let median = crate::stats::median(&reservoir.values).unwrap_or(f64::NAN);
        println!(
            "  {name:<16} median {median:.3} over {} values (of {} seen)",
            reservoir.len(),
            reservoir.seen
        );
    }
    Ok(exit::PASSED)
}
