//! The run report's "Where the time went" (issue 13): each component of a target's
//! `summary.components` beside its baseline, and a stacked bar of the mean request split
//! into the server's components and the network overhead left after them.

use serde::Serialize;

use super::svg;
use super::view::{class_of, ms};
use crate::compare::Finding;
use crate::summary::RunSummary;
use crate::summary::components::{EVIDENCE_PREFIX, is_server, ordered};

/// One component's row.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentRow {
    pub name: String,
    /// `probity` for what probity measured, `server` for what the server reported.
    pub source: &'static str,
    pub samples: u64,
    pub reused: u64,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub mean: String,
    pub baseline_p95: String,
    pub change: String,
    /// `critical`, `warning` or empty, from the comparison's findings on the component.
    pub class: String,
}

/// A target's breakdown; `svg` is the bar's markup (escaped by `svg`), empty without server
/// components (the bar splits the time by what the server reported).
#[derive(Debug, Clone, Serialize)]
pub struct TimeView {
    pub rows: Vec<ComponentRow>,
    pub svg: String,
}

/// The breakdown of `s` beside `b`, or `None` when the run timed no component.
pub fn time_view(s: &RunSummary, b: Option<&RunSummary>, findings: &[Finding]) -> Option<TimeView> {
    let components = &s.figures.components;
    if components.is_empty() {
        return None;
    }
    let rows = ordered(components)
        .into_iter()
        .map(|(name, c)| {
            let base = b.and_then(|b| b.figures.components.get(name));
            let base_p95 = base.and_then(|c| c.ms.p95);
            let change = match (c.ms.p95, base_p95) {
                (Some(now), Some(then)) if then > 0.0 => crate::compare::format_ratio(now / then),
                _ => String::new(),
            };
            let key = format!("{EVIDENCE_PREFIX}{name}");
            ComponentRow {
                name: name.to_owned(),
                source: if is_server(name) { "server" } else { "probity" },
                samples: c.samples,
                reused: c.reused_connection,
                p50: ms(c.ms.p50),
                p95: ms(c.ms.p95),
                p99: ms(c.ms.p99),
                mean: ms(c.ms.mean),
                baseline_p95: if base.is_some() {
                    ms(base_p95)
                } else {
                    String::new()
                },
                change,
                class: class_of(findings, &s.target, &[key.as_str()]),
            }
        })
        .collect();
    let mut parts: Vec<(&str, f64)> = components
        .iter()
        .filter(|(name, _)| is_server(name))
        .filter_map(|(name, c)| Some((name.as_str(), c.ms.mean?)))
        .collect();
    let svg = if parts.is_empty() {
        String::new()
    } else {
        if let Some(overhead) = components.get("network_overhead").and_then(|c| c.ms.mean) {
            parts.push(("network overhead", overhead));
        }
        svg::stacked_bar(
            &format!("Where the time went · {} (mean per answer)", s.target),
            &parts,
        )
    };
    Some(TimeView { rows, svg })
}
