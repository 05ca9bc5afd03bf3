//! What alerting does after one finished run of a probe with `alerts:`: the run's signals
//! through the incident state machine (incidents and outbox rows written together), then
//! the outbox delivered through the route's channels. The pipeline's publishing step calls
//! this for every command that alerts (`run`, `gate --alert`, the daemon); each of them
//! prints or logs the [`Activity`] it returns.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::incidents::{Evaluation, Policy, evaluate};
use super::outbox::{DeliveryReport, RetryPolicy, deliver};
use super::routing::{RoutingError, build_notifiers, channels_for, route_channels};
use super::{context, info, rules};
use crate::config::{AlertRouting, Probe};
use crate::pipeline::RunOutcome;
use crate::store::{Store, StoreError};

/// Per-attempt timeout of a channel while delivering after a run.
pub const CHANNEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why alerting after a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The route or a channel cannot be built: a configuration error (exit 2).
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What alerting did after one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub evaluation: Evaluation,
    pub delivery: DeliveryReport,
}

/// Incidents updated from `outcome`, notifications queued and the outbox delivered.
/// `None` when the probe has no `alerts:`. `link` is where the run's details are.
pub async fn after_run(
    store: &Store,
    routing: &AlertRouting,
    probe: &Probe,
    outcome: &RunOutcome,
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Activity>, AlertError> {
    let Some(route) = &probe.alert_route else {
        return Ok(None);
    };
    let names = route_channels(routing, route)?;
    let notifiers = build_notifiers(routing, &names, CHANNEL_TIMEOUT)?;
    let mut signals = rules::signals_of(outcome, &probe.alert_rules);
    context::add_context(store, outcome, &mut signals)?;
    let route_of = |s| channels_for(routing, route, s).unwrap_or_default();
    let mut evaluation = evaluate(
        store,
        &outcome.probe,
        &signals,
        &Policy::of(probe),
        &route_of,
        link,
        now,
    )?;
    let notes = info::changes(store, outcome)?;
    let info_channels = route_of(crate::compare::Severity::Info);
    evaluation.info = info::queue(store, outcome, &notes, &info_channels, link, now)?;
    evaluation.queued += evaluation.info.len() * info_channels.len();
    let delivery = deliver(store, &notifiers, &RetryPolicy::default(), now).await?;
    Ok(Some(Activity {
        evaluation,
        delivery,
    }))
}
