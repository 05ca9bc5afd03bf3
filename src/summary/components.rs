//! `summary.components` (issue 13, latency by component): where the answered samples' time
//! went, per component — probity's own network phases (`dns`, `connect`, `ttfb`), the
//! streamed token gaps (`token_gap_p50`, `token_gap_p95`: each sample's own p50 / p95 of
//! its gaps), `network_overhead` (total minus the server's components) and every component
//! the server reported (`retrieval`, `generation`, ...) — each in the `{p50, p95, p99,
//! mean, max}` shape of `latency_ms`, with how many samples it covers and how many of
//! those rode a pooled connection.
//!
//! A phase a sample did not have is not counted (a reused connection has no `dns`), so no
//! figure is averaged with zeros. A server component named like one of probity's own is
//! keyed `server_<name>`; at most [`MAX_COMPONENTS`] names are kept, first come first kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::latency::{LatencyHistogram, Percentiles};
use crate::runner::Timings;

/// probity's own components, in the order reports show them.
pub const OWN: [&str; 6] = [
    "dns",
    "connect",
    "ttfb",
    "token_gap_p50",
    "token_gap_p95",
    "network_overhead",
];

/// The most component names one summary keeps (server names are the server's choice).
pub const MAX_COMPONENTS: usize = 32;

/// One component over a run's (or a case's) answered samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentSummary {
    #[serde(flatten)]
    pub ms: Percentiles,
    /// Samples that had this component.
    pub samples: u64,
    /// Of those, the samples that rode a pooled connection.
    pub reused_connection: u64,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    histogram: LatencyHistogram,
    reused: u64,
}

/// The components of the samples folded so far.
#[derive(Debug, Clone, Default)]
pub struct ComponentTotals {
    by_name: BTreeMap<String, Acc>,
}

impl ComponentTotals {
    /// Counts one answered sample's timings.
    pub fn add(&mut self, t: &Timings) {
        let own = [
            t.dns_ms,
            t.connect_ms,
            t.ttfb_ms,
            t.gap_p50_ms,
            t.gap_p95_ms,
            t.network_overhead_ms,
        ];
        for (name, ms) in OWN.iter().zip(own) {
            if let Some(ms) = ms {
                self.record(name, ms, t.reused_connection);
            }
        }
        for (name, ms) in &t.server {
            let key = if OWN.contains(&name.as_str()) {
                format!("server_{name}")
            } else {
                name.clone()
            };
            self.record(&key, *ms, t.reused_connection);
        }
    }

    fn record(&mut self, name: &str, ms: f64, reused: bool) {
        if !self.by_name.contains_key(name) && self.by_name.len() >= MAX_COMPONENTS {
            return;
        }
        let acc = self.by_name.entry(name.to_owned()).or_default();
        acc.histogram.record(ms);
        acc.reused += u64::from(reused);
    }

    /// The summary of each component seen.
    pub fn summary(&self) -> BTreeMap<String, ComponentSummary> {
        self.by_name
            .iter()
            .map(|(name, acc)| {
                let summary = ComponentSummary {
                    ms: acc.histogram.percentiles(),
                    samples: acc.histogram.count(),
                    reused_connection: acc.reused,
                };
                (name.clone(), summary)
            })
            .collect()
    }
}

/// The prefix of a component's key among the evidence's continuous metrics and of its
/// comparison's tests (`component/retrieval`, tests `component/retrieval_median` and
/// `component/retrieval_p95`).
pub const EVIDENCE_PREFIX: &str = "component/";

/// The components of one sample a comparison looks at, keyed as the summary keys them:
/// every one but the connection phases (`dns`, `connect`), which depend on how many
/// connections the pool happened to open rather than on the endpoint, and
/// `network_overhead`: the total less the server's components is, on a near or loopback
/// endpoint, mostly this process's own scheduling, whose p95 moves with the load of the
/// machine probity runs on (the issue-4 null calibration raised 7 false alarms in 200 on
/// it alone, on an otherwise quiet machine). It stays in the summary, the report,
/// `/metrics` and the alert rules (`components.network_overhead.p95`), where a team that
/// wants it can set a threshold.
pub fn compared(t: &Timings) -> Vec<(String, f64)> {
    let own = [
        ("ttfb", t.ttfb_ms),
        ("token_gap_p50", t.gap_p50_ms),
        ("token_gap_p95", t.gap_p95_ms),
    ];
    let own = own
        .into_iter()
        .filter_map(|(name, ms)| Some((name.to_owned(), ms?)));
    let server = t.server.iter().map(|(name, ms)| {
        let key = if OWN.contains(&name.as_str()) {
            format!("server_{name}")
        } else {
            name.clone()
        };
        (key, *ms)
    });
    own.chain(server).filter(|(_, ms)| ms.is_finite()).collect()
}

/// The component names of a summary in report order: probity's own first, then the
/// server's, alphabetically.
pub fn ordered(components: &BTreeMap<String, ComponentSummary>) -> Vec<(&str, &ComponentSummary)> {
    let own = OWN
        .iter()
        .filter_map(|name| components.get_key_value(*name));
    let server = components
        .iter()
        .filter(|(name, _)| !OWN.contains(&name.as_str()));
    own.chain(server).map(|(k, v)| (k.as_str(), v)).collect()
}

/// The server's components of a summary (what is not probity's own).
pub fn is_server(name: &str) -> bool {
    !OWN.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(reused: bool, server: &[(&str, f64)]) -> Timings {
        Timings {
            dns_ms: (!reused).then_some(2.0),
            connect_ms: (!reused).then_some(4.0),
            ttfb_ms: Some(100.0),
            reused_connection: reused,
            server: server.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            network_overhead_ms: (!server.is_empty()).then_some(10.0),
            ..Timings::default()
        }
    }

    #[test]
    fn phases_a_sample_did_not_have_are_not_zeros() {
        let mut c = ComponentTotals::default();
        c.add(&timings(false, &[("retrieval", 30.0)]));
        c.add(&timings(true, &[("retrieval", 50.0), ("ttfb", 1.0)]));
        c.add(&timings(true, &[]));
        let s = c.summary();
        assert_eq!(s["dns"].samples, 1);
        assert_eq!(s["dns"].ms.mean, Some(2.0));
        assert_eq!(s["dns"].reused_connection, 0);
        assert_eq!((s["ttfb"].samples, s["ttfb"].reused_connection), (3, 2));
        assert_eq!(s["retrieval"].samples, 2);
        assert_eq!(s["retrieval"].ms.mean, Some(40.0));
        assert_eq!(s["server_ttfb"].ms.max, Some(1.0));
        assert!(!s.contains_key("token_gap_p50"));
        let names: Vec<&str> = ordered(&s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "dns",
                "connect",
                "ttfb",
                "network_overhead",
                "retrieval",
                "server_ttfb"
            ]
        );
    }

    #[test]
    fn the_number_of_names_is_bounded() {
        let mut c = ComponentTotals::default();
        for i in 0..100 {
            c.add(&timings(true, &[(&format!("c{i}"), 1.0)]));
        }
        assert_eq!(c.summary().len(), MAX_COMPONENTS);
    }

    #[test]
    fn the_summary_is_the_latency_shape_plus_counts() {
        let mut c = ComponentTotals::default();
        c.add(&timings(true, &[]));
        let v = serde_json::to_value(c.summary()).unwrap();
        let keys: Vec<&String> = v["ttfb"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "max",
                "mean",
                "p50",
                "p95",
                "p99",
                "reused_connection",
                "samples"
            ]
        );
    }
}
