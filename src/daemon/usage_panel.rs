//! The dashboard's usage panel (issue 13): the provider's own books of the last 7 days
//! (from `probity usage import` or the daemon's `usage:` schedule) beside the probes'
//! spend of the same days. Empty (no panel) when nothing was ever imported.

use std::fmt::Write as _;

use chrono::Utc;

use crate::report::html::escape_html as esc;
use crate::store::{Store, StoreError};
use crate::usage::show::{self, grouped, usd};

const DAYS: u64 = 7;

/// The panel's HTML, or an empty string.
pub fn usage_panel(store: &Store) -> Result<String, StoreError> {
    let now = Utc::now();
    let since = crate::usage::window_since(now, std::time::Duration::from_secs(DAYS * 86_400));
    let books = show::load(store, None, since, now)?;
    if books.providers.is_empty() {
        return Ok(String::new());
    }
    let mut out = format!(
        "<section class=\"usage\"><h2>The provider's books · since {} UTC</h2>\
         <table><tr><th>provider</th><th>last import</th><th class=\"num\">requests</th>\
         <th class=\"num\">input tokens</th><th class=\"num\">output tokens</th>\
         <th class=\"num\">cost</th></tr>",
        since.format("%Y-%m-%d")
    );
    let dash = || "—".to_string();
    for p in &books.providers {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&p.provider),
            p.last_import.as_ref().map_or_else(dash, |i| i
                .imported_at
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()),
            p.totals.requests.map_or_else(dash, grouped),
            p.totals.input_tokens.map_or_else(dash, grouped),
            p.totals.output_tokens.map_or_else(dash, grouped),
            p.totals.cost_usd.map_or_else(dash, usd),
        );
    }
    let share = books
        .probe_share_of_cost
        .map_or_else(String::new, |s| format!(" — {:.2}% of the bill", s * 100.0));
    let _ = write!(
        out,
        "</table><p class=\"muted\">probes' own spend: {} requests, {} input / {} output \
         tokens, {}{share}</p></section>",
        grouped(books.probes.requests),
        grouped(books.probes.input_tokens),
        grouped(books.probes.output_tokens),
        usd(books.probes.cost_usd),
    );
    Ok(out)
}
