//! Prometheus Alertmanager, API v2: `POST {url}/api/v2/alerts` with a JSON array of one
//! alert: `labels` (the notification's labels, then `alertname` = the rule, `probe`,
//! `severity`, and `test="true"` for a drill; names outside Prometheus' `[a-zA-Z_]
//! [a-zA-Z0-9_]*` have other characters replaced by `_`, empty values are dropped),
//! `annotations` (`summary`, and `details` as `key: value` lines), `startsAt`, and
//! `generatorURL` when the link is a URL. A firing alert leaves `endsAt` unset, so
//! Alertmanager keeps it active for its `resolve_timeout` and the outbox re-sends it each
//! run (Alertmanager expects clients to repeat firing alerts); a resolve sets `endsAt` to
//! the incident's end (or now), which ends it at once. The labels are its identity, so a
//! resend is the same alert, never a second one.

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Http, neutralize, severity_name, truncate};
use crate::alert::{Action, Notification, Notifier, NotifyError};

pub struct Alertmanager {
    pub(crate) url: reqwest::Url,
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

fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The JSON array posted (one alert).
pub fn payload(n: &Notification) -> Value {
    let mut labels = BTreeMap::new();
    for (k, v) in &n.labels {
        if !v.is_empty() {
            labels.insert(label_name(k), v.clone());
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
    if n.action == Action::Resolve {
        let ended = n.ended_at.unwrap_or_else(Utc::now);
        alert["endsAt"] = json!(ended.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
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
            let body = payload(n);
            self.http
                .send(self.http.client.post(self.url.clone()).json(&body))
                .await
        })
    }
}
