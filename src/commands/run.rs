//! `probity run`: run probes now and print their summaries (or the JSON documents).

use std::io::Write;

use tokio_util::sync::CancellationToken;

use super::{CommandError, open_store, store_path, worst};
use crate::cli::{Cli, Format, RunArgs};
use crate::config::{load_probes, process_env};
use crate::pipeline::{RunOptions, run_probe};
use crate::report::json::run_document;
use crate::report::terminal::{Bar, Style, write_outcome};

/// Cancels on the first Ctrl-C: no new requests are sent, those in flight finish, and the
/// run is recorded as interrupted.
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing requests in flight (Ctrl-C again to quit at once)");
            token.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    cancel
}

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CommandError> {
    let project =
        load_probes(&args.probes, &cli.root, &process_env).map_err(CommandError::Config)?;
    if project.probes.is_empty() {
        return Err(CommandError::Usage("no probes to run".into()));
    }
    let cancel = cancel_on_ctrl_c();
    let options = RunOptions {
        samples: args.samples,
        concurrency: args.concurrency.map(|c| c as usize),
        targets: args.target.iter().cloned().collect(),
        ..RunOptions::default()
    };
    let style = Style::detect();
    let several = project.probes.len() > 1;
    let mut codes = Vec::new();
    let mut documents = Vec::new();
    for probe in &project.probes {
        let store = open_store(&store_path(cli, Some(probe)))?;
        let outcome = run_probe(probe, &store, &options, &Bar::new(), cancel.clone()).await?;
        let document = run_document(&outcome);
        if let Some(out) = &args.out {
            let path = if several || out.is_dir() {
                std::fs::create_dir_all(out).map_err(|e| CommandError::io(out, e))?;
                out.join(format!("{}-{}.json", outcome.probe, outcome.run_id))
            } else {
                out.clone()
            };
            write_json(&path, &document)?;
        }
        if args.format == Format::Text {
            let mut stdout = std::io::stdout().lock();
            write_outcome(&mut stdout, &outcome, &style)
                .map_err(|e| CommandError::io(std::path::Path::new("<stdout>"), e))?;
            let _ = writeln!(stdout);
        }
        codes.push(outcome.exit_code);
        documents.push(document);
        if cancel.is_cancelled() {
            break;
        }
    }
    if args.format == Format::Json {
        let value = if documents.len() == 1 {
            documents.remove(0)
        } else {
            serde_json::Value::Array(documents)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    Ok(worst(&codes))
}

/// Writes a JSON document, creating its folder.
pub fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), CommandError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|e| CommandError::io(path, e))
}
