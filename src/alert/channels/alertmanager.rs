//! Prometheus Alertmanager, API v2: `POST {url}/api/v2/alerts` with a JSON array of one
//! alert: `labels` (the notification's labels, then `alertname` = the rule, `probe`,
//! `severity`, and `test="true"` for a drill; names outside Prometheus' `[a-zA-Z_]
//! [a-zA-Z0-9_]*` have other characters replaced by `_`, empty values are dropped),
//! `annotations` (`summary`, and `details` as `key: value` lines), `startsAt`, and
//! `generatorURL` when the link is a URL. A firing alert carries `endsAt` = the time of
//! sending + `ends_after` (default 1h): without one, Alertmanager resolves it by itself
//! after its `resolve_timeout` (5m by default), long before the next run of a probe that
//! runs every 15 minutes. Every run re-sends each open incident's firing alert (as
//! Alertmanager's own clients re-send every evaluation; `after_run`), which moves `endsAt`
//! on; a resolve sets `endsAt` to the incident's end (or now), which ends it at once. The
//! labels are its identity, so a resend is the same alert, never a second one.

use std::collections::BTreeMap;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Http, neutralize, severity_name, truncate};
use crate::alert::{Action, Notification, Notifier, NotifyError};

/// How long a firing alert stays active without a resend, unless `ends_after` says.
pub const DEFAULT_ENDS_AFTER: Duration = Duration::from_secs(3600);

pub struct Alertmanager {
    pub(crate) url: reqwest::Url,
    /// `endsAt` of a firing alert, from the time it is sent.
    pub(crate) ends_after: Duration,
    pub(crate) http: Http,
}

/// `{base}/api/v2/alerts`, keeping any path prefix the base has (a reverse proxy's).
pub fn alerts_url(base: &reqwest::Url) -> Result<reqwest::Url, String> {
    let mut url = base.clone();
    let path = format!("{}/api/v2/alerts", base.path().trim_end_matches('/'));
    url.set_path(&path);
    if url.cannot_be_a_base() {
        return Err("`url` must be an http(s) base URL".to_string());
    }
    Ok(url)
}

/// The JSON array posted (one alert) at `now`; a firing alert ends at `now + ends_after`
/// unless re-sent.
pub fn payload(n: &Notification, now: DateTime<Utc>, ends_after: Duration) -> Value {
    let mut labels = BTreeMap::new();
    for (k, v) in &n.labels {
        if !v.is_empty() {
            labels.insert(crate::metrics::label_name(k), v.clone());
        }
    }
    labels.insert("alertname".to_string(), n.rule.clone());
    labels.insert("probe".to_string(), n.probe.clone());
    labels.insert(
        "severity".to_string(),
        severity_name(n.severity).to_string(),
    );
    if n.test {
        labels.insert("test".to_string(), "true".to_string());
    }
    let details: Vec<String> = n
        .details
        .iter()
        .map(|(k, v)| format!("{k}: {}", truncate(v, 2000)))
        .collect();
    let summary = if n.test {
        format!("[TEST] {}", n.summary)
    } else {
        n.summary.clone()
    };
    let mut alert = json!({
        "labels": labels,
        "annotations": {
            "summary": neutralize(&summary),
            "details": neutralize(&details.join("\n")),
        },
        "startsAt": n.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    let ends = match n.action {
        Action::Resolve => n.ended_at.unwrap_or(now),
        Action::Trigger => {
            now + chrono::Duration::from_std(ends_after).unwrap_or(chrono::Duration::hours(1))
        }
    };
    alert["endsAt"] = json!(ends.to_rfc3339_opts(SecondsFormat::Millis, true));
    if let Some(link) = n.link.as_deref().filter(|l| reqwest::Url::parse(l).is_ok()) {
        alert["generatorURL"] = json!(link);
    }
    json!([alert])
}

impl Notifier for Alertmanager {
    fn name(&self) -> &str {
        &self.http.name
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = payload(n, Utc::now(), self.ends_after);
            self.http
                .send(self.http.client.post(self.url.clone()).json(&body))
                .await
        })
    }
}
