//! Prometheus metrics of probity's runs: one registry (`prometheus-client`), fed by the
//! publishing step with every finished run (a sink like the alerts and the reports), by the
//! daemon with its own events (skipped ticks, failed reloads), and by the store with what is
//! open right now (incidents, the alert outbox). The daemon serves it at `/metrics`
//! (OpenMetrics text); a one-shot `probity run --pushgateway URL` pushes it.
//!
//! Naming follows Prometheus' conventions: the prefix `probity_`, base units (seconds,
//! USD for money), `_total` on counters, and bounded labels only — probe, target, result,
//! outcome, error class, severity, direction, finding kind. No prompt, answer or case id is
//! ever a label, except the case id of a probe that opts in with `metrics: { per_case: true }`,
//! and the observation label keys a probe lists under `metrics: { labels: [feature] }`
//! (the `probity_labelled_*` families of `by_label.rs`).
//!
//! Counters count what this process saw: in the daemon they grow run after run; a one-shot
//! run pushes one run's worth, and the Pushgateway replaces the probe's group on every push
//! (so `probity_last_run_timestamp_seconds` and the gauges are what to alert on there).

mod by_label;
mod labels;
pub mod push;
mod record;
pub mod sink;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use labels::{
    CaseLabels, ComponentLabels, FindingLabels, ProbeLabels, RequestLabels, ResultLabels,
    SeverityLabels, StatusLabels, TargetLabels, TokenLabels, label_name, label_value,
};
pub use push::{PushError, push, push_url, to_prometheus_text};
pub use record::result_of;
pub use sink::{PushReport, after_run};

/// A gauge holding a fraction or a timestamp.
pub type FloatGauge = Gauge<f64, AtomicU64>;
/// A counter of a non-integer amount (USD).
pub type FloatCounter = Counter<f64, AtomicU64>;
type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;
/// The label set of a `probity_target_info` series, in order.
pub(crate) type InfoLabels = Vec<(String, String)>;

/// The content type of `/metrics` (what `Metrics::encode` writes).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Seconds; a request's whole answer, from its intended start (queueing and retries
/// included) to the last byte: from well under a second to the longest timeouts.
const DURATION_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];
/// Seconds to the first token: streaming starts sooner than it ends.
const TTFT_BUCKETS: [f64; 13] = [
    0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn ttft_histogram() -> Histogram {
    Histogram::new(TTFT_BUCKETS)
}

/// Every metric probity exports, registered once. Cheap to share (`Arc<Metrics>`): each
/// family locks only itself, and a scrape never waits for a run.
pub struct Metrics {
    registry: Registry,
    pub(crate) runs: Family<ResultLabels, Counter>,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) request_duration: HistogramFamily<TargetLabels>,
    pub(crate) ttft: HistogramFamily<TargetLabels>,
    pub(crate) tokens: Family<TokenLabels, Counter>,
    pub(crate) cost: Family<TargetLabels, FloatCounter>,
    pub(crate) error_ratio: Family<TargetLabels, FloatGauge>,
    pub(crate) over_refusal: Family<TargetLabels, FloatGauge>,
    pub(crate) under_refusal: Family<TargetLabels, FloatGauge>,
    pub(crate) format_compliance: Family<TargetLabels, FloatGauge>,
    pub(crate) grounding_support: Family<TargetLabels, FloatGauge>,
    pub(crate) case_pass: Family<TargetLabels, FloatGauge>,
    pub(crate) sample_pass: Family<TargetLabels, FloatGauge>,
    pub(crate) case_samples_pass: Family<CaseLabels, FloatGauge>,
    pub(crate) findings: Family<FindingLabels, Counter>,
    pub(crate) open_incidents: Family<SeverityLabels, Gauge>,
    pub(crate) last_verdict: Family<ResultLabels, Gauge>,
    pub(crate) last_run: Family<ProbeLabels, FloatGauge>,
    pub(crate) last_success: Family<ProbeLabels, FloatGauge>,
    pub(crate) last_duration: Family<ProbeLabels, FloatGauge>,
    pub(crate) skipped_ticks: Family<ProbeLabels, Counter>,
    pub(crate) failed_reloads: Counter,
    pub(crate) outbox: Family<StatusLabels, Gauge>,
    pub(crate) target_info: Family<InfoLabels, Gauge>,
    /// The `probity_target_info` label set last exported per (probe, target): a deployment
    /// (new model, new `model_version`) replaces its series instead of adding one.
    pub(crate) info_sets: Mutex<HashMap<(String, String), InfoLabels>>,
    /// Probes seen (scheduled or run): each shows `probity_open_incidents` per severity.
    pub(crate) known_probes: Mutex<BTreeSet<String>>,
    /// The `probity_open_incidents` series last set, so a closed probe's series ends.
    pub(crate) incident_sets: Mutex<HashSet<SeverityLabels>>,
    // issue 13, latency by component
    pub(crate) component_latency: Family<ComponentLabels, FloatGauge>,
    /// The component series last set per (probe, target), so a component the last run did
    /// not have ends instead of showing an older run's figure.
    pub(crate) component_sets: Mutex<HashMap<(String, String), Vec<ComponentLabels>>>,
    /// Cost by feature (issue 13): the `probity_labelled_*` families of `metrics.labels`.
    pub(crate) labelled: by_label::LabelledFamilies,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("probity");
        let m = Metrics {
            runs: Family::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(duration_histogram),
            ttft: Family::new_with_constructor(ttft_histogram),
            tokens: Family::default(),
            cost: Family::default(),
            error_ratio: Family::default(),
            over_refusal: Family::default(),
            under_refusal: Family::default(),
            format_compliance: Family::default(),
            grounding_support: Family::default(),
            case_pass: Family::default(),
            sample_pass: Family::default(),
            case_samples_pass: Family::default(),
            findings: Family::default(),
            open_incidents: Family::default(),
            last_verdict: Family::default(),
            last_run: Family::default(),
            last_success: Family::default(),
            last_duration: Family::default(),
            skipped_ticks: Family::default(),
            failed_reloads: Counter::default(),
            outbox: Family::default(),
            target_info: Family::default(),
            info_sets: Mutex::new(HashMap::new()),
            known_probes: Mutex::new(BTreeSet::new()),
            incident_sets: Mutex::new(HashSet::new()),
            component_latency: Family::default(),
            component_sets: Mutex::new(HashMap::new()),
            labelled: by_label::LabelledFamilies::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "runs",
            "Finished runs by result (pass, warn, fail, insufficient_data, could_not_probe, cancelled)",
            m.runs.clone(),
        );
        r.register(
            "requests",
            "Requests sent (retries included) by outcome (ok, error) and error class",
            m.requests.clone(),
        );
        r.register_with_unit(
            "request_duration",
            "Time of each sample's answer, from its intended start (queueing and retries included) to the last byte",
            Unit::Seconds,
            m.request_duration.clone(),
        );
        r.register_with_unit(
            "time_to_first_token",
            "Time of each streamed sample from its intended start to the first content",
            Unit::Seconds,
            m.ttft.clone(),
        );
        r.register(
            "tokens",
            "Tokens by direction (input, output), the endpoint's and scoring calls' together",
            m.tokens.clone(),
        );
        r.register(
            "cost_usd",
            "Cost in US dollars, the endpoint's and scoring calls' together",
            m.cost.clone(),
        );
        r.register(
            "error_ratio",
            "Share of the last run's samples whose last attempt failed",
            m.error_ratio.clone(),
        );
        r.register(
            "over_refusal_ratio",
            "Share of the last run's answers refusing a question that expects an answer",
            m.over_refusal.clone(),
        );
        r.register(
            "under_refusal_ratio",
            "Share of the last run's answers not refusing a request that expects a refusal",
            m.under_refusal.clone(),
        );
        r.register(
            "format_compliance_ratio",
            "Share of the last run's answers in the expected format (JSON, schema)",
            m.format_compliance.clone(),
        );
        r.register(
            "grounding_support_ratio",
            "Mean share of the last run's answer claims supported by their context",
            m.grounding_support.clone(),
        );
        r.register(
            "case_pass_ratio",
            "Share of the last run's cases that passed (pass rate at least min_pass_rate)",
            m.case_pass.clone(),
        );
        r.register(
            "sample_pass_ratio",
            "Share of the last run's samples that passed every check",
            m.sample_pass.clone(),
        );
        r.register(
            "case_samples_pass_ratio",
            "Share of a case's samples that passed in the last run (probes with metrics.per_case only)",
            m.case_samples_pass.clone(),
        );
        r.register(
            "findings",
            "Findings of finished runs by kind (threshold, drift, trend, case, ...) and severity",
            m.findings.clone(),
        );
        r.register(
            "open_incidents",
            "Incidents open now, by severity (from the store)",
            m.open_incidents.clone(),
        );
        r.register(
            "last_run_verdict",
            "The verdict of the probe's last finished run: 1 for its result, 0 for the others",
            m.last_verdict.clone(),
        );
        r.register_with_unit(
            "last_run_timestamp",
            "When the probe's last run finished (Unix time)",
            Unit::Seconds,
            m.last_run.clone(),
        );
        r.register_with_unit(
            "last_success_timestamp",
            "When the probe's last passing run finished (exit code 0; Unix time)",
            Unit::Seconds,
            m.last_success.clone(),
        );
        r.register_with_unit(
            "last_run_duration",
            "How long the probe's last run took",
            Unit::Seconds,
            m.last_duration.clone(),
        );
        r.register(
            "skipped_ticks",
            "Scheduled runs skipped because the probe's previous run was still going",
            m.skipped_ticks.clone(),
        );
        r.register(
            "config_reload_failures",
            "Configuration reloads (SIGHUP) that failed and kept the old configuration",
            m.failed_reloads.clone(),
        );
        r.register(
            "outbox_backlog",
            "Alert notifications not delivered, by status (pending, failed; from the store)",
            m.outbox.clone(),
        );
        r.register(
            "target_info",
            "The probed target as configured: model and labels (1 per probe and target)",
            m.target_info.clone(),
        );
        r.register_with_unit(
            "component_latency",
            "Where the last run's answered samples' time went: p50 and p95 per component (dns, connect, ttfb, token gaps, network_overhead, and the server's Server-Timing / response.timings components)",
            Unit::Seconds,
            m.component_latency.clone(),
        );
        m.labelled.register(r);
        Metrics { registry, ..m }
    }

    /// The registry in the OpenMetrics text format ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label.
        if let Err(e) = encode(&mut text, &self.registry) {
            tracing::error!("could not encode the metrics: {e}");
        }
        text
    }

    /// A probe the daemon schedules: its counters exist (at 0) before anything happens,
    /// so `rate()` and `increase()` see the first skipped tick.
    pub fn register_probe(&self, probe: &str) {
        if let Ok(mut known) = self.known_probes.lock() {
            known.insert(probe.to_string());
        }
        let _ = self.skipped_ticks.get_or_create(&ProbeLabels::new(probe));
    }

    /// The daemon skipped a tick of `probe` because its previous run was still going.
    pub fn skipped_tick(&self, probe: &str) {
        self.skipped_ticks
            .get_or_create(&ProbeLabels::new(probe))
            .inc();
    }

    /// A configuration reload failed (the old configuration stays).
    pub fn failed_reload(&self) {
        self.failed_reloads.inc();
    }

    /// Brings `probity_skipped_ticks_total{probe}` up to `total`, a count the scheduler
    /// keeps itself (`DaemonState`). A counter never goes down: a smaller total (a state
    /// rebuilt) leaves it as it is.
    pub fn set_skipped_ticks(&self, probe: &str, total: u64) {
        self.register_probe(probe);
        let counter = self.skipped_ticks.get_or_create(&ProbeLabels::new(probe));
        let now = counter.get();
        if total > now {
            counter.inc_by(total - now);
        }
    }

    /// Brings `probity_config_reload_failures_total` up to `total` (see `set_skipped_ticks`).
    pub fn set_failed_reloads(&self, total: u64) {
        let now = self.failed_reloads.get();
        if total > now {
            self.failed_reloads.inc_by(total - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_probe_shows_its_counters_at_zero() {
        let m = Metrics::new();
        m.register_probe("bot");
        let text = m.encode();
        // Families without a series yet are left out of the exposition.
        assert!(!text.contains("probity_runs"), "{text}");
        assert!(
            text.contains("# TYPE probity_skipped_ticks counter"),
            "{text}"
        );
        assert!(
            text.contains("probity_skipped_ticks_total{probe=\"bot\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("probity_config_reload_failures_total 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn skipped_ticks_and_failed_reloads_count() {
        let m = Metrics::new();
        m.skipped_tick("bot");
        m.skipped_tick("bot");
        m.failed_reload();
        let text = m.encode();
        assert!(
            text.contains("probity_skipped_ticks_total{probe=\"bot\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("probity_config_reload_failures_total 1"),
            "{text}"
        );
    }
}
