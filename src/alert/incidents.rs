//! The incident state machine over runs. A signal seen in a run opens (or continues) the
//! incident of its key (probe + rule + target labels); after `for` consecutive failing runs
//! (or once it has failed for a duration) it fires: one trigger per routed channel. While
//! it keeps firing, a reminder goes out every `repeat`. A run without the signal resolves
//! it, with one resolve to every channel that was told. Silences suppress notifications
//! only: the incident is still tracked. Every change is saved with its outbox rows in one
//! transaction (`Store::save_incident`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Action;
use super::message::{Context, MAX_SUMMARY, notification, truncate};
use super::outbox::outbox_row;
use super::rules::{COULD_NOT_PROBE, Signal, inhibiting};
use crate::compare::Severity;
use crate::store::{IncidentRecord, NewOutbox, SilenceRecord, Store, StoreError};

pub use crate::config::FireAfter;

/// A probe's alerting policy (`alerts:` of the probe).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub fire_after: FireAfter,
    /// Reminder interval while firing; `None`: no reminders.
    pub repeat: Option<Duration>,
}

impl Policy {
    /// The policy a probe's `alerts:` section sets.
    pub fn of(probe: &crate::config::Probe) -> Policy {
        Policy {
            fire_after: probe.alert_fire_after,
            repeat: probe.alert_repeat,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fire_after: FireAfter::Runs(1),
            repeat: None,
        }
    }
}

/// What one evaluation did, for the run's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Incidents that fired in this run (rule, target).
    pub fired: Vec<(String, String)>,
    pub reminded: Vec<(String, String)>,
    pub resolved: Vec<(String, String)>,
    /// Failing but not yet at `for` (tracked, nothing sent).
    pub pending: Vec<(String, String)>,
    /// Firing, but a silence kept it quiet.
    pub silenced: Vec<(String, String)>,
    /// One-shot `info` notes sent (rule, target): model, label and baseline changes.
    pub info: Vec<(String, String)>,
    /// Outbox rows queued.
    pub queued: usize,
}

/// The incident key: probe, rule, target and its labels.
pub fn incident_key(probe: &str, s: &Signal) -> String {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{probe}|{}|{}|{}", s.rule, s.target, labels.join(","))
}

/// The dedup key receivers see: stable for the incident's trigger, reminders and resolve,
/// new for a later incident of the same key (a resolved page is not reopened).
pub fn dedup_key(incident: &IncidentRecord) -> String {
    let mut h = Sha256::new();
    h.update(incident.key.as_bytes());
    h.update(incident.opened_at.to_rfc3339().as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("probity-{hex}")
}

fn severity_name(s: Severity) -> String {
    s.as_str().to_string()
}

/// Whether a silence in force covers `rule` of `probe`.
pub fn is_silenced(silences: &[SilenceRecord], probe: &str, rule: &str) -> bool {
    silences
        .iter()
        .any(|s| s.probe == probe && s.rule.as_deref().is_none_or(|r| r == rule))
}

fn reached(policy: &Policy, incident: &IncidentRecord, now: DateTime<Utc>) -> bool {
    match policy.fire_after {
        FireAfter::Runs(n) => incident.runs_failing >= n.max(1),
        FireAfter::Duration(d) => (now - incident.opened_at).to_std().unwrap_or_default() >= d,
    }
}

/// Evaluates one finished run of `probe`: `signals` are its failing rules, `route` gives
/// the channel names for a severity, `link` is where the run's details are.
pub fn evaluate(
    store: &Store,
    probe: &str,
    signals: &[Signal],
    policy: &Policy,
    route: &dyn Fn(Severity) -> Vec<String>,
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Evaluation, StoreError> {
    let silences = store.silences(now)?;
    let mut eval = Evaluation::default();
    let mut seen = BTreeSet::new();
    for s in signals {
        let key = incident_key(probe, s);
        seen.insert(key.clone());
        let mut incident = match store.open_incident(&key)? {
            Some(mut i) => {
                i.runs_failing += 1;
                i.last_seen = now;
                i
            }
            None => IncidentRecord {
                id: 0,
                key,
                probe: probe.to_string(),
                rule: s.rule.clone(),
                target: s.target.clone(),
                labels: s.labels.clone(),
                severity: severity_name(s.severity),
                opened_at: now,
                last_seen: now,
                runs_failing: 1,
                firing: false,
                notified_at: None,
                acknowledged_at: None,
                silenced: false,
                resolved_at: None,
                summary: String::new(),
                told: Vec::new(),
            },
        };
        incident.summary = truncate(&s.message, MAX_SUMMARY);
        // An incident escalates with its worst severity so far; it never de-escalates
        // while open (a page already went out).
        if s.severity > parse_severity(&incident.severity) {
            incident.severity = severity_name(s.severity);
        }
        let id = (s.rule.clone(), s.target.clone());
        incident.silenced = is_silenced(&silences, probe, &s.rule);
        let mut action = None;
        if !incident.firing {
            if reached(policy, &incident, now) {
                incident.firing = true;
                action = Some(false);
            } else {
                eval.pending.push(id.clone());
            }
        } else {
            let due = match (policy.repeat, incident.notified_at) {
                (_, None) => true, // fired while silenced: tell once the silence ends
                // Acknowledged (`alert ack`): someone is on it, no more reminders.
                (Some(_), Some(_)) if incident.acknowledged_at.is_some() => false,
                (Some(every), Some(at)) => (now - at).to_std().unwrap_or_default() >= every,
                (None, Some(_)) => false,
            };
            if due {
                action = Some(incident.notified_at.is_some());
            }
        }
        let mut outbox = Vec::new();
        if let Some(reminder) = action {
            if incident.silenced {
                eval.silenced.push(id);
            } else {
                let channels = route(parse_severity(&incident.severity));
                let dedup = dedup_key(&incident);
                let context = Context {
                    cause: s.cause.as_deref(),
                    details: &s.details,
                };
                for channel in &channels {
                    let n = notification(
                        &incident,
                        Action::Trigger,
                        uuid::Uuid::now_v7().to_string(),
                        dedup.clone(),
                        link,
                        &context,
                        now,
                    );
                    outbox.push(outbox_row(channel, &n));
                    if !incident.told.contains(channel) {
                        incident.told.push(channel.clone());
                    }
                }
                incident.notified_at = Some(now);
                if reminder {
                    eval.reminded.push(id);
                } else {
                    eval.fired.push(id);
                }
            }
        }
        eval.queued += outbox.len();
        store.save_incident(&incident, &outbox, now)?;
    }
    // Inhibited rules are not seen this run, but nothing is known of them either: their
    // incidents stay open, untouched, until the probe can probe again.
    let inhibited = inhibiting(signals);
    for mut incident in store.open_incidents(Some(probe))? {
        if seen.contains(&incident.key) || (inhibited && incident.rule != COULD_NOT_PROBE) {
            continue;
        }
        incident.resolved_at = Some(now);
        let dedup = dedup_key(&incident);
        // A recovery also goes to the route's `info` channels, unless they were told of
        // the incident (then they get the resolve anyway). One that never notified (not
        // yet at `for`, or silenced throughout) was never news, so neither is its end.
        let mut to = incident.told.clone();
        if incident.notified_at.is_some() {
            for c in route(Severity::Info) {
                if !to.contains(&c) {
                    to.push(c);
                }
            }
        }
        let outbox: Vec<NewOutbox> = to
            .iter()
            .map(|channel| {
                let n = notification(
                    &incident,
                    Action::Resolve,
                    uuid::Uuid::now_v7().to_string(),
                    dedup.clone(),
                    link,
                    &Context::default(),
                    now,
                );
                outbox_row(channel, &n)
            })
            .collect();
        eval.queued += outbox.len();
        if incident.firing {
            eval.resolved
                .push((incident.rule.clone(), incident.target.clone()));
        }
        store.save_incident(&incident, &outbox, now)?;
    }
    Ok(eval)
}

fn parse_severity(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "info" => Severity::Info,
        _ => Severity::Warning,
    }
}

/// The labels of an incident as a map, for listing.
pub fn describe(incident: &IncidentRecord) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("probe", incident.probe.clone()),
        ("rule", incident.rule.clone()),
        ("target", incident.target.clone()),
        ("severity", incident.severity.clone()),
    ])
}
