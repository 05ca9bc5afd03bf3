//! The history report's "provider's books" block (issue 13): per UTC day of the window the
//! history covers, what the provider's own reports say (tokens, cost; from `probity usage
//! import`) next to what every probe spent that day (from the stored observations), so a
//! reader sees the probes' share of the bill. Absent when nothing was imported.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::HtmlError;
use crate::compare::format_usd;
use crate::store::Store;
use crate::usage::import::midnight;
use crate::usage::show::{self, grouped};

/// The longest window the block shows, in days.
const MAX_DAYS: i64 = 31;

#[derive(Debug, Clone, Serialize)]
pub struct BooksView {
    pub days: Vec<BooksDay>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BooksDay {
    pub day: String,
    pub provider: String,
    pub input_tokens: String,
    pub output_tokens: String,
    pub cost: String,
    /// Every probe's spend that day (all providers' endpoints).
    pub probes_cost: String,
    /// The probes' cost over the provider's, when the provider reported a cost.
    pub share: String,
}

/// The block for the days from `first` (the oldest run shown) to `now`, newest first;
/// `None` when no provider bucket was imported for them.
pub fn books_view(
    store: &Store,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<BooksView>, HtmlError> {
    let start = midnight(first).max(midnight(now) - Duration::days(MAX_DAYS - 1));
    let rows = store.usage_rows(None, start, now)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let books = show::books(start, now, &rows, &[], &[]);
    let mut days = Vec::new();
    for p in &books.providers {
        for d in &p.days {
            let Some(day_start) = d.day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()) else {
                continue;
            };
            let probes: f64 = store
                .probe_spend(day_start, day_start + Duration::days(1))?
                .iter()
                .map(|s| s.cost_usd)
                .sum();
            let share = d
                .totals
                .cost_usd
                .filter(|c| *c > 0.0)
                .map_or("—".to_string(), |c| format!("{:.2}%", probes / c * 100.0));
            days.push(BooksDay {
                day: d.day.format("%Y-%m-%d").to_string(),
                provider: p.provider.clone(),
                input_tokens: d.totals.input_tokens.map_or("—".into(), grouped),
                output_tokens: d.totals.output_tokens.map_or("—".into(), grouped),
                cost: d.totals.cost_usd.map_or("—".into(), format_usd),
                probes_cost: format_usd(probes),
                share,
            });
        }
    }
    days.sort_by(|a, b| b.day.cmp(&a.day).then(a.provider.cmp(&b.provider)));
    Ok(Some(BooksView { days }))
}
