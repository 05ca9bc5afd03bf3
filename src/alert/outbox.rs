//! Delivery of the outbox: every due row through its channel's `Notifier`. Channels work
//! independently and concurrently (one future each, joined): a down or hanging channel
//! costs the others nothing beyond its own timeout. Within a channel rows go in order, and
//! a row is marked sent right after the channel accepted it, before the next is sent, so a
//! crash resends at most that one, with the same delivery id and dedup key. Retryable
//! errors are retried with exponential back-off (or the channel's `Retry-After`); a
//! non-retryable one marks the row failed; what is still pending stays for the next run.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;

use super::{Notification, Notifier, NotifyError};
use crate::store::{NewOutbox, OutboxRow, Store, StoreError};

/// How hard one delivery tries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per row in this delivery (at least 1).
    pub attempts: u32,
    /// First back-off; doubled after each failure.
    pub backoff: Duration,
    /// The longest wait between attempts; a `Retry-After` beyond it leaves the row for the
    /// next run (at that time) instead of holding the run's exit.
    pub max_wait: Duration,
    /// Per attempt: a channel that does not answer within it failed (retryably).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The outbox row that asks `channel` to send `n` (its delivery id kept across resends).
pub fn outbox_row(channel: &str, n: &Notification) -> NewOutbox {
    NewOutbox {
        delivery_id: n.delivery_id.clone(),
        channel: channel.to_string(),
        // A Notification is plain strings, numbers and maps: serialising it cannot fail.
        notification: serde_json::to_value(n).unwrap_or(serde_json::Value::Null),
    }
}

/// The result for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub delivery_id: String,
    pub channel: String,
    /// `sent`, `pending` (try again next run) or `failed` (never accepted as it is).
    pub status: &'static str,
    pub attempts: u32,
    pub error: Option<String>,
}

/// What one delivery did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    pub rows: Vec<Delivered>,
}

impl DeliveryReport {
    pub fn count(&self, status: &str) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }
}

async fn attempt(
    n: &dyn Notifier,
    notification: &Notification,
    timeout: Duration,
) -> Result<(), NotifyError> {
    match tokio::time::timeout(timeout, n.notify(notification)).await {
        Ok(result) => result,
        Err(_) => Err(NotifyError {
            retryable: true,
            retry_after: None,
            message: format!("no answer within {timeout:?}"),
        }),
    }
}

/// Delivers every row of the outbox due at `now` (the run's clock). Store errors stop the
/// delivery (what was sent is marked); channel errors never do.
pub async fn deliver(
    store: &Store,
    notifiers: &BTreeMap<String, Box<dyn Notifier>>,
    policy: &RetryPolicy,
    now: chrono::DateTime<Utc>,
) -> Result<DeliveryReport, StoreError> {
    deliver_due(store, notifiers, policy, now, |_| true).await
}

/// As [`deliver`], but only the due rows of the channels in `notifiers`: for a step that
/// sends through some channels (the e-mail summary, the digest) and must leave the rows of
/// every other channel alone (not mark them as "not configured").
pub async fn deliver_only(
    store: &Store,
    notifiers: &BTreeMap<String, Box<dyn Notifier>>,
    policy: &RetryPolicy,
    now: chrono::DateTime<Utc>,
) -> Result<DeliveryReport, StoreError> {
    deliver_due(store, notifiers, policy, now, |channel| {
        notifiers.contains_key(channel)
    })
    .await
}

/// The due rows of the channels `wanted` accepts, each channel delivered concurrently.
async fn deliver_due(
    store: &Store,
    notifiers: &BTreeMap<String, Box<dyn Notifier>>,
    policy: &RetryPolicy,
    now: chrono::DateTime<Utc>,
    wanted: impl Fn(&str) -> bool,
) -> Result<DeliveryReport, StoreError> {
    let mut by_channel: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
    for row in store.due_outbox(now)? {
        if wanted(&row.channel) {
            by_channel.entry(row.channel.clone()).or_default().push(row);
        }
    }
    let jobs = by_channel.into_iter().map(|(channel, rows)| {
        let notifier = notifiers.get(&channel);
        deliver_channel(store, channel, notifier.map(|b| b.as_ref()), rows, policy)
    });
    let mut report = DeliveryReport::default();
    for result in futures_util::future::join_all(jobs).await {
        report.rows.extend(result?);
    }
    Ok(report)
}

async fn deliver_channel(
    store: &Store,
    channel: String,
    notifier: Option<&dyn Notifier>,
    rows: Vec<OutboxRow>,
    policy: &RetryPolicy,
) -> Result<Vec<Delivered>, StoreError> {
    let mut out = Vec::new();
    let mut blocked: Option<String> = None;
    for row in rows {
        let left = |error: String| Delivered {
            delivery_id: row.delivery_id.clone(),
            channel: channel.clone(),
            status: "pending",
            attempts: row.attempts,
            error: Some(error),
        };
        // After a channel stayed down, its later rows wait too: they would each cost the
        // whole retry budget, and a resolve must not overtake its trigger.
        if let Some(why) = &blocked {
            out.push(left(format!("not attempted: {why}")));
            continue;
        }
        let Some(notifier) = notifier else {
            let why = format!("channel `{channel}` is not configured in the alerts file");
            store.outbox_failed(&row.delivery_id, row.attempts, &why, Utc::now(), false)?;
            out.push(left(why));
            continue;
        };
        let notification: Notification = match serde_json::from_value(row.notification.clone()) {
            Ok(n) => n,
            Err(e) => {
                let why = format!("unreadable notification: {e}");
                store.outbox_failed(&row.delivery_id, row.attempts, &why, Utc::now(), true)?;
                out.push(Delivered {
                    status: "failed",
                    ..left(why)
                });
                continue;
            }
        };
        let mut attempts = row.attempts;
        let mut wait = policy.backoff;
        let mut tries = 0;
        let status = loop {
            tries += 1;
            attempts += 1;
            match attempt(notifier, &notification, policy.timeout).await {
                Ok(()) => {
                    store.outbox_sent(&row.delivery_id, attempts, Utc::now())?;
                    break Delivered {
                        delivery_id: row.delivery_id.clone(),
                        channel: channel.clone(),
                        status: "sent",
                        attempts,
                        error: None,
                    };
                }
                Err(e) if !e.retryable => {
                    store.outbox_failed(
                        &row.delivery_id,
                        attempts,
                        &e.message,
                        Utc::now(),
                        true,
                    )?;
                    break Delivered {
                        status: "failed",
                        attempts,
                        ..left(e.message)
                    };
                }
                Err(e) => {
                    let asked = e.retry_after.unwrap_or(wait);
                    if tries >= policy.attempts.max(1) || asked > policy.max_wait {
                        let next = Utc::now()
                            + chrono::Duration::from_std(asked).unwrap_or(chrono::Duration::zero());
                        store.outbox_failed(&row.delivery_id, attempts, &e.message, next, false)?;
                        blocked = Some(format!("`{channel}` failed: {}", e.message));
                        break Delivered {
                            attempts,
                            ..left(e.message)
                        };
                    }
                    tokio::time::sleep(asked).await;
                    wait = (wait * 2).min(policy.max_wait);
                }
            }
        };
        out.push(status);
    }
    Ok(out)
}
