//! `probity store copy --from DB --to DB`: a whole history from one database into another
//! (SQLite ⇄ PostgreSQL), resumable, verified by counts per table. The copying itself is
//! `Store::copy_into`; this prints what it did.

use std::path::PathBuf;

use super::CommandError;
use crate::cli::StoreCommand;
use crate::config::display_path;
use crate::exit;
use crate::store::{Store, display_name, is_postgres_url};

pub fn store(command: &StoreCommand) -> Result<i32, CommandError> {
    match command {
        StoreCommand::Copy { from, to } => copy(from, to),
    }
}

/// A database named on the command line: a PostgreSQL URL as is, `sqlite://PATH` or a
/// bare path as a file.
fn database(name: &str) -> PathBuf {
    if is_postgres_url(name) {
        PathBuf::from(name)
    } else {
        PathBuf::from(name.strip_prefix("sqlite://").unwrap_or(name))
    }
}

fn copy(from: &str, to: &str) -> Result<i32, CommandError> {
    let (src, dst) = (database(from), database(to));
    if display_name(from) == display_name(to) || src == dst {
        return Err(CommandError::Usage(format!(
            "--from and --to name the same database ({}); copy into another one",
            display_path(&src)
        )));
    }
    if !is_postgres_url(from) && !src.exists() {
        return Err(CommandError::Usage(format!(
            "no database at {}: check --from (a file path, `sqlite://PATH` or \
             `postgres://user@host/db`)",
            display_path(&src)
        )));
    }
    let source = Store::open(&src)?;
    let dest = Store::open(&dst)?;
    eprintln!(
        "copying {} into {}",
        display_path(source.path()),
        display_path(dest.path())
    );
    let mut seen = 0u64;
    let report = source.copy_into(&dest, &mut |_, _| {
        seen += 1;
        if seen % 100 == 0 {
            eprintln!("  {seen} runs so far");
        }
    })?;
    println!(
        "runs: {} copied, {} already complete; {} observations written",
        report.runs_copied, report.runs_skipped, report.observations_copied
    );
    println!("{:<14} {:>12} {:>12}", "table", "source", "destination");
    let mut short = Vec::new();
    for c in &report.counts {
        let note = if c.destination > c.source {
            format!("  ({} of its own)", c.destination - c.source)
        } else {
            String::new()
        };
        println!(
            "{:<14} {:>12} {:>12}{note}",
            c.table, c.source, c.destination
        );
        if c.destination < c.source {
            short.push(format!("{} ({} of {})", c.table, c.destination, c.source));
        }
    }
    if !short.is_empty() {
        return Err(CommandError::Usage(format!(
            "the copy into {} is incomplete: {}; run the same command again (it resumes)",
            display_path(dest.path()),
            short.join(", ")
        )));
    }
    println!("verified: every table has at least the source's rows");
    Ok(exit::PASSED)
}
