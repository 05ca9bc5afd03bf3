//! One import: the window (whole UTC days, so a re-import of a window replaces the same
//! buckets the provider reports), fetching both reports, storing them in one transaction.

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};

use super::{Fetcher, Report, UsageError};
use crate::store::{Store, UsageRow};

/// What one import fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    pub provider: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub usage_rows: usize,
    pub cost_rows: usize,
    /// Pages read over both reports.
    pub pages: u32,
    pub rows: Vec<UsageRow>,
}

/// The start of the window of `--since D` at `now`: `now - D`, rounded down to midnight
/// UTC. Daily buckets start at midnight UTC at both providers (costs come daily only), so
/// the stored buckets of the window are exactly the ones re-fetched.
pub fn window_since(now: DateTime<Utc>, since: std::time::Duration) -> DateTime<Utc> {
    let back = TimeDelta::from_std(since).unwrap_or(TimeDelta::days(400));
    midnight(now - back)
}

/// `t` rounded down to midnight UTC.
pub fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::days(1)).unwrap_or(t)
}

/// Fetches both reports of `[start, end)`.
pub async fn fetch_window(
    fetcher: &Fetcher,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    hourly: bool,
) -> Result<ImportSummary, UsageError> {
    let (mut usage, usage_pages) = fetcher.fetch(Report::Usage, start, end, hourly).await?;
    let (cost, cost_pages) = fetcher.fetch(Report::Cost, start, end, false).await?;
    let (usage_rows, cost_rows) = (usage.len(), cost.len());
    usage.extend(cost);
    // A provider may hand back a bucket outside the window asked for (snapped to a bucket
    // boundary): keep only those the window's replacement covers, so nothing doubles.
    usage.retain(|r| r.start >= start && r.start < end);
    Ok(ImportSummary {
        provider: fetcher.provider().name().into(),
        window_start: start,
        window_end: end,
        usage_rows,
        cost_rows,
        pages: usage_pages + cost_pages,
        rows: usage,
    })
}

/// Stores what `fetch_window` got, replacing the provider's buckets of the window.
pub fn import(
    store: &Store,
    summary: &ImportSummary,
    now: DateTime<Utc>,
) -> Result<usize, UsageError> {
    Ok(store.replace_usage(
        &summary.provider,
        summary.window_start,
        summary.window_end,
        &summary.rows,
        now,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_starts_at_midnight_utc() -> Result<(), chrono::ParseError> {
        let now = DateTime::parse_from_rfc3339("2026-12-02T15:30:00Z")?.with_timezone(&Utc);
        let start = window_since(now, std::time::Duration::from_secs(7 * 86_400));
        assert_eq!(start.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        let start = window_since(now, std::time::Duration::from_secs(3600));
        assert_eq!(start.to_rfc3339(), "2026-12-02T00:00:00+00:00");
        Ok(())
    }
}
