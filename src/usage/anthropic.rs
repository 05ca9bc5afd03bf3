//! Anthropic's Admin API usage and cost reports: the request parameters and the parser of
//! one page.
//!
//! What this relies on (Anthropic API reference, Admin API "Usage and Cost": Get Messages
//! Usage Report, Get Cost Report):
//! - `GET /v1/organizations/usage_report/messages?starting_at=<RFC 3339>&ending_at=..&
//!   bucket_width=1d|1h&group_by[]=model&limit=N&page=<cursor>` with headers `x-api-key:
//!   <admin key>` (an `sk-ant-admin…` key) and `anthropic-version: 2023-06-01`; `limit`
//!   at most 31 buckets for `1d`, 168 for `1h`.
//! - `GET /v1/organizations/cost_report?starting_at=..&ending_at=..&group_by[]=description
//!   &limit=N&page=..` (daily buckets only; grouping by description adds the model).
//! - Both answer `{"data":[{"starting_at":"..Z","ending_at":"..Z","results":[...]}],
//!   "has_more":bool,"next_page":"page_…"|null}`.
//! - A usage result: `{"uncached_input_tokens":N,"cache_creation":{
//!   "ephemeral_1h_input_tokens":N,"ephemeral_5m_input_tokens":N},
//!   "cache_read_input_tokens":N,"output_tokens":N,"model":"claude-…"|null,...}` — no
//!   request count.
//! - A cost result: `{"currency":"USD","amount":"123.78912","description":"…",
//!   "model":"claude-…"|null,...}`, the amount in the lowest currency unit (cents) as a
//!   decimal string: "123.45" is $1.2345.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::{Page, Report};
use crate::store::UsageRow;

/// The API version every request names.
pub const VERSION: &str = "2023-06-01";

/// Most buckets one page may hold, per bucket width (the documented maxima).
pub fn max_limit(hourly: bool) -> u32 {
    if hourly { 168 } else { 31 }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The path and query of one page of `report` (without the cursor).
pub fn query(
    report: Report,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    hourly: bool,
) -> (&'static str, Vec<(String, String)>) {
    let mut q = vec![
        ("starting_at".to_string(), rfc3339(start)),
        ("ending_at".to_string(), rfc3339(end)),
    ];
    match report {
        Report::Usage => {
            let width = if hourly { "1h" } else { "1d" };
            q.push(("bucket_width".into(), width.into()));
            q.push(("group_by[]".into(), "model".into()));
            q.push(("limit".into(), max_limit(hourly).to_string()));
            ("organizations/usage_report/messages", q)
        }
        Report::Cost => {
            q.push(("bucket_width".into(), "1d".into()));
            q.push(("group_by[]".into(), "description".into()));
            q.push(("limit".into(), max_limit(false).to_string()));
            ("organizations/cost_report", q)
        }
    }
}

#[derive(Deserialize)]
struct RawPage {
    data: Vec<RawBucket>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct RawBucket {
    starting_at: String,
    ending_at: String,
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Deserialize, Default)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<i64>,
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<i64>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(default)]
    uncached_input_tokens: Option<i64>,
    #[serde(default)]
    cache_read_input_tokens: Option<i64>,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    #[serde(default)]
    output_tokens: Option<i64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("bucket time `{}`: {e}", super::inert_text(text)))
}

/// Cents as a decimal string to US dollars.
fn cents_to_usd(amount: &str) -> Result<f64, String> {
    let cents: f64 = amount.trim().parse().map_err(|_| {
        format!(
            "the amount `{}` is not a decimal number",
            super::inert_text(amount)
        )
    })?;
    if !cents.is_finite() {
        return Err("the amount is not finite".into());
    }
    Ok(cents / 100.0)
}

/// Parses one page of `report`.
pub fn parse(report: Report, body: &[u8]) -> Result<Page, String> {
    let raw: RawPage = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for bucket in raw.data {
        let (start, end) = (time(&bucket.starting_at)?, time(&bucket.ending_at)?);
        for r in bucket.results {
            let row = match report {
                Report::Usage => {
                    let creation = r.cache_creation.unwrap_or_default();
                    let parts = [
                        r.uncached_input_tokens,
                        r.cache_read_input_tokens,
                        creation.ephemeral_1h_input_tokens,
                        creation.ephemeral_5m_input_tokens,
                    ];
                    // Input as OpenAI counts it: every input token, cached or not.
                    let input = parts
                        .iter()
                        .any(Option::is_some)
                        .then(|| parts.iter().flatten().sum());
                    UsageRow {
                        provider: "anthropic".into(),
                        report: "usage".into(),
                        start,
                        end,
                        model: r.model,
                        line_item: None,
                        input_tokens: input,
                        output_tokens: r.output_tokens,
                        cached_tokens: r.cache_read_input_tokens,
                        requests: None,
                        cost_usd: None,
                    }
                }
                Report::Cost => {
                    if r.currency
                        .as_deref()
                        .is_some_and(|c| !c.eq_ignore_ascii_case("usd"))
                    {
                        return Err("a cost is not in USD; probity stores USD only".into());
                    }
                    UsageRow {
                        provider: "anthropic".into(),
                        report: "cost".into(),
                        start,
                        end,
                        model: r.model,
                        line_item: r.description,
                        input_tokens: None,
                        output_tokens: None,
                        cached_tokens: None,
                        requests: None,
                        cost_usd: r.amount.as_deref().map(cents_to_usd).transpose()?,
                    }
                }
            };
            rows.push(row);
        }
    }
    Ok(Page {
        rows,
        next: raw.next_page.filter(|_| raw.has_more),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of "Get Messages Usage Report".
    const USAGE_EXAMPLE: &str = r#"{
      "data": [{
        "starting_at": "2025-08-01T00:00:00Z",
        "ending_at": "2025-08-02T00:00:00Z",
        "results": [{
          "uncached_input_tokens": 1500,
          "cache_creation": { "ephemeral_1h_input_tokens": 1000, "ephemeral_5m_input_tokens": 500 },
          "cache_read_input_tokens": 200,
          "output_tokens": 500,
          "server_tool_use": { "web_search_requests": 10 },
          "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
          "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
          "model": "claude-sonnet-4-20250514",
          "service_tier": "standard",
          "context_window": "0-200k"
        }]
      }],
      "has_more": true,
      "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
    }"#;

    /// The example of "Get Cost Report".
    const COST_EXAMPLE: &str = r#"{
      "data": [{
        "starting_at": "2025-08-01T00:00:00Z",
        "ending_at": "2025-08-02T00:00:00Z",
        "results": [{
          "currency": "USD",
          "amount": "123.78912",
          "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
          "description": "Claude Sonnet 4 Usage - Input Tokens",
          "cost_type": "tokens",
          "context_window": "0-200k",
          "model": "claude-sonnet-4-20250514",
          "service_tier": "standard",
          "token_type": "uncached_input_tokens"
        }]
      }],
      "has_more": false,
      "next_page": null
    }"#;

    #[test]
    fn the_documented_usage_page_parses() -> Result<(), String> {
        let page = parse(Report::Usage, USAGE_EXAMPLE.as_bytes())?;
        assert_eq!(
            page.next.as_deref(),
            Some("page_MjAyNS0wNS0xNFQwMDowMDowMFo=")
        );
        let r = &page.rows[0];
        assert_eq!(r.start, time("2025-08-01T00:00:00Z")?);
        assert_eq!(r.end, time("2025-08-02T00:00:00Z")?);
        // 1500 uncached + 200 read + 1000 + 500 written.
        assert_eq!(r.input_tokens, Some(3200));
        assert_eq!(
            (r.output_tokens, r.cached_tokens, r.requests),
            (Some(500), Some(200), None)
        );
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        Ok(())
    }

    #[test]
    fn the_documented_cost_page_parses_cents_to_dollars() -> Result<(), String> {
        let page = parse(Report::Cost, COST_EXAMPLE.as_bytes())?;
        assert_eq!(page.next, None);
        let r = &page.rows[0];
        let usd = r.cost_usd.ok_or("a cost")?;
        assert!((usd - 1.2378912).abs() < 1e-12, "{usd}");
        assert_eq!(
            r.line_item.as_deref(),
            Some("Claude Sonnet 4 Usage - Input Tokens")
        );
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        Ok(())
    }

    #[test]
    fn a_bad_amount_or_time_is_an_error() {
        let bad = COST_EXAMPLE.replace("\"123.78912\"", "\"lots\"");
        assert!(parse(Report::Cost, bad.as_bytes()).is_err());
        let bad = USAGE_EXAMPLE.replace("2025-08-01T00:00:00Z", "yesterday");
        assert!(parse(Report::Usage, bad.as_bytes()).is_err());
    }
}
