//! OpenAI's organisation usage and cost reports: the request parameters and the parser of
//! one page.
//!
//! What this relies on (OpenAI API reference, "Usage" and "Costs" of the Administration
//! API, and the cookbook `completions_usage_api`):
//! - `GET /v1/organization/usage/completions?start_time=<unix s>&end_time=<unix s>&
//!   bucket_width=1d|1h&group_by=model&limit=N&page=<cursor>` with `Authorization: Bearer
//!   <admin key>` (an `sk-admin-…` key); `limit` is at most 31 buckets for `1d`, 168 for
//!   `1h`.
//! - `GET /v1/organization/costs?start_time=..&end_time=..&bucket_width=1d&
//!   group_by=line_item&limit=N&page=..` (costs come in daily buckets only).
//! - Both answer `{"object":"page","data":[{"object":"bucket","start_time":S,
//!   "end_time":E,"results":[...]}],"has_more":bool,"next_page":"cursor"|null}`; the next
//!   page is asked for with `page=<next_page>`.
//! - A usage result: `{"object":"organization.usage.completions.result","input_tokens":N
//!   (cached ones included),"output_tokens":N,"input_cached_tokens":N,
//!   "num_model_requests":N,"model":"gpt-4o-mini"|null,...}`.
//! - A cost result: `{"object":"organization.costs.result","amount":{"value":0.06,
//!   "currency":"usd"},"line_item":"..."|null,"project_id":...}`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Page, Report};
use crate::store::UsageRow;

/// Most buckets one page may hold, per bucket width (the documented maxima).
pub fn max_limit(hourly: bool) -> u32 {
    if hourly { 168 } else { 31 }
}

/// The path and query of one page of `report` (without the cursor).
pub fn query(
    report: Report,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    hourly: bool,
) -> (&'static str, Vec<(String, String)>) {
    let mut q = vec![
        ("start_time".to_string(), start.timestamp().to_string()),
        ("end_time".to_string(), end.timestamp().to_string()),
    ];
    match report {
        Report::Usage => {
            let width = if hourly { "1h" } else { "1d" };
            q.push(("bucket_width".into(), width.into()));
            q.push(("group_by".into(), "model".into()));
            q.push(("limit".into(), max_limit(hourly).to_string()));
            ("organization/usage/completions", q)
        }
        Report::Cost => {
            q.push(("bucket_width".into(), "1d".into()));
            q.push(("group_by".into(), "line_item".into()));
            q.push(("limit".into(), max_limit(false).to_string()));
            ("organization/costs", q)
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
    start_time: i64,
    end_time: i64,
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(default)]
    input_tokens: Option<i64>,
    #[serde(default)]
    output_tokens: Option<i64>,
    #[serde(default)]
    input_cached_tokens: Option<i64>,
    #[serde(default)]
    num_model_requests: Option<i64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    amount: Option<RawAmount>,
    #[serde(default)]
    line_item: Option<String>,
}

#[derive(Deserialize)]
struct RawAmount {
    value: f64,
    #[serde(default)]
    currency: Option<String>,
}

fn time(secs: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("bucket time {secs} is out of range"))
}

/// Parses one page of `report`.
pub fn parse(report: Report, body: &[u8]) -> Result<Page, String> {
    let raw: RawPage = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for bucket in raw.data {
        let (start, end) = (time(bucket.start_time)?, time(bucket.end_time)?);
        for r in bucket.results {
            let row = match report {
                Report::Usage => UsageRow {
                    provider: "openai".into(),
                    report: "usage".into(),
                    start,
                    end,
                    model: r.model,
                    line_item: None,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cached_tokens: r.input_cached_tokens,
                    requests: r.num_model_requests,
                    cost_usd: None,
                },
                Report::Cost => {
                    let amount = r.amount.map(|a| {
                        let usd = a
                            .currency
                            .as_deref()
                            .is_none_or(|c| c.eq_ignore_ascii_case("usd"));
                        (a.value, usd)
                    });
                    if let Some((_, false)) = amount {
                        return Err("a cost is not in USD; probity stores USD only".into());
                    }
                    UsageRow {
                        provider: "openai".into(),
                        report: "cost".into(),
                        start,
                        end,
                        model: r.model,
                        line_item: r.line_item,
                        input_tokens: None,
                        output_tokens: None,
                        cached_tokens: None,
                        requests: None,
                        cost_usd: amount.map(|(v, _)| v),
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

    /// The example of the API reference (usage, ungrouped) and a grouped result.
    const USAGE_EXAMPLE: &str = r#"{
      "object": "page",
      "data": [{
        "object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
        "results": [{
          "object": "organization.usage.completions.result",
          "input_tokens": 1000, "output_tokens": 500, "input_cached_tokens": 800,
          "input_audio_tokens": 0, "output_audio_tokens": 0,
          "num_model_requests": 5, "project_id": null, "user_id": null,
          "api_key_id": null, "model": null, "batch": null
        }, {
          "object": "organization.usage.completions.result",
          "input_tokens": 20, "output_tokens": 10, "num_model_requests": 1,
          "model": "gpt-4o-mini-2024-07-18"
        }]
      }],
      "has_more": true,
      "next_page": "AAAAAGdGxdEiJdKOAAAAAGcqsYA="
    }"#;

    /// The example of the Costs reference.
    const COST_EXAMPLE: &str = r#"{
      "object": "page",
      "data": [{
        "object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
        "results": [{
          "object": "organization.costs.result",
          "amount": { "value": 0.06, "currency": "usd" },
          "line_item": null, "project_id": null
        }]
      }],
      "has_more": false,
      "next_page": null
    }"#;

    #[test]
    fn the_documented_usage_page_parses() -> Result<(), String> {
        let page = parse(Report::Usage, USAGE_EXAMPLE.as_bytes())?;
        assert_eq!(page.next.as_deref(), Some("AAAAAGdGxdEiJdKOAAAAAGcqsYA="));
        assert_eq!(page.rows.len(), 2);
        let r = &page.rows[0];
        assert_eq!(r.start.timestamp(), 1730419200);
        assert_eq!(r.end.timestamp(), 1730505600);
        assert_eq!(
            (r.input_tokens, r.output_tokens, r.cached_tokens, r.requests),
            (Some(1000), Some(500), Some(800), Some(5))
        );
        assert_eq!(r.model, None);
        assert_eq!(
            page.rows[1].model.as_deref(),
            Some("gpt-4o-mini-2024-07-18")
        );
        assert_eq!(page.rows[1].cached_tokens, None);
        Ok(())
    }

    #[test]
    fn the_documented_cost_page_parses() -> Result<(), String> {
        let page = parse(Report::Cost, COST_EXAMPLE.as_bytes())?;
        assert_eq!(page.next, None);
        assert_eq!(page.rows.len(), 1);
        assert_eq!(page.rows[0].cost_usd, Some(0.06));
        assert_eq!(page.rows[0].report, "cost");
        Ok(())
    }

    #[test]
    fn not_a_page_or_not_usd_is_an_error() {
        assert!(parse(Report::Usage, b"{\"error\":{}}").is_err());
        assert!(parse(Report::Usage, b"<html>").is_err());
        let eur = COST_EXAMPLE.replace("\"usd\"", "\"eur\"");
        assert!(parse(Report::Cost, eur.as_bytes()).is_err());
        // `has_more: false` ends the pages even with a cursor.
        let done = USAGE_EXAMPLE.replace("\"has_more\": true", "\"has_more\": false");
        assert_eq!(
            parse(Report::Usage, done.as_bytes()).map(|p| p.next),
            Ok(None)
        );
    }
}
