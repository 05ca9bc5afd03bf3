//! The project's usage imports (issue 13): a file under `probes/` with a top-level `usage:`
//! key, one entry (or a list of them) per provider whose organisation reports the daemon
//! imports on a schedule:
//!
//! ```yaml
//! # probes/usage.yaml
//! usage:
//!   - provider: openai
//!     admin_key: ${OPENAI_ADMIN_KEY}   # an admin key; never stored or printed
//!     schedule: "0 * * * *"
//!     base_url: https://api.openai.com/v1
//! ```
//!
//! Validated like every config file: structure from the raw struct's schema (unknown keys
//! with a did-you-mean), the schedule by `schedule.rs`, durations and URLs checked, every
//! problem at once with file:line:col.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::duration::{DURATION_HINT, parse_duration};
use super::model::Secret;
use super::schedule::{CRON_HINT, Schedule};
use super::schema::SchemaCheck;
use crate::usage::Provider;

/// Which provider's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawProvider {
    /// OpenAI: `/v1/organization/usage/completions` and `/v1/organization/costs`.
    Openai,
    /// Anthropic: `/v1/organizations/usage_report/messages` and `/cost_report`.
    Anthropic,
}

/// One scheduled import.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    /// `openai` or `anthropic`.
    pub provider: RawProvider,
    /// The organisation's admin key, from the environment (`${OPENAI_ADMIN_KEY}`).
    pub admin_key: String,
    /// When to import: a crontab line, e.g. `0 * * * *` (hourly).
    pub schedule: String,
    /// IANA timezone of `schedule` (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The API's base URL (default the provider's public one).
    #[serde(default)]
    pub base_url: Option<String>,
    /// How far back the first import reaches (default 7d).
    #[serde(default)]
    pub since: Option<String>,
    /// How much of the last import's window each import fetches again, since providers
    /// revise their latest buckets (default 1d).
    #[serde(default)]
    pub overlap: Option<String>,
    /// Hourly usage buckets instead of daily ones (default false).
    #[serde(default)]
    pub hourly: Option<bool>,
}

/// A validated scheduled import.
#[derive(Debug, Clone)]
pub struct UsageImportConfig {
    /// The file it was declared in.
    pub file: PathBuf,
    pub provider: Provider,
    pub admin_key: Secret,
    pub schedule: Schedule,
    pub base_url: String,
    pub first_window: Duration,
    pub overlap: Duration,
    pub hourly: bool,
}

/// The keys of `RawUsage`.
const KEYS: [&str; 8] = [
    "provider",
    "admin_key",
    "schedule",
    "timezone",
    "base_url",
    "since",
    "overlap",
    "hourly",
];

static USAGE_SCHEMA: LazyLock<SchemaCheck> = LazyLock::new(SchemaCheck::of::<RawUsage>);

/// Whether a document is a usage-import file (a top-level `usage:`, and not a probe).
pub fn is_usage_document(doc: &Document) -> bool {
    doc.value.get("usage").is_some() && doc.value.get("target").is_none()
}

/// Validates a usage-import document: every entry, and one entry per provider.
pub fn validate_usage(doc: &Document) -> (Vec<UsageImportConfig>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    if let Some(map) = doc.value.as_object() {
        for key in map.keys().filter(|k| *k != "usage") {
            problems.push(
                doc.key_error(
                    &format!("/{}", super::locate::escape(key)),
                    format!("unknown key `{key}`"),
                )
                .with_hint("a usage file holds only `usage:` (a list of imports, or one)"),
            );
        }
    }
    let entries: Vec<(String, &serde_json::Value)> = match doc.value.get("usage") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/usage/{i}"), v))
            .collect(),
        Some(v) => vec![("/usage".to_string(), v)],
        None => Vec::new(),
    };
    let mut out: Vec<UsageImportConfig> = Vec::new();
    for (pointer, value) in entries {
        let structural = USAGE_SCHEMA.check(doc, &pointer, value);
        if !structural.is_empty() {
            problems.extend(structural);
            // The known keys are still checked, so one run of `validate` shows everything.
            let mut known = value.clone();
            if let Some(map) = known.as_object_mut() {
                map.retain(|k, _| KEYS.contains(&k.as_str()));
            }
            if let Ok(raw) = serde_json::from_value::<RawUsage>(known) {
                let _ = validate_one(doc, &pointer, raw, &mut problems);
            }
            continue;
        }
        let raw: RawUsage = match serde_json::from_value(value.clone()) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(doc.error(&pointer, e.to_string()));
                continue;
            }
        };
        if let Some(config) = validate_one(doc, &pointer, raw, &mut problems) {
            if out.iter().any(|c| c.provider == config.provider) {
                problems.push(
                    doc.error(
                        &format!("{pointer}/provider"),
                        format!("a second import of `{}`", config.provider),
                    )
                    .with_hint(
                        "import each provider once: its window continues from its last import",
                    ),
                );
                continue;
            }
            out.push(config);
        }
    }
    (out, problems)
}

fn validate_one(
    doc: &Document,
    pointer: &str,
    raw: RawUsage,
    problems: &mut Vec<Diagnostic>,
) -> Option<UsageImportConfig> {
    let before = problems.len();
    let provider = match raw.provider {
        RawProvider::Openai => Provider::Openai,
        RawProvider::Anthropic => Provider::Anthropic,
    };
    let timezone = match raw.timezone.as_deref() {
        None => chrono_tz::UTC,
        Some(name) => match name.parse() {
            Ok(tz) => tz,
            Err(_) => {
                problems.push(doc.error(
                    &format!("{pointer}/timezone"),
                    format!("unknown timezone `{name}`"),
                ));
                chrono_tz::UTC
            }
        },
    };
    let schedule = match Schedule::parse(&raw.schedule, timezone) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(
                doc.error(&format!("{pointer}/schedule"), e)
                    .with_hint(CRON_HINT),
            );
            None
        }
    };
    let mut duration = |key: &str, value: Option<&str>, default: Duration| match value {
        None => default,
        Some(text) => match parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                problems.push(doc.error(&format!("{pointer}/{key}"), "must be longer than 0"));
                default
            }
            Err(e) => {
                problems.push(
                    doc.error(
                        &format!("{pointer}/{key}"),
                        format!("invalid duration: {e}"),
                    )
                    .with_hint(DURATION_HINT),
                );
                default
            }
        },
    };
    let first_window = duration(
        "since",
        raw.since.as_deref(),
        Duration::from_secs(7 * 86_400),
    );
    let overlap = duration(
        "overlap",
        raw.overlap.as_deref(),
        Duration::from_secs(86_400),
    );
    let base_url = raw
        .base_url
        .clone()
        .unwrap_or_else(|| provider.default_base_url().to_string());
    if !reqwest::Url::parse(&base_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        problems.push(doc.error(&format!("{pointer}/base_url"), "not an http(s) URL"));
    }
    if raw.admin_key.trim().is_empty() {
        problems.push(
            doc.error(&format!("{pointer}/admin_key"), "the admin key is empty")
                .with_hint(format!(
                    "write `admin_key: ${{{}}}` and set it",
                    provider.default_key_env()
                )),
        );
    }
    if problems.len() > before {
        return None;
    }
    Some(UsageImportConfig {
        file: doc.path.clone(),
        provider,
        admin_key: Secret::new(raw.admin_key),
        schedule: schedule?,
        base_url,
        first_window,
        overlap,
        hourly: raw.hourly.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> (Vec<UsageImportConfig>, Vec<String>) {
        let doc = Document::parse(Path::new("probes/usage.yaml"), text).expect("YAML");
        let (configs, problems) = validate_usage(&doc);
        (configs, problems.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn a_mapping_or_a_list_validates() {
        let (one, problems) =
            check("usage: { provider: openai, admin_key: sk-admin-x, schedule: \"0 * * * *\" }\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(one[0].provider, Provider::Openai);
        assert_eq!(one[0].base_url, "https://api.openai.com/v1");
        assert_eq!(one[0].overlap, Duration::from_secs(86_400));
        let (two, problems) = check(
            "usage:\n  - { provider: openai, admin_key: a, schedule: \"@hourly\" }\n  - { provider: anthropic, admin_key: b, schedule: \"0 6 * * *\", since: 30d, hourly: true }\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(two.len(), 2);
        assert!(two[1].hourly);
    }

    #[test]
    fn every_problem_is_reported_at_its_place() {
        let (configs, problems) = check(
            "usage:\n  - provider: openai\n    admin_key: a\n    schedule: \"61 * * * *\"\n    overlap: soon\n  - provider: openai\n    admin_key: b\n    schedule: \"@daily\"\n    shedule: x\n  - { provider: opnai, admin_key: c, schedule: \"@daily\" }\n",
        );
        assert!(configs.is_empty());
        let all = problems.join("\n");
        assert!(
            all.contains("probes/usage.yaml:4:") && all.contains("schedule"),
            "{all}"
        );
        assert!(
            all.contains("probes/usage.yaml:5:") && all.contains("invalid duration"),
            "{all}"
        );
        assert!(
            all.contains("unknown key `shedule`") && all.contains("schedule"),
            "{all}"
        );
        assert!(all.contains("opnai") && all.contains("openai"), "{all}");
    }

    #[test]
    fn one_import_per_provider() {
        let (configs, problems) = check(
            "usage:\n  - { provider: openai, admin_key: a, schedule: \"@daily\" }\n  - { provider: openai, admin_key: b, schedule: \"@hourly\" }\n",
        );
        assert_eq!(configs.len(), 1);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("a second import of `openai`")),
            "{problems:?}"
        );
    }
}
