//! PagerDuty Events API v2 (`POST /v2/enqueue`). A trigger carries `routing_key`,
//! `event_action: "trigger"`, the incident's stable `dedup_key` (so a resend after a crash,
//! or a reminder, updates the same PagerDuty alert instead of opening another) and
//! `payload { summary, source, severity, timestamp, component, group, class,
//! custom_details }`; a resolve carries only `routing_key`, `event_action: "resolve"` and
//! the `dedup_key`, as the API documents. PagerDuty answers 202 when it accepted the event,
//! 400 for an invalid event (never retried), 429 and 5xx when it should be retried.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{Http, neutralize, severity_name, truncate};
use crate::alert::{Action, Notification, Notifier, NotifyError};

pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty truncates `summary` at 1024 characters; cut it ourselves, marked.
const SUMMARY_MAX: usize = 1024;

pub struct PagerDuty {
    pub(crate) url: reqwest::Url,
    pub(crate) routing_key: String,
    pub(crate) http: Http,
}

/// PagerDuty accepts dedup keys of at most 255 characters. A longer key (many labels) is
/// replaced by its SHA-256, still stable, so the trigger, reminders and resolve match.
pub fn dedup_key(key: &str) -> String {
    if key.chars().count() <= 255 {
        return key.to_string();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The JSON body of the event.
pub fn payload(n: &Notification, routing_key: &str) -> Value {
    let action = match n.action {
        Action::Trigger => "trigger",
        Action::Resolve => "resolve",
    };
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(&n.dedup_key),
    });
    if n.action == Action::Resolve {
        return event;
    }
    let summary = if n.test {
        format!("[TEST] {}", n.summary)
    } else {
        n.summary.clone()
    };
    let mut details = Map::new();
    for (k, v) in &n.details {
        details.insert(k.clone(), Value::String(truncate(v, 2000)));
    }
    details.insert("probe".into(), n.probe.clone().into());
    details.insert("rule".into(), n.rule.clone().into());
    details.insert("labels".into(), json!(n.labels));
    details.insert("started_at".into(), n.started_at.to_rfc3339().into());
    if n.test {
        details.insert("test".into(), true.into());
    }
    if let Some(link) = &n.link {
        details.insert("details".into(), link.clone().into());
    }
    // `source` is "the unique location of the affected system": the target if labelled.
    let source = n
        .labels
        .get("target")
        .cloned()
        .unwrap_or_else(|| n.probe.clone());
    event["payload"] = json!({
        "summary": truncate(&neutralize(&summary), SUMMARY_MAX),
        "source": source,
        "severity": severity_name(n.severity),
        "timestamp": n.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "component": n.probe,
        "group": n.probe,
        "class": n.rule,
        "custom_details": details,
    });
    event["client"] = json!("probity");
    if let Some(link) = n.link.as_deref().filter(|l| reqwest::Url::parse(l).is_ok()) {
        event["links"] = json!([{ "href": link, "text": "Run details" }]);
    }
    event
}

impl Notifier for PagerDuty {
    fn name(&self) -> &str {
        &self.http.name
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = payload(n, &self.routing_key);
            self.http
                .send(self.http.client.post(self.url.clone()).json(&body))
                .await
        })
    }
}
