//! The provider's books over a window, summed: per provider and model (tokens, requests,
//! cost where the provider reports one per model), per cost line item, per day, and the
//! probes' own spend of the same window beside them. `usage show` prints it (text or
//! JSON); the history report, the dashboard and `/metrics` read the same totals.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::store::{ProbeSpend, Store, StoreError, UsageImport, UsageRow};

/// Sums of a group of buckets. Token and request sums are `None` when no bucket of the
/// group reported them (Anthropic reports no request count; OpenAI no cost per model).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub requests: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
}

fn add_i(a: &mut Option<i64>, b: Option<i64>) {
    if let Some(b) = b {
        *a = Some(a.unwrap_or(0).saturating_add(b));
    }
}

impl Totals {
    fn add(&mut self, r: &UsageRow) {
        add_i(&mut self.requests, r.requests);
        add_i(&mut self.input_tokens, r.input_tokens);
        add_i(&mut self.output_tokens, r.output_tokens);
        add_i(&mut self.cached_tokens, r.cached_tokens);
        if let Some(c) = r.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + c);
        }
    }
}

/// One model's sums at one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelTotals {
    /// `None`: the provider's results named no model.
    pub model: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One cost line item's sum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    pub line_item: Option<String>,
    pub model: Option<String>,
    pub cost_usd: f64,
}

/// One UTC day of one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One provider's books over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderBooks {
    pub provider: String,
    pub last_import: Option<ImportInfo>,
    pub models: Vec<ModelTotals>,
    pub line_items: Vec<LineItem>,
    pub days: Vec<Day>,
    pub totals: Totals,
}

/// When a provider was last imported, and the window it covered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportInfo {
    pub imported_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub buckets: i64,
}

/// The probes' own spend over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProbeBooks {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub models: Vec<ProbeModel>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeModel {
    pub model: Option<String>,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

/// Everything `usage show` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Books {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub providers: Vec<ProviderBooks>,
    pub probes: ProbeBooks,
    /// The probes' cost over every provider's reported cost (`None`: no cost reported).
    pub probe_share_of_cost: Option<f64>,
    /// Every stored bucket of the window.
    pub buckets: Vec<Bucket>,
}

/// A stored bucket as JSON shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub provider: String,
    pub report: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub model: Option<String>,
    pub line_item: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

/// Sums `rows` (any providers) into the books, with the imports and the probes' spend.
pub fn books(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    rows: &[UsageRow],
    imports: &[UsageImport],
    spend: &[ProbeSpend],
) -> Books {
    let mut providers: BTreeMap<&str, ProviderBooks> = BTreeMap::new();
    let mut models: BTreeMap<(&str, Option<&str>), Totals> = BTreeMap::new();
    let mut items: BTreeMap<(&str, Option<&str>, Option<&str>), f64> = BTreeMap::new();
    let mut days: BTreeMap<(&str, NaiveDate), Totals> = BTreeMap::new();
    for r in rows {
        let p = providers
            .entry(&r.provider)
            .or_insert_with(|| ProviderBooks {
                provider: r.provider.clone(),
                last_import: None,
                models: Vec::new(),
                line_items: Vec::new(),
                days: Vec::new(),
                totals: Totals::default(),
            });
        p.totals.add(r);
        days.entry((&r.provider, r.start.date_naive()))
            .or_default()
            .add(r);
        if r.report == "usage" || r.model.is_some() {
            models
                .entry((&r.provider, r.model.as_deref()))
                .or_default()
                .add(r);
        }
        if r.report == "cost" {
            *items
                .entry((&r.provider, r.line_item.as_deref(), r.model.as_deref()))
                .or_default() += r.cost_usd.unwrap_or(0.0);
        }
    }
    for ((provider, model), totals) in models {
        if let Some(p) = providers.get_mut(provider) {
            p.models.push(ModelTotals {
                model: model.map(str::to_string),
                totals,
            });
        }
    }
    for ((provider, line_item, model), cost_usd) in items {
        if let Some(p) = providers.get_mut(provider) {
            p.line_items.push(LineItem {
                line_item: line_item.map(str::to_string),
                model: model.map(str::to_string),
                cost_usd,
            });
        }
    }
    for ((provider, day), totals) in days {
        if let Some(p) = providers.get_mut(provider) {
            p.days.push(Day { day, totals });
        }
    }
    for i in imports {
        let info = ImportInfo {
            imported_at: i.imported_at,
            window_start: i.window_start,
            window_end: i.window_end,
            buckets: i.buckets,
        };
        providers
            .entry(&i.provider)
            .or_insert_with(|| ProviderBooks {
                provider: i.provider.clone(),
                last_import: None,
                models: Vec::new(),
                line_items: Vec::new(),
                days: Vec::new(),
                totals: Totals::default(),
            })
            .last_import = Some(info);
    }
    let mut probes = ProbeBooks::default();
    for s in spend {
        probes.requests += s.requests;
        probes.input_tokens += s.input_tokens;
        probes.output_tokens += s.output_tokens;
        probes.cost_usd += s.cost_usd;
        probes.models.push(ProbeModel {
            model: s.model.clone(),
            requests: s.requests,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cost_usd: s.cost_usd,
        });
    }
    let billed: Option<f64> = providers
        .values()
        .filter_map(|p| p.totals.cost_usd)
        .fold(None, |a, c| Some(a.unwrap_or(0.0) + c));
    let probe_share_of_cost = billed.filter(|b| *b > 0.0).map(|b| probes.cost_usd / b);
    Books {
        since,
        until,
        providers: providers.into_values().collect(),
        probes,
        probe_share_of_cost,
        buckets: rows
            .iter()
            .map(|r| {
                let mut totals = Totals::default();
                totals.add(r);
                Bucket {
                    provider: r.provider.clone(),
                    report: r.report.clone(),
                    start: r.start,
                    end: r.end,
                    model: r.model.clone(),
                    line_item: r.line_item.clone(),
                    totals,
                }
            })
            .collect(),
    }
}

/// The books of `[since, until)` from the store (one provider or all).
pub fn load(
    store: &Store,
    provider: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Books, StoreError> {
    let rows = store.usage_rows(provider, since, until)?;
    let imports: Vec<UsageImport> = store
        .usage_imports()?
        .into_iter()
        .filter(|i| provider.is_none_or(|p| p == i.provider))
        .collect();
    let spend = store.probe_spend(since, until)?;
    Ok(books(since, until, &rows, &imports, &spend))
}

/// `n` with thousands separated by commas.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Dollars with cents, or four significant decimals below a dollar.
pub fn usd(v: f64) -> String {
    if v.abs() >= 1.0 {
        format!("${v:.2}")
    } else {
        format!("${v:.4}")
    }
}

fn opt(n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_string(), grouped)
}

/// The books as text for a terminal.
pub fn text(b: &Books) -> String {
    use crate::report::terminal::sanitize;
    let mut out = format!(
        "Provider usage {} → {} (UTC)\n",
        b.since.format("%Y-%m-%d %H:%M"),
        b.until.format("%Y-%m-%d %H:%M")
    );
    if b.providers.is_empty() {
        out.push_str(
            "  nothing imported for this window; run `probity usage import --provider openai|anthropic`\n",
        );
    }
    for p in &b.providers {
        out.push('\n');
        match &p.last_import {
            Some(i) => out.push_str(&format!(
                "{} (last import {} UTC, window {} → {})\n",
                p.provider,
                i.imported_at.format("%Y-%m-%d %H:%M"),
                i.window_start.format("%Y-%m-%d"),
                i.window_end.format("%Y-%m-%d %H:%M")
            )),
            None => out.push_str(&format!("{}\n", p.provider)),
        }
        out.push_str(&format!(
            "  {:<34} {:>10} {:>14} {:>12} {:>14} {:>10}\n",
            "model", "requests", "input tokens", "cached", "output tokens", "cost"
        ));
        for m in &p.models {
            let name = m
                .model
                .as_deref()
                .map_or("(no model given)".to_string(), |s| sanitize(s, 34));
            out.push_str(&format!(
                "  {:<34} {:>10} {:>14} {:>12} {:>14} {:>10}\n",
                name,
                opt(m.totals.requests),
                opt(m.totals.input_tokens),
                opt(m.totals.cached_tokens),
                opt(m.totals.output_tokens),
                m.totals.cost_usd.map_or("—".into(), usd),
            ));
        }
        out.push_str(&format!(
            "  {:<34} {:>10} {:>14} {:>12} {:>14} {:>10}\n",
            "total",
            opt(p.totals.requests),
            opt(p.totals.input_tokens),
            opt(p.totals.cached_tokens),
            opt(p.totals.output_tokens),
            p.totals.cost_usd.map_or("—".into(), usd),
        ));
    }
    let share = b.probe_share_of_cost.map_or(String::new(), |s| {
        format!(" ({:.2}% of the bill)", s * 100.0)
    });
    out.push_str(&format!(
        "\nprobes' own spend: {} requests, {} input / {} output tokens, {}{share}\n",
        grouped(b.probes.requests),
        grouped(b.probes.input_tokens),
        grouped(b.probes.output_tokens),
        usd(b.probes.cost_usd),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(12), "12");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.01234), "$0.0123");
    }
}
