//! `probity compare RUN_A RUN_B`: the drift tests of a stored run against another.

use super::{CommandError, database, open_for_reading};
use crate::cli::{Cli, Format};
use crate::compare::{Verdict, compare as compare_evidence};
use crate::config::{load_probes, process_env};
use crate::exit;
use crate::pipeline::{run_seed, target_evidence};
use crate::report::terminal::{Style, sanitize};

pub fn compare(
    cli: &Cli,
    run_a: &str,
    run_b: &str,
    target: Option<&str>,
    format: Format,
) -> Result<i32, CommandError> {
    let store = open_for_reading(&database(cli, &[])?)?;
    let (a, b) = (store.run(run_a)?, store.run(run_b)?);
    let first = |t: &serde_json::Value| {
        t.get(0)
            .and_then(|t| t["name"].as_str())
            .unwrap_or("default")
            .to_string()
    };
    let target_b = target
        .map(str::to_string)
        .unwrap_or_else(|| first(&b.targets));
    let target_a = target
        .map(str::to_string)
        .unwrap_or_else(|| first(&a.targets));
    let evidence = |id: &str, name: &str| -> Result<_, CommandError> {
        store
            .evidence(id)?
            .and_then(|e| target_evidence(&e, name))
            .ok_or_else(|| {
                CommandError::Usage(format!(
                    "run {id} has no evidence for target `{name}` (did it finish?)"
                ))
            })
    };
    let (ea, eb) = (evidence(&a.id, &target_a)?, evidence(&b.id, &target_b)?);
    // The probe's own drift settings when its file loads; else the defaults, said aloud (on
    // stderr, so `--format json` stays one document) since they may judge differently.
    let drift = match load_probes(std::slice::from_ref(&b.probe), &cli.root, &process_env) {
        Ok(project) => match project.probes.into_iter().next() {
            Some(p) => p.drift,
            None => {
                eprintln!(
                    "note: probe `{}` not found under {}; comparing with the default drift \
                     settings, not the probe's",
                    b.probe,
                    crate::config::display_path(&cli.root)
                );
                Default::default()
            }
        },
        Err(problems) => {
            eprintln!(
                "note: could not load probe `{}` for its drift settings; comparing with the \
                 default drift settings, not the probe's:\n{problems}",
                b.probe
            );
            Default::default()
        }
    };
    // The seed rule of the comparison at the end of `run`: same two runs, same intervals.
    let seed = run_seed(&b.id);
    let comparison = compare_evidence(&ea, &eb, None, &drift, &target_b, seed);
    let verdict = Verdict::of(&comparison.findings, comparison.insufficient.is_some());
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "schema_version": crate::report::json::SCHEMA_VERSION,
                "probe": b.probe,
                "baseline_run": a.id,
                "run_id": b.id,
                "target": target_b,
                "verdict": verdict.as_str(),
                "findings": comparison.findings,
                "tests": comparison.tests,
                "insufficient_data": comparison.insufficient,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Text => {
            let style = Style::detect();
            println!(
                "{} {} (baseline) → {} · target {target_b} · verdict {}",
                style.bold("compare"),
                a.id,
                b.id,
                verdict.as_str()
            );
            if let Some(why) = &comparison.insufficient {
                println!("  {}", style.yellow(why));
            }
            print!("{}", crate::report::terminal::comparison_table(&comparison));
            for f in &comparison.findings {
                println!(
                    "  {} {}",
                    f.severity.as_str().to_uppercase(),
                    sanitize(&f.message, 300)
                );
            }
        }
    }
    Ok(
        if matches!(verdict, Verdict::Fail | Verdict::InsufficientData) {
            exit::VERDICT_FAILED
        } else {
            exit::PASSED
        },
    )
}
