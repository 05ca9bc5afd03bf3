//! The subcommands: each takes the parsed CLI, calls the library, prints, and returns the
//! exit code. Errors that stop a command before any verdict are `CommandError`s (exit 2).

mod baseline;
mod compare;
mod demo;
mod export;
mod gate;
mod history;
mod init;
mod run;
mod validate;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command};
use crate::config::{Diagnostics, Probe, default_store_path, display_path};
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
        Command::Compare {
            run_a,
            run_b,
            target,
            format,
        } => compare::compare(cli, run_a, run_b, target.as_deref(), *format),
        Command::Gate(args) => gate::gate(cli, args).await,
        Command::Baseline(command) => baseline::baseline(cli, command),
        Command::History { probe, limit } => history::history(cli, probe.as_deref(), *limit),
        Command::Sim(args) => {
            let golden = match &args.golden {
                Some(dir) => crate::config::load_golden_dir(dir).map_err(CommandError::Config)?,
                None => Vec::new(),
            };
            crate::sim::run(args, &golden).await?;
            Ok(exit::PASSED)
        }
        Command::Demo(args) => demo::demo(&args.out).await,
        Command::Init { dir, force } => init::init(dir.as_deref().unwrap_or(&cli.root), *force),
    }
}

/// The database a probe's runs go to: `--db`, else the probe's `store.path`.
pub fn store_path(cli: &Cli, probe: Option<&Probe>) -> PathBuf {
    cli.db
        .clone()
        .or_else(|| probe.map(|p| p.store.path.clone()))
        .unwrap_or_else(|| default_store_path(&cli.root))
}

/// The database of a probe named on the command line: its `store.path` when the probe can
/// be found and loaded, else the default.
pub fn store_path_of_probe(cli: &Cli, probe: &str) -> PathBuf {
    let loaded =
        crate::config::load_probes(&[probe.to_string()], &cli.root, &crate::config::process_env)
            .ok();
    store_path(cli, loaded.as_ref().and_then(|p| p.probes.first()))
}

/// Opens the database of runs.
pub fn open_store(path: &Path) -> Result<Store, CommandError> {
    Ok(Store::open(path)?)
}

/// The exit code of several runs: could-not-probe beats a failed verdict beats a pass.
pub fn worst(codes: &[i32]) -> i32 {
    [exit::COULD_NOT_PROBE, exit::VERDICT_FAILED]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(exit::PASSED)
}
