//! The store's side of the provider's books (migration 0010): the usage and cost buckets
//! `probity usage import` fetched, the window of each provider's last import, and the
//! probes' own spend over a window (from the observations) to set beside them.
//!
//! Plain SQL with `?N` parameters and TEXT timestamps only, so the same statements serve
//! the PostgreSQL store (issue 14) unchanged.

use super::error::SqlContext;
use super::sql::{DbError, Row, vals};
use super::time::{format_ts, parse_ts};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};

/// One stored bucket result of a provider's usage or cost report.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// `openai` or `anthropic`.
    pub provider: String,
    /// `usage` (tokens, requests per model) or `cost` (USD per line item).
    pub report: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub model: Option<String>,
    pub line_item: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub requests: Option<i64>,
    pub cost_usd: Option<f64>,
}

/// The window a provider's last import covered.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageImport {
    pub provider: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub imported_at: DateTime<Utc>,
    /// Bucket results stored by that import.
    pub buckets: i64,
}

/// What the probes themselves spent over a window, per model they reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpend {
    /// The model the endpoint reported (`None`: it reported none).
    pub model: Option<String>,
    /// Attempts that reached the endpoint and were billed (tokens or cost recorded).
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

const USAGE_COLUMNS: &str = "provider, report, start_at, end_at, model, line_item, \
     input_tokens, output_tokens, cached_tokens, requests, cost_usd";

impl Store {
    fn time_of(&self, what: &str, text: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_ts(text).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
            detail: format!("`{text}`: {e}"),
        })
    }

    fn usage_row(&self, row: &Row) -> Result<UsageRow, StoreError> {
        let col = |e: DbError| StoreError::Corrupt {
            path: self.path.clone(),
            what: "a usage bucket".into(),
            detail: e.to_string(),
        };
        let start: String = row.get(2).map_err(col)?;
        let end: String = row.get(3).map_err(col)?;
        Ok(UsageRow {
            provider: row.get(0).map_err(col)?,
            report: row.get(1).map_err(col)?,
            start: self.time_of("a usage bucket's start", &start)?,
            end: self.time_of("a usage bucket's end", &end)?,
            model: row.get(4).map_err(col)?,
            line_item: row.get(5).map_err(col)?,
            input_tokens: row.get(6).map_err(col)?,
            output_tokens: row.get(7).map_err(col)?,
            cached_tokens: row.get(8).map_err(col)?,
            requests: row.get(9).map_err(col)?,
            cost_usd: row.get(10).map_err(col)?,
        })
    }

    /// Replaces `provider`'s buckets that start in `[window_start, window_end)` with
    /// `rows`, and records the import, in one transaction: a re-import of a window never
    /// counts a bucket twice, and a crash leaves the old rows or the new ones.
    pub fn replace_usage(
        &self,
        provider: &str,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        rows: &[UsageRow],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let action = format!("storing the {provider} usage buckets");
        let tx = self.immediate(&action)?;
        let (from, to) = (format_ts(&window_start), format_ts(&window_end));
        tx.execute(
            "DELETE FROM usage_buckets WHERE provider = ?1 AND start_at >= ?2 AND start_at < ?3",
            vals![provider, &from, &to],
        )
        .at(&self.path, &action)?;
        let imported_at = format_ts(&now);
        for r in rows {
            tx.execute(
                "INSERT INTO usage_buckets (provider, report, start_at, end_at, model, \
                 line_item, input_tokens, output_tokens, cached_tokens, requests, \
                 cost_usd, imported_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                vals![
                    provider,
                    &r.report,
                    format_ts(&r.start),
                    format_ts(&r.end),
                    &r.model,
                    &r.line_item,
                    r.input_tokens,
                    r.output_tokens,
                    r.cached_tokens,
                    r.requests,
                    r.cost_usd,
                    &imported_at,
                ],
            )
            .at(&self.path, &action)?;
        }
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO usage_imports (provider, window_start, window_end, imported_at, buckets) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider) DO UPDATE SET \
             window_start = excluded.window_start, window_end = excluded.window_end, \
             imported_at = excluded.imported_at, buckets = excluded.buckets",
            vals![provider, from, to, imported_at, count],
        )
        .at(&self.path, &action)?;
        tx.commit().at(&self.path, &action)?;
        Ok(rows.len())
    }

    /// Stored buckets that start in `[since, until)`, of one provider or all, oldest first.
    pub fn usage_rows(
        &self,
        provider: Option<&str>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let action = "reading the usage buckets";
        let rows = self
            .conn
            .query(
                &format!(
                    "SELECT {USAGE_COLUMNS} FROM usage_buckets \
                     WHERE (CAST(?1 AS TEXT) IS NULL OR provider = ?1) \
                     AND start_at >= ?2 AND start_at < ?3 \
                     ORDER BY start_at, provider, report, model, line_item"
                ),
                vals![provider, format_ts(&since), format_ts(&until)],
            )
            .at(&self.path, action)?;
        rows.iter().map(|r| self.usage_row(r)).collect()
    }

    /// Every provider's last import, by provider name.
    pub fn usage_imports(&self) -> Result<Vec<UsageImport>, StoreError> {
        let action = "reading the usage imports";
        let rows = self
            .conn
            .query(
                "SELECT provider, window_start, window_end, imported_at, buckets \
                 FROM usage_imports ORDER BY provider",
                &[],
            )
            .at(&self.path, action)?;
        rows.iter()
            .map(|r| {
                let (start, end, at): (String, String, String) = (
                    r.get(1).at(&self.path, action)?,
                    r.get(2).at(&self.path, action)?,
                    r.get(3).at(&self.path, action)?,
                );
                Ok(UsageImport {
                    provider: r.get(0).at(&self.path, action)?,
                    window_start: self.time_of("a usage import's window start", &start)?,
                    window_end: self.time_of("a usage import's window end", &end)?,
                    imported_at: self.time_of("a usage import's time", &at)?,
                    buckets: r.get(4).at(&self.path, action)?,
                })
            })
            .collect()
    }

    /// The last import of `provider`, if any.
    pub fn last_usage_import(&self, provider: &str) -> Result<Option<UsageImport>, StoreError> {
        let exists: Option<i64> = self
            .conn
            .query_value(
                "SELECT 1 FROM usage_imports WHERE provider = ?1",
                vals![provider],
            )
            .at(&self.path, "reading the last usage import")?;
        if exists.is_none() {
            return Ok(None);
        }
        Ok(self
            .usage_imports()?
            .into_iter()
            .find(|i| i.provider == provider))
    }

    /// What the probes spent on requests started in `[since, until)`, per reported model:
    /// every attempt with tokens or a cost recorded counts (a retried attempt was billed
    /// too), so this is the probes' share of the provider's bill.
    pub fn probe_spend(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<ProbeSpend>, StoreError> {
        let action = "summing the probes' own spend";
        // The casts: PostgreSQL's sum of a BIGINT is NUMERIC; both engines read BIGINT.
        let rows = self
            .conn
            .query(
                "SELECT model, count(*), CAST(coalesce(sum(input_tokens), 0) AS BIGINT), \
                 CAST(coalesce(sum(output_tokens), 0) AS BIGINT), \
                 CAST(coalesce(sum(cost_usd), 0.0) AS DOUBLE PRECISION) \
                 FROM observations WHERE started_at >= ?1 AND started_at < ?2 \
                 AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR cost_usd > 0) \
                 GROUP BY model ORDER BY model",
                vals![format_ts(&since), format_ts(&until)],
            )
            .at(&self.path, action)?;
        rows.iter()
            .map(|r| {
                Ok(ProbeSpend {
                    model: r.get(0)?,
                    requests: r.get(1)?,
                    input_tokens: r.get(2)?,
                    output_tokens: r.get(3)?,
                    cost_usd: r.get(4)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .at(&self.path, action)
    }
}

/// One provider's and model's sums over every stored bucket (for `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageTotal {
    pub provider: String,
    /// `None`: results that named no model (and every cost row without one).
    pub model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_usd: f64,
}

impl Store {
    /// Sums of every stored bucket per provider and model.
    pub fn usage_totals(&self) -> Result<Vec<UsageTotal>, StoreError> {
        let action = "summing the usage buckets";
        let rows = self
            .conn
            .query(
                "SELECT provider, model, CAST(coalesce(sum(input_tokens), 0) AS BIGINT), \
                 CAST(coalesce(sum(output_tokens), 0) AS BIGINT), \
                 CAST(coalesce(sum(cached_tokens), 0) AS BIGINT), \
                 CAST(coalesce(sum(cost_usd), 0.0) AS DOUBLE PRECISION) FROM usage_buckets \
                 GROUP BY provider, model ORDER BY provider, model",
                &[],
            )
            .at(&self.path, action)?;
        rows.iter()
            .map(|r| {
                Ok(UsageTotal {
                    provider: r.get(0)?,
                    model: r.get(1)?,
                    input_tokens: r.get(2)?,
                    output_tokens: r.get(3)?,
                    cached_tokens: r.get(4)?,
                    cost_usd: r.get(5)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .at(&self.path, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0)
            .single()
            .expect("a valid date")
    }

    fn row(d: u32, model: &str, input: i64) -> UsageRow {
        UsageRow {
            provider: "openai".into(),
            report: "usage".into(),
            start: day(d),
            end: day(d + 1),
            model: Some(model.into()),
            line_item: None,
            input_tokens: Some(input),
            output_tokens: Some(input / 2),
            cached_tokens: Some(0),
            requests: Some(3),
            cost_usd: None,
        }
    }

    #[test]
    fn a_reimport_replaces_its_window_only() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("u.db"))?;
        let now = day(20);
        store.replace_usage(
            "openai",
            day(1),
            day(4),
            &[row(1, "a", 10), row(2, "a", 20), row(3, "a", 30)],
            now,
        )?;
        // Days 2..4 again, revised: day 1 stays, 2 and 3 are replaced, nothing doubles.
        store.replace_usage(
            "openai",
            day(2),
            day(4),
            &[row(2, "a", 21), row(3, "a", 31)],
            now,
        )?;
        let rows = store.usage_rows(Some("openai"), day(1), day(10))?;
        let inputs: Vec<i64> = rows.iter().filter_map(|r| r.input_tokens).collect();
        assert_eq!(inputs, vec![10, 21, 31]);
        assert!(
            store
                .usage_rows(Some("anthropic"), day(1), day(10))?
                .is_empty()
        );
        let last = store.last_usage_import("openai")?.ok_or("an import")?;
        assert_eq!(
            (last.window_start, last.window_end, last.buckets),
            (day(2), day(4), 2)
        );
        assert!(store.last_usage_import("anthropic")?.is_none());
        Ok(())
    }
}
