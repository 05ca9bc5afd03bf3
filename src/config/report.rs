//! A probe's `report:` block: who gets the e-mailed summary of each run (and when), and who
//! gets the scheduled digest. Parsed and checked here (addresses, `when`, the digest's cron
//! line); the channel a summary goes through names an e-mail channel of the alert-routing
//! file, so that cross-check ([`check_channels`]) runs wherever both files are loaded
//! (`probity validate`, and a command before it sends anything).

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use super::alerts::{AlertRouting, RawChannel};
use super::diagnostic::Diagnostic;
use super::document::Document;
use super::schedule::{CRON_HINT, Schedule};

/// Who gets the report.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// The e-mailed summary of each run: a list of addresses (shorthand), or
    /// `{ to: [...], when: on_change, channel: mail }`.
    #[serde(default)]
    pub email: Option<RawEmailReport>,
    /// A digest of every probe's runs, incidents and cost since the last one, on its own
    /// schedule: `{ to: [...], schedule: "0 9 * * 1-5", channel: mail }` (sent by `probity serve`).
    #[serde(default)]
    pub digest: Option<RawDigest>,
}

/// The summary's recipients, as a bare list or in full.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawEmailReport {
    /// Addresses; sent after every run through the routing file's only e-mail channel.
    List(Vec<String>),
    Full(RawEmailSummary),
}

/// The e-mailed summary in full.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmailSummary {
    /// Addresses that get the summary.
    pub to: Vec<String>,
    /// `always`, `on_change` (the verdict differs from the previous run's) or `on_failure`
    /// (default always).
    #[serde(default)]
    pub when: Option<ReportWhen>,
    /// An e-mail channel of the alert-routing file (its server and sender are used); may be
    /// left out when that file has exactly one.
    #[serde(default)]
    pub channel: Option<String>,
}

/// When a run's summary is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportWhen {
    #[default]
    Always,
    OnChange,
    OnFailure,
}

impl ReportWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportWhen::Always => "always",
            ReportWhen::OnChange => "on_change",
            ReportWhen::OnFailure => "on_failure",
        }
    }
}

/// The digest e-mail.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    /// Addresses that get the digest.
    pub to: Vec<String>,
    /// When: a 5-field crontab line in the probe's `timezone`, e.g. `0 9 * * 1-5`.
    pub schedule: String,
    /// An e-mail channel of the alert-routing file; may be left out when it has exactly one.
    #[serde(default)]
    pub channel: Option<String>,
}

/// The validated summary settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailReport {
    pub to: Vec<String>,
    pub when: ReportWhen,
    /// `None`: the routing file's only e-mail channel.
    pub channel: Option<String>,
}

/// The validated digest settings.
#[derive(Debug, Clone)]
pub struct DigestReport {
    pub to: Vec<String>,
    pub schedule: Schedule,
    pub channel: Option<String>,
}

/// A probe's `report:` block, validated.
#[derive(Debug, Clone, Default)]
pub struct ReportConfig {
    pub email: Option<EmailReport>,
    pub digest: Option<DigestReport>,
}

impl ReportConfig {
    /// Whether anything here needs the alert-routing file's channels.
    pub fn sends_mail(&self) -> bool {
        self.email.is_some() || self.digest.is_some()
    }
}

/// Validates `report:` (at `/report` of `doc`); problems are pushed, what is valid is kept.
pub fn validate(
    doc: &Document,
    raw: Option<&RawReport>,
    timezone: chrono_tz::Tz,
    problems: &mut Vec<Diagnostic>,
) -> ReportConfig {
    let Some(raw) = raw else {
        return ReportConfig::default();
    };
    let email = raw.email.as_ref().map(|e| {
        let (to, when, channel, pointer) = match e {
            RawEmailReport::List(to) => (to, ReportWhen::Always, None, "/report/email"),
            RawEmailReport::Full(f) => (
                &f.to,
                f.when.unwrap_or_default(),
                f.channel.clone(),
                "/report/email/to",
            ),
        };
        addresses(doc, pointer, to, problems);
        EmailReport {
            to: to.clone(),
            when,
            channel,
        }
    });
    let digest = raw.digest.as_ref().and_then(|d| {
        addresses(doc, "/report/digest/to", &d.to, problems);
        match Schedule::parse(&d.schedule, timezone) {
            Ok(schedule) => Some(DigestReport {
                to: d.to.clone(),
                schedule,
                channel: d.channel.clone(),
            }),
            Err(e) => {
                problems.push(doc.error("/report/digest/schedule", e).with_hint(CRON_HINT));
                None
            }
        }
    });
    ReportConfig { email, digest }
}

/// Every address must be one an SMTP server accepts (`a@b` or `Name <a@b>`).
fn addresses(doc: &Document, pointer: &str, to: &[String], problems: &mut Vec<Diagnostic>) {
    if to.is_empty() {
        problems.push(
            doc.error(pointer, "names no recipient")
                .with_hint("list at least one address, e.g. [ml-owners@example.com]"),
        );
    }
    for (i, address) in to.iter().enumerate() {
        if let Err(e) = address.parse::<lettre::message::Mailbox>() {
            problems.push(
                doc.error(
                    &format!("{pointer}/{i}"),
                    format!("`{address}` is not an e-mail address: {e}"),
                )
                .with_hint("write `name@example.com` or `Name <name@example.com>`"),
            );
        }
    }
}

/// The e-mail channel of `routing` that `named` picks: the one named (it must exist and be
/// of type email), or, when none is named, the file's only e-mail channel.
pub fn resolve_channel(routing: &AlertRouting, named: Option<&str>) -> Result<String, String> {
    let emails: Vec<&str> = routing
        .channels
        .iter()
        .filter(|(_, c)| matches!(c, RawChannel::Email { .. }))
        .map(|(n, _)| n.as_str())
        .collect();
    match named {
        Some(name) => match routing.channels.get(name) {
            Some(RawChannel::Email { .. }) => Ok(name.to_string()),
            Some(_) => Err(format!(
                "channel `{name}` is not an e-mail channel{}",
                list_hint(&emails)
            )),
            None => {
                let known: Vec<&str> = routing.channels.keys().map(String::as_str).collect();
                let hint = match super::suggest::closest(name, emails.iter().copied()) {
                    Some(c) => format!("; did you mean `{c}`?"),
                    None if known.is_empty() => String::new(),
                    None => list_hint(&emails),
                };
                Err(format!("no channel `{name}` in the alerts file{hint}"))
            }
        },
        None => match emails.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(
                "the alerts file has no e-mail channel; add one (`type: email`) and name it \
                 with `channel:`"
                    .to_string(),
            ),
            many => Err(format!(
                "the alerts file has several e-mail channels ({}); say which with `channel:`",
                many.join(", ")
            )),
        },
    }
}

fn list_hint(emails: &[&str]) -> String {
    if emails.is_empty() {
        "; the alerts file has no e-mail channel (`type: email`)".to_string()
    } else {
        format!("; e-mail channels: {}", emails.join(", "))
    }
}

/// Every `report:` channel of `probe` resolved against `routing`: a problem at the key that
/// names it (or at `report.email` / `report.digest` when none does).
pub fn check_channels(
    file: &Path,
    report: &ReportConfig,
    routing: &AlertRouting,
) -> Vec<Diagnostic> {
    let doc = Document::read(file).ok();
    let mut out = Vec::new();
    let items = [
        ("email", report.email.as_ref().map(|e| e.channel.as_deref())),
        (
            "digest",
            report.digest.as_ref().map(|d| d.channel.as_deref()),
        ),
    ];
    for (what, channel) in items {
        let Some(channel) = channel else { continue };
        if let Err(message) = resolve_channel(routing, channel) {
            let pointer = match channel {
                Some(_) => format!("/report/{what}/channel"),
                None => format!("/report/{what}"),
            };
            let (line, col) = doc
                .as_ref()
                .map(|d| {
                    let loc = d.value_loc(&pointer);
                    (loc.line, loc.col)
                })
                .unwrap_or((1, 1));
            out.push(
                Diagnostic::new(file, line, col, message)
                    .at_key(super::document::key_path(&pointer))
                    .with_hint(format!(
                        "channels are defined in {}",
                        super::diagnostic::display_path(&routing.file)
                    )),
            );
        }
    }
    out
}
