//! `probity serve`: loads the project as `probity run` would (probes, the alert routing,
//! the database), turns signals into daemon events, and hands over to the scheduler
//! (`crate::daemon`), which decides when each probe runs.

use std::path::{Path, PathBuf};

use chrono::Utc;
use tokio::sync::mpsc;

use super::{CommandError, db};
use crate::cli::{Cli, ServeArgs};
use crate::config::{Probe, load_probes, process_env};
use crate::daemon::{self, DaemonError, DaemonState, Event, Loaded, Loader, Settings};
use crate::exit;

pub async fn serve(cli: &Cli, args: &ServeArgs) -> Result<i32, CommandError> {
    // Signals first: a SIGTERM while the probes load must stop the daemon cleanly, not
    // kill it with the default action.
    let (events, received) = mpsc::unbounded_channel();
    forward_signals(events)?;
    let first = load(&cli.root, cli.db.as_deref())?;
    let (root, db) = (cli.root.clone(), cli.db.clone());
    let loader: Loader = Box::new(move || load(&root, db.as_deref()).map_err(|e| e.to_string()));
    let settings = Settings {
        max_running: args.max_running as usize,
        grace: args.grace,
        outbox_every: daemon::scheduler::OUTBOX_EVERY,
        report_dir: super::report::report_dir(cli, &args.report),
    };
    let scheduled: Vec<&str> = first
        .probes
        .iter()
        .filter(|p| p.schedule.is_some())
        .map(|p| p.name.as_str())
        .collect();
    eprintln!(
        "probity serve: {} probe(s) scheduled ({}); database {}",
        scheduled.len(),
        scheduled.join(", "),
        crate::config::display_path(&first.db)
    );
    let state = DaemonState::shared(Utc::now());
    match daemon::serve(settings, first, loader, state, received).await {
        Ok(stopped) => {
            eprintln!(
                "probity serve: stopped after {} run(s), {} skipped tick(s), {} cancelled",
                stopped.runs, stopped.skipped, stopped.cancelled
            );
            Ok(exit::PASSED)
        }
        Err(DaemonError::NothingScheduled) => Err(CommandError::Usage(
            DaemonError::NothingScheduled.to_string(),
        )),
        Err(DaemonError::Store(e)) => Err(e.into()),
    }
}

/// The probes under `root`, their alert routing (every route's channels buildable) and
/// the database, checked as `probity run` checks them.
fn load(root: &Path, db: Option<&Path>) -> Result<Loaded, CommandError> {
    let project = load_probes(&[], root, &process_env).map_err(CommandError::Config)?;
    let probes: Vec<&Probe> = project.probes.iter().collect();
    let routing = super::alert::prepare_in(root, &probes)?;
    let db: PathBuf = db::resolve(db, root, &probes)?;
    Ok(Loaded {
        probes: project.probes,
        routing,
        db,
    })
}

/// SIGTERM and SIGINT ask for a shutdown, SIGHUP for a reload.
fn forward_signals(events: mpsc::UnboundedSender<Event>) -> Result<(), CommandError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| CommandError::io(Path::new("<signal handler>"), e))
        };
        let mut term = listen(SignalKind::terminate())?;
        let mut int = listen(SignalKind::interrupt())?;
        let mut hup = listen(SignalKind::hangup())?;
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = term.recv() => Event::Shutdown,
                    _ = int.recv() => Event::Shutdown,
                    _ = hup.recv() => Event::Reload,
                };
                if events.send(event).is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if events.send(Event::Shutdown).is_err() {
                break;
            }
        }
    });
    Ok(())
}
