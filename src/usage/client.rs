//! Fetching every page of a provider's report: one `reqwest::Client`, the admin key in the
//! provider's header (never in the URL, so it cannot leak through an error that quotes
//! the URL), `page=<next_page>` until the provider says there is no more, 429 retried after
//! its `Retry-After`, and every failure classified: a refused key (401/403) with what key
//! is needed, any other status with the path and a redacted, escaped snippet of the body.

use std::time::Duration;

use reqwest::StatusCode;

use super::{Page, Provider, Report, UsageError, anthropic, openai};
use crate::config::Secret;
use crate::store::UsageRow;

/// Requests give up after this long.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Tries of one page while the provider answers 429.
const TRIES: u32 = 5;
/// Longest wait honoured from a `Retry-After`.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Pages of one report at most: a provider that keeps sending cursors is a bug, not a bill.
const MAX_PAGES: u32 = 500;
/// Characters of an error body quoted.
const SNIPPET: usize = 300;

/// Fetches one provider's reports.
pub struct Fetcher {
    provider: Provider,
    base: String,
    key: Secret,
    client: reqwest::Client,
    /// The wait before a retry when a 429 names none.
    pub default_wait: Duration,
}

impl Fetcher {
    /// A fetcher for `provider` at `base_url` (e.g. `https://api.openai.com/v1`).
    pub fn new(provider: Provider, base_url: &str, key: Secret) -> Result<Fetcher, UsageError> {
        let bad = |reason: String| UsageError::BadUrl {
            url: base_url.to_string(),
            reason,
        };
        let url = reqwest::Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!("the scheme is `{}`", url.scheme())));
        }
        if key.expose().trim().is_empty() {
            return Err(UsageError::NoKey {
                var: provider.default_key_env().into(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Fetcher {
            provider,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            client,
            default_wait: Duration::from_secs(1),
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// `text` with the admin key replaced, escaped for a terminal and cut short.
    fn scrub(&self, text: &str) -> String {
        let key = self.key.expose();
        let text = if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[REDACTED]")
        };
        let short: String = text.chars().take(SNIPPET).collect();
        let mut out = super::inert_text(&short);
        if text.chars().count() > SNIPPET {
            out.push('…');
        }
        out
    }

    fn request(&self, url: &str, query: &[(String, String)]) -> reqwest::RequestBuilder {
        let req = self.client.get(url).query(query);
        match self.provider {
            Provider::Openai => req.bearer_auth(self.key.expose()),
            Provider::Anthropic => req
                .header("x-api-key", self.key.expose())
                .header("anthropic-version", anthropic::VERSION),
        }
    }

    /// One page, retried while the provider answers 429.
    async fn page(
        &self,
        report: Report,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Page, UsageError> {
        let url = format!("{}/{path}", self.base);
        // Errors name the path, e.g. `/v1/organization/costs` (the host is the user's).
        let shown = reqwest::Url::parse(&url)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| format!("/{path}"));
        let mut wait = self.default_wait;
        for attempt in 1..=TRIES {
            let resp = self
                .request(&url, query)
                .send()
                .await
                .map_err(|e| UsageError::Network {
                    path: shown.clone(),
                    message: self.scrub(&error_chain(&e)),
                })?;
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                if attempt == TRIES {
                    return Err(UsageError::RateLimited {
                        path: shown,
                        tries: TRIES,
                    });
                }
                let asked = retry_after(resp.headers());
                tracing::info!(path = %shown, attempt, wait_ms = asked.unwrap_or(wait).as_millis() as u64, "usage report rate limited; retrying");
                tokio::time::sleep(asked.unwrap_or(wait).min(MAX_WAIT)).await;
                wait = (wait * 2).min(MAX_WAIT);
                continue;
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(UsageError::KeyRefused {
                    provider: self.provider,
                    path: shown,
                    status: status.as_u16(),
                });
            }
            let body = resp.bytes().await.map_err(|e| UsageError::Network {
                path: shown.clone(),
                message: self.scrub(&error_chain(&e)),
            })?;
            if !status.is_success() {
                return Err(UsageError::Status {
                    provider: self.provider,
                    path: shown,
                    status: status.as_u16(),
                    body: self.scrub(&String::from_utf8_lossy(&body)),
                });
            }
            let parsed = match self.provider {
                Provider::Openai => openai::parse(report, &body),
                Provider::Anthropic => anthropic::parse(report, &body),
            };
            return parsed.map_err(|message| UsageError::Parse {
                provider: self.provider,
                path: shown,
                message: self.scrub(&message),
            });
        }
        Err(UsageError::RateLimited {
            path: shown,
            tries: TRIES,
        })
    }

    /// Every bucket result of `report` over `[start, end)`, following `next_page`.
    /// Returns the rows and the number of pages read.
    pub async fn fetch(
        &self,
        report: Report,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        hourly: bool,
    ) -> Result<(Vec<UsageRow>, u32), UsageError> {
        let (path, query) = match self.provider {
            Provider::Openai => openai::query(report, start, end, hourly),
            Provider::Anthropic => anthropic::query(report, start, end, hourly),
        };
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for pages in 1..=MAX_PAGES {
            let mut q = query.clone();
            if let Some(c) = &cursor {
                q.push(("page".into(), c.clone()));
            }
            let page = self.page(report, path, &q).await?;
            rows.extend(page.rows);
            match page.next {
                // A cursor seen before would loop forever.
                Some(next) if seen.insert(next.clone()) => cursor = Some(next),
                _ => return Ok((rows, pages)),
            }
        }
        Err(UsageError::TooManyPages {
            path: format!("/{path}"),
            pages: MAX_PAGES,
        })
    }
}

/// `Retry-After` as whole seconds, or `retry-after-ms` (the OpenAI SDKs read it first).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms).min(MAX_WAIT));
    }
    text("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_WAIT))
}

/// An error and its sources, as one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_scrubbed_and_hidden_characters_escaped() -> Result<(), UsageError> {
        let f = Fetcher::new(
            Provider::Openai,
            "http://127.0.0.1:1/v1",
            Secret::new("sk-admin-very-secret"),
        )?;
        let text = f.scrub("bad key sk-admin-very-secret\u{202E}here");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(
            text.contains("[REDACTED]") && text.contains("\\u{202e}"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn a_base_url_must_be_http() {
        let key = || Secret::new("k");
        assert!(matches!(
            Fetcher::new(Provider::Openai, "ftp://x/v1", key()),
            Err(UsageError::BadUrl { .. })
        ));
        assert!(matches!(
            Fetcher::new(Provider::Openai, "http://127.0.0.1/v1", Secret::new(" ")),
            Err(UsageError::NoKey { .. })
        ));
    }
}
