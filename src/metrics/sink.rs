//! The metrics sink of the publishing step (`pipeline::publish`): a finished run goes into
//! the daemon's registry, and, for `probity run --pushgateway URL`, into a registry of its
//! own that is pushed as the probe's group.
//!
//! A push that fails is a warning, not a failed run: the run's verdict, exit code, store
//! and alerts do not depend on the monitoring of the monitor, and a CI job gating a rollout
//! must not fail because a Pushgateway is down. The warning names the gateway and why.

use super::{Metrics, push};
use crate::config::Probe;
use crate::pipeline::RunOutcome;
use crate::store::Store;

/// What pushing a run's metrics did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The Pushgateway's base URL, as given.
    pub url: String,
    /// Why the push failed; `None` when the gateway took it.
    pub error: Option<String>,
}

/// Feeds `outcome` into `registry` (the daemon's) and pushes it to `pushgateway`.
pub async fn after_run(
    store: &Store,
    probe: &Probe,
    outcome: &RunOutcome,
    registry: Option<&Metrics>,
    pushgateway: Option<&str>,
) -> Option<PushReport> {
    if let Some(registry) = registry {
        registry.record_run(probe, outcome, store);
    }
    let url = pushgateway?;
    // One probe's group holds that probe's run only: a fresh registry per push.
    let own = Metrics::new();
    own.record_run(probe, outcome, store);
    if let Err(e) = own.refresh_from_store(store, Some(&outcome.probe)) {
        tracing::warn!("metrics: open incidents and outbox not read for the push: {e}");
    }
    let error = push(url, &outcome.probe, &own.encode())
        .await
        .err()
        .map(|e| e.to_string());
    Some(PushReport {
        url: url.to_string(),
        error,
    })
}
