//! `probity sim`: a simulated OpenAI- and Anthropic-compatible endpoint. It is the demo
//! target, the fixture of integration tests, the benchmark target and a fire-drill tool:
//! a `Profile` injects latency, slow streams, 429s, 500s, hangs, malformed bodies, cut
//! streams, refusals and broken JSON, all seeded so a run can be replayed.
//!
//! Requests that match a golden case (by their whole conversation, else by the last user
//! message) get that case's expected answer with seeded variation; others get a generic
//! paragraph. `POST /v1/rag/ask` plays a team's own RAG service (for the `http` provider).
//! `GET /sim/stats` counts requests and every injected fault.

mod answer;
mod anthropic;
mod args;
mod embed;
mod instance;
mod openai;
mod profile;
mod rag;
mod seed;
mod server;
mod server_timing;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use answer::{AnswerKind, SimCase, cases_from_golden};
pub use args::SimArgs;
pub use embed::DIMENSIONS as EMBEDDING_DIMENSIONS;
pub use profile::{Errors, Latency, Profile};
pub use server::{FaultStats, SimStats};

use crate::golden::GoldenSet;
use server::SimState;

/// Errors of the simulator: its profile, and binding its socket.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read the sim profile {path}: {source}")]
    ReadProfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    ParseProfile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: `{key}`: {message}")]
    InvalidProfile {
        origin: String,
        key: String,
        message: String,
    },
    #[error(
        "cannot listen on {addr}: {source} (is another process using the port? `--port 0` picks a free one)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulator stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// A running simulator. Dropping the handle shuts it down too (without waiting).
pub struct SimHandle {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// The base URL clients use, e.g. `http://127.0.0.1:8089/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// What the simulator has done so far (the same numbers as `GET /sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.state.counters.snapshot()
    }

    /// Stops accepting connections, ends hanging requests (503) and waits for the
    /// connections in flight to finish.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        let _ = self.shutdown.send(true);
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(SimError::Serve),
                Err(join) => Err(SimError::Serve(std::io::Error::other(join))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Starts the simulator on `addr` (port 0: any free port) and returns once it listens.
pub async fn start(
    profile: Profile,
    cases: Vec<SimCase>,
    addr: SocketAddr,
) -> Result<SimHandle, SimError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let (tx, rx) = watch::channel(false);
    let state = Arc::new(SimState::new(profile, cases, rx.clone()));
    let app = server::router(Arc::clone(&state));
    let mut signal = rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|down| *down).await;
            })
            .await
    });
    Ok(SimHandle {
        addr,
        state,
        shutdown: tx,
        task: Some(task),
    })
}

/// `probity sim`: starts the simulator with the profile of `args` and the (already
/// loaded) golden sets, prints where it listens, and serves until Ctrl-C.
pub async fn run(args: &SimArgs, golden: &[GoldenSet]) -> Result<(), SimError> {
    let profile = args.profile()?;
    let seed = profile.seed;
    let cases = cases_from_golden(golden);
    let count = cases.len();
    let handle = start(profile, cases, args.addr()).await?;
    println!(
        "probity sim listening on {} ({count} golden cases, seed {seed}); Ctrl-C stops it",
        handle.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await
}
