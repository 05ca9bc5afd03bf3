//! The five network channels (Slack, PagerDuty, generic webhook, Alertmanager, e-mail):
//! `build` turns a validated `alerts.yaml` channel into a [`Notifier`]. Console and file
//! channels are local and built by `alert::local`, not here.
//!
//! Shared here, so every channel behaves the same: one HTTP client per channel with the
//! delivery timeout; secrets removed from every error message; how an HTTP status or a
//! transport failure maps to a retryable or permanent [`NotifyError`]; and the
//! neutralising of text that may hold model output. A channel sends once: retries and
//! back-off belong to the outbox.

use std::time::Duration;

use crate::alert::{Notification, Notifier, NotifyError};
use crate::compare::Severity;
use crate::config::Secret;
use crate::config::alerts::{RawChannel, SmtpTls};

pub mod alertmanager;
pub mod email;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

/// Why a channel could not be built from its (already validated) configuration.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel `{channel}`: {message}")]
    Invalid { channel: String, message: String },
    #[error(
        "channel `{channel}` is a local channel; console and file channels are built by alert::local"
    )]
    Local { channel: String },
}

/// Builds the notifier for channel `name`. `timeout` bounds one whole delivery attempt
/// (connect, send, answer); `secrets` are the values resolved from the environment for
/// `alerts.yaml`, removed from every error this channel reports.
pub fn build(
    name: &str,
    raw: &RawChannel,
    timeout: Duration,
    secrets: &[Secret],
) -> Result<Box<dyn Notifier>, ChannelError> {
    // A channel's own credentials are redacted even when written literally in the file.
    let mut redactor = Redactor::new(secrets);
    // A URL's path and query can hold the token (Slack's `/services/T/B/XXXX`, chat
    // webhooks): a receiver echoing the path must not leak it.
    let url_parts = |url: &str| -> Vec<String> {
        reqwest::Url::parse(url)
            .map(|u| {
                let mut parts = vec![url.to_string()];
                if u.path().len() >= 12 {
                    parts.push(u.path().to_string());
                }
                if let Some(q) = u.query().filter(|q| !q.is_empty()) {
                    parts.push(q.to_string());
                }
                parts
            })
            .unwrap_or_default()
    };
    if let RawChannel::Slack { webhook_url: url } | RawChannel::Webhook { url, .. } = raw {
        for part in url_parts(url) {
            redactor = redactor.with(&part);
        }
    }
    match raw {
        RawChannel::Pagerduty { routing_key, .. } => redactor = redactor.with(routing_key),
        RawChannel::Webhook {
            secret: Some(s), ..
        } => redactor = redactor.with(s),
        RawChannel::Email {
            password: Some(p), ..
        } => redactor = redactor.with(p),
        _ => {}
    }
    let invalid = |message: String| ChannelError::Invalid {
        channel: name.to_string(),
        message: redactor.redact(&message),
    };
    let http = || http_client(timeout).map_err(|e| invalid(e.to_string()));
    let parse = |key: &str, url: &str| {
        reqwest::Url::parse(url).map_err(|e| invalid(format!("`{key}` is not a URL: {e}")))
    };
    let base = |client| Http {
        name: name.to_string(),
        client,
        redactor: redactor.clone(),
    };
    Ok(match raw {
        RawChannel::Slack { webhook_url } => Box::new(slack::Slack {
            url: parse("webhook_url", webhook_url)?,
            http: base(http()?),
        }),
        RawChannel::Pagerduty { routing_key, url } => Box::new(pagerduty::PagerDuty {
            url: parse("url", url.as_deref().unwrap_or(pagerduty::DEFAULT_URL))?,
            routing_key: routing_key.clone(),
            http: base(http()?),
        }),
        RawChannel::Webhook { url, secret } => Box::new(webhook::Webhook {
            url: parse("url", url)?,
            secret: secret.clone(),
            http: base(http()?),
        }),
        RawChannel::Alertmanager { url, ends_after } => {
            let base_url = parse("url", url)?;
            let alerts = alertmanager::alerts_url(&base_url).map_err(invalid)?;
            let ends_after = match ends_after {
                Some(d) => crate::config::parse_duration(d)
                    .map_err(|e| invalid(format!("`ends_after`: {e}")))?,
                None => alertmanager::DEFAULT_ENDS_AFTER,
            };
            Box::new(alertmanager::Alertmanager {
                url: alerts,
                ends_after,
                http: base(http()?),
            })
        }
        RawChannel::Email {
            smtp,
            tls,
            username,
            password,
            from,
            to,
            ca_file,
        } => Box::new(
            email::Email::new(
                name,
                email::EmailConfig {
                    smtp,
                    tls: tls.unwrap_or(SmtpTls::Starttls),
                    username: username.as_deref(),
                    password: password.as_deref(),
                    from,
                    to,
                    ca_file: ca_file.as_deref(),
                },
                timeout,
                redactor.clone(),
            )
            .map_err(invalid)?,
        ),
        RawChannel::Console {} | RawChannel::File { .. } => {
            return Err(ChannelError::Local {
                channel: name.to_string(),
            });
        }
    })
}

fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("probity/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Removes secret values (webhook URLs, routing keys, passwords) from text shown to users.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: &[Secret]) -> Self {
        // Longest first, so a secret containing another is removed whole.
        let mut values: Vec<String> = secrets
            .iter()
            .map(|s| s.expose().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Redactor { values }
    }

    /// Also redacts `value` (a channel's own key or URL, even when written literally).
    pub fn with(mut self, value: &str) -> Self {
        if !value.is_empty() {
            self.values.push(value.to_string());
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
        self
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            out = out.replace(v.as_str(), "[REDACTED]");
        }
        out
    }
}

/// What every HTTP channel shares: its name, its client and its redactor.
pub(crate) struct Http {
    pub name: String,
    pub client: reqwest::Client,
    pub redactor: Redactor,
}

impl Http {
    /// Sends a built request and maps the outcome: any 2xx is accepted; 408, 429 and 5xx
    /// (and timeouts, refused or reset connections) are retryable; other statuses are not.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<(), NotifyError> {
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e)),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = retry_after(response.headers());
        // A short excerpt of the answer helps (PagerDuty says which field was wrong).
        let body = response.text().await.unwrap_or_default();
        let excerpt = truncate(&neutralize(body.trim()), 300);
        let retryable =
            status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
        let mut message = format!("{}: HTTP {status}", self.name);
        if !excerpt.is_empty() {
            message.push_str(": ");
            message.push_str(&excerpt);
        }
        Err(NotifyError {
            retryable,
            retry_after,
            message: self.redactor.redact(&message),
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> NotifyError {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        // The URL may be a secret (Slack webhooks): it is dropped, then values redacted.
        let detail = error_chain(&e.without_url());
        NotifyError {
            retryable: true,
            retry_after: None,
            message: self
                .redactor
                .redact(&format!("{}: {what}: {detail}", self.name)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let piece = s.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = s.source();
    }
    text
}

/// `Retry-After` as seconds (the HTTP-date form is rare for these APIs and ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Makes text safe to show whatever the format: control characters (but newline and tab)
/// and Unicode bidirectional controls (which can make a shown text read differently from
/// what it is) become visible `U+XXXX` marks. Format escaping (mrkdwn, HTML) comes after.
pub fn neutralize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if crate::inert::is_hidden(c) || (c.is_control() && c != '\n' && c != '\t') {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts text to at most `max` characters, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The words a message starts with: `[TEST] CRITICAL`, `RESOLVED`.
pub(crate) fn headline(n: &Notification) -> String {
    let state = match n.action {
        crate::alert::Action::Trigger => n.severity.as_str().to_ascii_uppercase(),
        crate::alert::Action::Resolve => "RESOLVED".to_string(),
    };
    if n.test {
        format!("[TEST] {state}")
    } else {
        state
    }
}

/// Severity names as PagerDuty and Alertmanager spell them.
pub(crate) fn severity_name(s: Severity) -> &'static str {
    s.as_str()
}
