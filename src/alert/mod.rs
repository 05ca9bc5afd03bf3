//! Alerts: rules over a finished run's outcome → incidents (opened, repeated, resolved) →
//! outbox rows (written with the incident change) → channels that deliver them. This file
//! holds the one type every part agrees on, the notification a channel is asked to send.
//! Channels (`channels/`) know nothing of incidents; incidents know nothing of HTTP.

pub mod channels;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::compare::Severity;

/// Whether a notification opens (or repeats) an incident or ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Trigger,
    Resolve,
}

/// One message for one channel, as stored in the outbox: everything a channel needs, and
/// nothing it must look up. Text fields may hold model output: each channel escapes them
/// for its own format (Slack mrkdwn, HTML e-mail); none is ever interpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique per outbox row, kept across resends (the webhook's `X-Probity-Delivery`).
    pub delivery_id: String,
    /// The incident's key, the same for its trigger, reminders and resolve (PagerDuty's
    /// `dedup_key`, Alertmanager's identity through `labels`).
    pub dedup_key: String,
    pub action: Action,
    pub severity: Severity,
    pub probe: String,
    /// The rule that fired (`error_rate`, `drift:latency_p95`, `cost-spike`, ...).
    pub rule: String,
    /// One line, symptom first: "Error rate 5.2% (threshold 2%) on support-bot".
    pub summary: String,
    /// Further lines, in order (top errors, since when, labels, model change, run details).
    pub details: Vec<(String, String)>,
    /// The target's labels and the incident's identity (probe, rule, target).
    pub labels: BTreeMap<String, String>,
    /// When the incident started (first failing run).
    pub started_at: DateTime<Utc>,
    /// When it ended (a resolve).
    pub ended_at: Option<DateTime<Utc>>,
    /// Where the run's details are (a path or URL), when known.
    pub link: Option<String>,
    /// A fire drill (`probity alert test`): every channel marks it as a test.
    pub test: bool,
    /// A message written whole by its producer (a run's e-mail summary, the digest), not
    /// an alert: an e-mail channel sends it as it is, to its own recipients. Absent from
    /// rows queued before it existed, hence the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<Mail>,
}

/// A complete e-mail (issue 11's summary, issue 12's digest): the e-mail channel adds only
/// its server and sender. Its text is already escaped for each part by whoever wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    /// Recipients; empty means the channel's own `to`.
    pub to: Vec<String>,
    pub subject: String,
    pub plain: String,
    pub html: String,
    #[serde(default)]
    pub attachments: Vec<MailAttachment>,
}

/// A file attached to a [`Mail`], read when the mail is sent (the outbox keeps the path,
/// not megabytes of report), so a file gone by then is noted in the mail instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailAttachment {
    /// The name the recipient sees.
    pub filename: String,
    /// E.g. `text/html; charset=utf-8`.
    pub content_type: String,
    pub path: std::path::PathBuf,
}

/// Why a channel did not accept a notification, and whether trying again can help
/// (Alertmanager's `(retryable, error)`): retries, back-off and the "already sent" mark
/// live once, in the outbox's delivery, never in a channel.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    /// A 429, a 5xx, a timeout or a refused connection: try again later. A 400 or a
    /// rejected address: it will never be accepted as it is.
    pub retryable: bool,
    /// How long the channel asked to be left alone (`Retry-After`), if it said.
    pub retry_after: Option<std::time::Duration>,
    /// What went wrong, secrets removed (webhook URLs and keys are secrets).
    pub message: String,
}

/// One destination that can be asked to deliver a notification. A channel is one small
/// implementation of this (one file under `channels/`); it sends once and says how it went.
pub trait Notifier: Send + Sync {
    /// The channel's name in `alerts.yaml`.
    fn name(&self) -> &str;
    /// Sends `n` once. `Ok` means the receiver accepted it.
    fn notify<'a>(
        &'a self,
        n: &'a Notification,
    ) -> futures_util::future::BoxFuture<'a, Result<(), NotifyError>>;
}

pub mod after_run;
pub mod context;
pub mod incidents;
pub mod info;
pub mod local;
pub mod message;
pub mod metric;
pub mod outbox;
pub mod routing;
pub mod rules;
