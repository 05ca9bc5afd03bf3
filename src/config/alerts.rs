//! The alert-routing file (`probes/alerts.yaml`): channels (where an alert can go) and
//! routes (which severities go to which channels). Validated here so a typo in a channel
//! name is found by `probity validate`, not at 3 a.m. when the first page should go out.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::interpolate::Unset;
use super::locate::escape;
use super::model::Secret;
use super::schema::SchemaCheck;

/// Channels and routes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Named destinations for alerts.
    #[serde(default)]
    pub channels: BTreeMap<String, RawChannel>,
    /// Named routes: for each severity, the channels that get it.
    #[serde(default)]
    pub routes: BTreeMap<String, RawRoute>,
}

/// TLS mode of an SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection (local relays, tests).
    None,
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

/// One destination.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawChannel {
    /// PagerDuty Events API v2.
    Pagerduty {
        /// The integration's routing key (`${PD_ROUTING_KEY}`).
        routing_key: String,
        /// Events API URL (default https://events.pagerduty.com/v2/enqueue).
        #[serde(default)]
        url: Option<String>,
    },
    /// Prometheus Alertmanager.
    Alertmanager {
        /// Base URL, e.g. http://alertmanager:9093.
        url: String,
        /// How long a firing alert stays active in Alertmanager without being re-sent
        /// (its `endsAt`, from each send; default 1h). Every run re-sends open incidents,
        /// so make it longer than the time between two runs of the probe (e.g. 3× the
        /// schedule's interval); an alert not re-sent in time resolves on its own there.
        #[serde(default)]
        ends_after: Option<String>,
    },
    /// Slack incoming webhook.
    Slack {
        /// The webhook URL (`${SLACK_WEBHOOK_URL}`).
        webhook_url: String,
    },
    /// Any HTTP endpoint; payloads are signed with HMAC-SHA256 when a secret is set.
    Webhook {
        /// Where to POST.
        url: String,
        /// Shared secret for the signature header.
        #[serde(default)]
        secret: Option<String>,
    },
    /// Email over SMTP.
    Email {
        /// SMTP server, e.g. smtp://mail.example.com:587.
        smtp: String,
        /// `none`, `starttls` or `tls` (default starttls).
        #[serde(default)]
        tls: Option<SmtpTls>,
        /// SMTP user.
        #[serde(default)]
        username: Option<String>,
        /// SMTP password (`${SMTP_PASSWORD}`).
        #[serde(default)]
        password: Option<String>,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// A PEM file of CA certificates to trust for this server besides the system's
        /// (a corporate relay signed by an internal CA); relative to the working folder.
        #[serde(default)]
        ca_file: Option<String>,
    },
    /// Printed to the terminal (and the log).
    Console {},
    /// Appended to a file as JSON lines, one notification a line (local use, the demo,
    /// and tests that read what would have been sent).
    File {
        /// The file, relative to the working directory; created if missing.
        path: String,
    },
}

/// Severity → channels.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Channels that get critical findings (page).
    #[serde(default)]
    pub critical: Vec<String>,
    /// Channels that get warnings (chat).
    #[serde(default)]
    pub warning: Vec<String>,
    /// Channels that get informational notes (email).
    #[serde(default)]
    pub info: Vec<String>,
}

/// The validated routing file.
#[derive(Debug, Clone)]
pub struct AlertRouting {
    pub file: std::path::PathBuf,
    pub channels: BTreeMap<String, RawChannel>,
    pub routes: BTreeMap<String, RawRoute>,
    /// Secrets resolved from the environment in this file, for redaction.
    pub secrets: Vec<Secret>,
    /// Per channel, its `${VAR}`s that are not set. Not an error while loading: only a
    /// command that would use the channel (a probe's route, `alert test --channel`) fails
    /// on it, and `validate` reports those of channels a route names ([`Self::routed_unset`]).
    pub unset: BTreeMap<String, Vec<Unset>>,
}

impl AlertRouting {
    /// Every channel some route names.
    pub fn routed_channels(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .routes
            .values()
            .flat_map(|r| r.critical.iter().chain(&r.warning).chain(&r.info))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The problems of the unset variables of channels some route names.
    pub fn routed_unset(&self) -> Vec<Diagnostic> {
        self.routed_channels()
            .into_iter()
            .filter_map(|c| self.unset.get(c))
            .flatten()
            .map(|u| u.diagnostic.clone())
            .collect()
    }

    /// Takes the unset variables of `/channels/NAME/...` values out of `unset` into this
    /// routing, per channel; the rest (a `${VAR}` outside any channel) stay errors.
    pub fn defer_unset(&mut self, unset: Vec<Unset>) -> Vec<Unset> {
        let mut rest = Vec::new();
        for u in unset {
            let channel = u
                .pointer
                .strip_prefix("/channels/")
                .and_then(|p| p.split('/').next())
                .map(unescape)
                .filter(|c| self.channels.contains_key(c));
            match channel {
                Some(c) => self.unset.entry(c).or_default().push(u),
                None => rest.push(u),
            }
        }
        rest
    }
}

/// A JSON-pointer segment back to its key (`~1` is `/`, `~0` is `~`).
fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

static ALERTS_SCHEMA: LazyLock<SchemaCheck> = LazyLock::new(SchemaCheck::of::<RawAlerts>);

/// Whether a document looks like an alert-routing file rather than a probe.
pub fn is_alerts_document(doc: &Document) -> bool {
    doc.value.get("channels").is_some() || doc.value.get("routes").is_some()
}

/// Validates an alert-routing document: structure, and that routes name real channels.
/// The routing comes back whenever its structure is sound, even with problems, so probes
/// can still be checked against its routes.
pub fn validate_alerts(
    doc: &Document,
    secrets: Vec<Secret>,
) -> (Option<AlertRouting>, Vec<Diagnostic>) {
    let mut problems = ALERTS_SCHEMA.check(doc, "", &doc.value);
    if !problems.is_empty() {
        return (None, problems);
    }
    let raw: RawAlerts = match serde_json::from_value(doc.value.clone()) {
        Ok(raw) => raw,
        Err(e) => return (None, vec![doc.error("", e.to_string())]),
    };
    let names: Vec<&str> = raw.channels.keys().map(String::as_str).collect();
    for (route, r) in &raw.routes {
        for (severity, channels) in [
            ("critical", &r.critical),
            ("warning", &r.warning),
            ("info", &r.info),
        ] {
            for (i, channel) in channels.iter().enumerate() {
                if !raw.channels.contains_key(channel) {
                    let pointer = format!("/routes/{}/{severity}/{i}", escape(route));
                    problems.push(
                        doc.error(&pointer, format!("unknown channel `{channel}`"))
                            .with_hint(super::suggest::hint(channel, &names)),
                    );
                }
            }
        }
    }
    for (name, channel) in &raw.channels {
        let url = match channel {
            RawChannel::Alertmanager { url, .. } | RawChannel::Webhook { url, .. } => {
                Some(("url", url))
            }
            RawChannel::Slack { webhook_url } => Some(("webhook_url", webhook_url)),
            RawChannel::Email { smtp, .. } => Some(("smtp", smtp)),
            _ => None,
        };
        if let RawChannel::Alertmanager {
            ends_after: Some(d),
            ..
        } = channel
            && let Err(e) = super::duration::parse_duration(d)
        {
            problems.push(
                doc.error(
                    &format!("/channels/{}/ends_after", escape(name)),
                    format!("invalid duration: {e}"),
                )
                .with_hint(super::duration::DURATION_HINT),
            );
        }
        // Secrets may be in the URL (Slack webhooks), so it is not quoted.
        if let Some((key, _)) = url.filter(|(_, u)| reqwest::Url::parse(u).is_err()) {
            problems.push(doc.error(&format!("/channels/{}/{key}", escape(name)), "not a URL"));
        }
    }
    let routing = AlertRouting {
        file: doc.path.clone(),
        channels: raw.channels,
        routes: raw.routes,
        secrets,
        unset: BTreeMap::new(),
    };
    (Some(routing), problems)
}
