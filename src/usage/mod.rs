//! The provider's own books (issue 13): `probity usage import` reads an organisation's
//! usage and cost reports from OpenAI or Anthropic with an admin key, and stores the
//! buckets (`store::UsageRow`) beside probity's own runs, so a team sees its whole bill and
//! the probes' share of it (`usage show`, the history report, the dashboard, `/metrics`).
//!
//! `openai.rs` and `anthropic.rs` know each API's parameters and page shape; `client.rs`
//! fetches every page (pagination, 429 with Retry-After, errors classified and the key
//! redacted); `import.rs` decides the window and stores it (a re-import replaces);
//! `schedule.rs` is the daemon's job that imports on a schedule.

pub mod anthropic;
pub mod client;
pub mod import;
pub mod openai;
pub mod schedule;
pub mod show;

use std::time::Duration;

pub use client::Fetcher;
pub use import::{ImportSummary, fetch_window, import, window_since};

use crate::store::{StoreError, UsageRow};

/// A provider whose organisation reports probity reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Provider {
    Openai,
    Anthropic,
}

impl Provider {
    /// The name stored with each bucket and shown everywhere.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        match name {
            "openai" => Some(Provider::Openai),
            "anthropic" => Some(Provider::Anthropic),
            _ => None,
        }
    }

    /// The API's base URL (the reports' paths are under it).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::Openai => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com/v1",
        }
    }

    /// The environment variable the admin key is read from by default.
    pub fn default_key_env(self) -> &'static str {
        match self {
            Provider::Openai => "OPENAI_ADMIN_KEY",
            Provider::Anthropic => "ANTHROPIC_ADMIN_KEY",
        }
    }

    /// What to do when the key is refused.
    fn key_hint(self) -> &'static str {
        match self {
            Provider::Openai => {
                "OpenAI usage reports need an admin key (sk-admin-…) from the organisation \
                 settings (Admin keys); a project key (sk-proj-…) cannot read them"
            }
            Provider::Anthropic => {
                "Anthropic usage reports need an Admin API key (sk-ant-admin…) from the Console's \
                 organisation settings (Admin keys); a regular API key cannot read them"
            }
        }
    }

    fn display(self) -> &'static str {
        match self {
            Provider::Openai => "OpenAI",
            Provider::Anthropic => "Anthropic",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of a provider's two reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Tokens and requests per model.
    Usage,
    /// Amounts in USD per line item and day.
    Cost,
}

/// One parsed page: its bucket results, and the cursor of the next page (`None`: last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<UsageRow>,
    pub next: Option<String>,
}

/// Why an import failed. Messages never hold the admin key (`client.rs` redacts it).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "no admin key: the environment variable {var} is not set (or empty); set it to the \
         organisation's admin key, or name another variable with --key-env"
    )]
    NoKey { var: String },
    #[error("the base URL `{url}` is not an http(s) URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "the admin key was refused (HTTP {status} on {path}): {hint}",
        hint = provider.key_hint()
    )]
    KeyRefused {
        provider: Provider,
        path: String,
        status: u16,
    },
    #[error("{provider_name} answered HTTP {status} on {path}: {body}", provider_name = provider.display())]
    Status {
        provider: Provider,
        path: String,
        status: u16,
        body: String,
    },
    #[error(
        "{path}: still rate limited (HTTP 429) after {tries} tries; import again later, the \
         window is replaced whole"
    )]
    RateLimited { path: String, tries: u32 },
    #[error("cannot reach {path}: {message}")]
    Network { path: String, message: String },
    #[error("{path}: the answer is not a {provider_name} report page: {message}", provider_name = provider.display())]
    Parse {
        provider: Provider,
        path: String,
        message: String,
    },
    #[error("{path}: more than {pages} pages; narrow the window with --since")]
    TooManyPages { path: String, pages: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UsageError {
    /// The exit code (DESIGN.md): a key or setting to fix is a usage error (2); a provider
    /// that could not be read is "could not probe" (3).
    pub fn exit_code(&self) -> i32 {
        match self {
            UsageError::NoKey { .. }
            | UsageError::BadUrl { .. }
            | UsageError::KeyRefused { .. }
            | UsageError::Store(_) => crate::exit::USAGE,
            UsageError::Status { .. }
            | UsageError::RateLimited { .. }
            | UsageError::Network { .. }
            | UsageError::Parse { .. }
            | UsageError::TooManyPages { .. } => crate::exit::COULD_NOT_PROBE,
        }
    }
}

/// Parses `7d`, `36h`, `2w` (humantime) for `--since`.
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. `7d`, `36h`, `30d`"))?;
    if d.is_zero() {
        return Err("the window must be longer than 0".into());
    }
    if d > Duration::from_secs(400 * 86_400) {
        return Err(format!(
            "`{text}` is more than 400 days; the providers keep less"
        ));
    }
    Ok(d)
}

/// Untrusted text from a provider (an error body, a value it sent) made inert for a
/// terminal or log: hidden and control characters escaped.
pub(crate) fn inert_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if crate::inert::is_hidden(c) || (c.is_control() && c != ' ') {
            out.push_str(&crate::inert::escaped(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, timeout: 5000, ..ProptestConfig::default() })]

        /// Whatever a provider sends, the parsers answer (a page or an error), never panic.
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            for report in [Report::Usage, Report::Cost] {
                let _ = openai::parse(report, &body);
                let _ = anthropic::parse(report, &body);
            }
        }

        /// Pages shaped like the documented ones, with any numbers, parse to what they say.
        #[test]
        fn openai_usage_numbers_round_trip(input in 0i64..1 << 40, output in 0i64..1 << 40, requests in 0i64..1 << 30, start in 0i64..4_000_000_000) {
            let body = serde_json::json!({
                "object": "page",
                "data": [{"object": "bucket", "start_time": start, "end_time": start + 86_400,
                  "results": [{"input_tokens": input, "output_tokens": output, "num_model_requests": requests, "model": "m"}]}],
                "has_more": false, "next_page": null
            }).to_string();
            let page = openai::parse(Report::Usage, body.as_bytes()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(page.rows.len(), 1);
            let r = &page.rows[0];
            prop_assert_eq!((r.input_tokens, r.output_tokens, r.requests), (Some(input), Some(output), Some(requests)));
            prop_assert_eq!(r.start.timestamp(), start);
        }

        #[test]
        fn anthropic_cents_are_a_hundredth_of_a_dollar(cents in 0u32..10_000_000, frac in 0u32..100_000) {
            let amount = format!("{cents}.{frac:05}");
            let body = serde_json::json!({
                "data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z",
                  "results": [{"currency": "USD", "amount": amount, "model": "m", "description": "d"}]}],
                "has_more": false, "next_page": null
            }).to_string();
            let page = anthropic::parse(Report::Cost, body.as_bytes()).map_err(TestCaseError::fail)?;
            let usd = page.rows[0].cost_usd.unwrap_or(-1.0);
            let expected: f64 = amount.parse::<f64>().unwrap_or(0.0) / 100.0;
            prop_assert!((usd - expected).abs() <= expected.abs() * 1e-12 + 1e-12);
        }
    }
}
