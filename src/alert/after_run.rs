//! What alerting does after one finished run of a probe with `alerts:`: the run's signals
//! through the incident state machine (incidents and outbox rows written together), then
//! the outbox delivered through the route's channels. The pipeline's publishing step calls
//! this for every command that alerts (`run`, `gate --alert`, the daemon); each of them
//! prints or logs the [`Activity`] it returns.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Action;
use super::incidents::{Evaluation, Policy, dedup_key, evaluate};
use super::message::{Context, notification};
use super::outbox::outbox_row;
use super::outbox::{DeliveryReport, RetryPolicy, deliver};
use super::routing::{RoutingError, build_notifiers, channels_for, route_channels};
use super::{context, info, rules};
use crate::config::alerts::RawChannel;
use crate::config::{AlertRouting, Probe};
use crate::pipeline::RunOutcome;
use crate::store::{NewOutbox, Store, StoreError};

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
    refresh_firing(
        store,
        routing,
        &outcome.probe,
        &evaluation,
        &signals,
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

/// Re-sends every open, firing, unsilenced incident of `probe` to the Alertmanager
/// channels that were told of it, unless this run already queued its trigger or reminder.
/// Alertmanager forgets a firing alert that is not re-sent before its `endsAt` (and
/// resolves one without `endsAt` after its `resolve_timeout`); its own clients re-send on
/// every evaluation, and the labels dedup the resend into the same alert. Other channels
/// page people, so they get only `repeat` reminders. Queued through the outbox like any
/// notification (same dedup key), so a crash loses none.
fn refresh_firing(
    store: &Store,
    routing: &AlertRouting,
    probe: &str,
    evaluation: &Evaluation,
    signals: &[rules::Signal],
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let is_alertmanager = |c: &String| {
        matches!(
            routing.channels.get(c),
            Some(RawChannel::Alertmanager { .. })
        )
    };
    let mut queued = 0;
    for incident in store.open_incidents(Some(probe))? {
        let id = (incident.rule.clone(), incident.target.clone());
        if !incident.firing
            || incident.silenced
            || evaluation.fired.contains(&id)
            || evaluation.reminded.contains(&id)
        {
            continue;
        }
        let dedup = dedup_key(&incident);
        // This run's cause and details of the rule, when it still fails.
        let signal = signals
            .iter()
            .find(|s| s.rule == incident.rule && s.target == incident.target);
        let context = Context {
            cause: signal.and_then(|s| s.cause.as_deref()),
            details: signal.map_or(&[], |s| &s.details),
        };
        let outbox: Vec<NewOutbox> = incident
            .told
            .iter()
            .filter(|c| is_alertmanager(c))
            .map(|channel| {
                let n = notification(
                    &incident,
                    Action::Trigger,
                    uuid::Uuid::now_v7().to_string(),
                    dedup.clone(),
                    link,
                    &context,
                    now,
                );
                outbox_row(channel, &n)
            })
            .collect();
        if !outbox.is_empty() {
            queued += outbox.len();
            // The incident row is written back unchanged, with the rows, in one transaction.
            store.save_incident(&incident, &outbox, now)?;
        }
    }
    Ok(queued)
}
