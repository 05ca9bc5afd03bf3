//! `probity serve`: loads the project as `probity run` would (probes, the alert routing,
//! the database), turns signals into daemon events, and hands over to the scheduler
//! (`crate::daemon`), which decides when each probe runs.

use std::path::{Path, PathBuf};

use chrono::Utc;
use tokio::sync::mpsc;

use super::{CommandError, db};
use crate::cli::{Cli, ServeArgs};
use crate::config::{Probe, load_probes, process_env};
use crate::daemon::{self, DaemonError, DaemonState, Event, Loaded, Loader, Settings, http};
use crate::exit;
use crate::metrics::Metrics;
use std::sync::Arc;

pub async fn serve(cli: &Cli, args: &ServeArgs) -> Result<i32, CommandError> {
    // Signals first: a SIGTERM while the probes load must stop the daemon cleanly, not
    // kill it with the default action.
    let (events, received) = mpsc::unbounded_channel();
    forward_signals(events)?;
    let first = load(&cli.root, cli.db.as_deref())?;
    let token = match &args.token_env {
        Some(var) => Some(
            http::token_from_env(var, &process_env)
                .map_err(|e| CommandError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let state = DaemonState::shared(Utc::now());
    let (root, db) = (cli.root.clone(), cli.db.clone());
    let loader: Loader = Box::new(move || load(&root, db.as_deref()).map_err(|e| e.to_string()));
    let settings = Settings {
        max_running: args.max_running as usize,
        grace: args.grace,
        outbox_every: daemon::scheduler::OUTBOX_EVERY,
        metrics: Some(metrics.clone()),
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
    serve_http(args.listen, token, &metrics, &first.db, &state).await?;
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

/// Binds `listen` (a bind failure stops the daemon before anything is scheduled: a
/// daemon nobody can scrape must not look healthy) and serves the HTTP endpoints and the
/// dashboard on it for the life of the process.
async fn serve_http(
    listen: std::net::SocketAddr,
    token: Option<String>,
    metrics: &Arc<Metrics>,
    db: &Path,
    state: &daemon::SharedState,
) -> Result<(), CommandError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CommandError::Usage(format!("--listen {listen}: cannot listen there: {e}")))?;
    let bound = listener.local_addr().unwrap_or(listen);
    let mut http_state =
        http::HttpState::new(metrics.clone(), Some(db.to_path_buf()), state.clone())
            .with_dashboard(daemon::dashboard::Dashboard::new(
                db.to_path_buf(),
                Some(state.clone()),
            ));
    if let Some(token) = &token {
        http_state = http_state.with_token(token);
    }
    eprintln!(
        "probity serve: http://{bound}/ (dashboard, /metrics, /healthz, /readyz){}",
        if token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, http::router(http_state)).await {
            tracing::error!("the HTTP endpoints stopped: {e}");
        }
    });
    Ok(())
}

/// The probes under `root`, their alert routing (every route's channels buildable) and
/// the database, checked as `probity run` checks them.
fn load(root: &Path, db: Option<&Path>) -> Result<Loaded, CommandError> {
    let project = load_probes(&[], root, &process_env).map_err(CommandError::Config)?;
    let probes: Vec<&Probe> = project.probes.iter().collect();
    let routing = super::alert::prepare_in(root, &probes)?;
    let db: PathBuf = db::resolve(db, root, &probes)?;
    // The usage imports need their admin keys now (`probity run` defers them).
    if !project.usage_unset.is_empty() {
        return Err(CommandError::Config(crate::config::Diagnostics(
            project.usage_unset,
        )));
    }
    Ok(Loaded {
        probes: project.probes,
        routing,
        db,
        usage: project.usage,
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
