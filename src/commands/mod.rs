//! The subcommands: each takes the parsed CLI, calls the library, prints, and returns the
//! exit code. Errors that stop a command before any verdict are `CommandError`s (exit 2).

pub mod alert;
mod baseline;
mod compare;
mod db;
mod demo;
mod export;
mod gate;
mod history;
mod init;
mod report;
mod run;
mod serve;
mod show;
mod store;
mod usage;
mod validate;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command};
use crate::config::{Diagnostics, Probe, display_path};
use crate::exit;
use crate::pipeline::PipelineError;
use crate::sim::SimError;
use crate::store::{Store, StoreError};

pub use demo::demo;

/// Why a command stopped before a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(Diagnostics),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl CommandError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CommandError::Io {
            path: display_path(path),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        exit::USAGE
    }
}

/// Runs the command; returns the process exit code.
pub async fn dispatch(cli: &Cli) -> Result<i32, CommandError> {
    match &cli.command {
        Command::Validate { paths, no_secrets } => validate::validate(cli, paths, *no_secrets),
        Command::Run(args) => run::run(cli, args).await,
        Command::Export { run, out, .. } => export::export(cli, run, out.as_deref()),
        Command::Show { run, format } => show::show(cli, run, *format),
        Command::Compare {
            run_a,
            run_b,
            target,
            format,
        } => compare::compare(cli, run_a, run_b, target.as_deref(), *format),
        Command::Gate(args) => gate::gate(cli, args).await,
        Command::Baseline(command) => baseline::baseline(cli, command),
        Command::Alert(command) => alert::alert(cli, command).await,
        Command::Store(command) => store::store(command),
        Command::History {
            probe,
            limit,
            format,
        } => history::history(cli, probe.as_deref(), *limit, *format),
        Command::Sim(sim) => {
            let args = &sim.args;
            let golden = match &args.golden {
                Some(dir) => crate::config::load_golden_dir(dir).map_err(CommandError::Config)?,
                None => Vec::new(),
            };
            crate::sim::run(args, &golden).await?;
            Ok(exit::PASSED)
        }
        Command::Report(args) => report::report(cli, args),
        Command::Demo(args) => demo::demo(&args.out).await,
        Command::Serve(args) => serve::serve(cli, args).await,
        Command::Usage(command) => usage::usage(cli, command).await,
        Command::Init { dir, force } => init::init(dir.as_deref().unwrap_or(&cli.root), *force),
    }
}

/// The database of this command: `--db`, else the project's probes' `store.path`, else
/// the default (the one rule, in `db::resolve`). `loaded`: the probes the command loaded.
pub fn database(cli: &Cli, loaded: &[&Probe]) -> Result<PathBuf, CommandError> {
    db::resolve(cli.db.as_deref(), &cli.root, loaded)
}

/// Opens the database of a command that only reads it. A database that does not exist is
/// not created (a look at the history must not leave `.probity/` behind): `None`.
pub fn open_existing(path: &Path) -> Result<Option<Store>, CommandError> {
    // A server database is opened as is (connecting creates nothing).
    if path.exists() || db::is_server(path) {
        open_store(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Like `open_existing`, for commands that need a run: a missing database is an error
/// saying where it was looked for.
pub fn open_for_reading(path: &Path) -> Result<Store, CommandError> {
    open_existing(path)?.ok_or_else(|| {
        CommandError::Usage(format!(
            "no database at {}: no run has been stored there yet (run a probe first, or \
             point --db at the database)",
            display_path(path)
        ))
    })
}

/// Opens the database of runs.
pub fn open_store(path: &Path) -> Result<Store, CommandError> {
    Ok(Store::open(path)?)
}

/// The exit code of several runs: interrupted beats could-not-probe beats a failed verdict
/// beats a pass.
pub fn worst(codes: &[i32]) -> i32 {
    [
        exit::INTERRUPTED,
        exit::COULD_NOT_PROBE,
        exit::VERDICT_FAILED,
    ]
    .into_iter()
    .find(|c| codes.contains(c))
    .unwrap_or(exit::PASSED)
}
