//! The validated configuration: what the rest of probity reads. Everything here has been
//! checked (durations parsed, cron lines translated, secrets resolved, golden sets loaded),
//! so later stages never re-validate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::schedule::Schedule;
use crate::golden::GoldenSet;

/// A value that came from the environment and must never be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Which API a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Http,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Http => "http",
        }
    }
}

/// Where the `http` provider finds things in the endpoint's JSON response (JSON pointers).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponseMap {
    /// The answer text, e.g. `/answer`.
    pub text: String,
    /// The retrieved passages: an array of strings, or of objects read with `context_item`.
    pub context: Option<String>,
    /// Pointer inside each context element to its text, e.g. `/text`.
    pub context_item: Option<String>,
    pub input_tokens: Option<String>,
    pub output_tokens: Option<String>,
    pub finish_reason: Option<String>,
    pub model: Option<String>,
    // issue 13, latency by component
    /// Server components in ms: component name → JSON pointer (`retrieval` → `/meta/retrieval_ms`).
    pub timings: BTreeMap<String, String>,
}

/// The request half of the `http` provider.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub method: reqwest::Method,
    pub url: String,
    /// The JSON body; every string leaf is a handlebars template (see `provider::http`).
    pub body: serde_json::Value,
    pub response: HttpResponseMap,
}

/// Prices per million tokens, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pricing {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Pricing {
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_mtok + output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// One endpoint to probe.
#[derive(Debug, Clone)]
pub struct Target {
    /// `default` for the probe's `target`, else the key under `targets`.
    pub name: String,
    pub provider: ProviderKind,
    /// API base for openai / anthropic (e.g. `https://api.openai.com/v1`).
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    /// Stream the answer (measures time to first token).
    pub stream: bool,
    /// Merged into the request body (temperature, max_tokens, ...).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Free-form labels carried into runs, baselines and reports (e.g. `model_version`).
    pub labels: BTreeMap<String, String>,
    /// Extra request headers; values may hold secrets.
    pub headers: BTreeMap<String, Secret>,
    pub http: Option<HttpSpec>,
    /// Model for the embeddings endpoint (`similar:` expectations).
    pub embeddings_model: Option<String>,
    pub pricing: Pricing,
}

impl Target {
    /// The target returns its own passages (`http` with `response.context`): what it
    /// returns is the retrieval, an empty list included.
    pub fn retrieves(&self) -> bool {
        self.http
            .as_ref()
            .is_some_and(|h| h.response.context.is_some())
    }

    /// The `max_tokens` the target asks for, if any (bounds the budget estimate).
    pub fn max_tokens(&self) -> Option<u64> {
        self.params
            .get("max_tokens")
            .or_else(|| self.params.get("max_completion_tokens"))
            .and_then(|v| v.as_u64())
    }
}

/// Retry policy for connect errors, 429 and 5xx.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    pub max: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

/// One absolute limit: crossing `warning` or `critical` raises a finding of that severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub warning: Option<f64>,
    pub critical: Option<f64>,
}

/// Absolute limits on a run (`thresholds:`). Latency limits are in milliseconds; rates in 0..1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    pub error_rate: Option<Limit>,
    /// A ceiling on the share of attempts that failed, retried ones included.
    pub attempt_error_rate: Option<Limit>,
    pub latency_p95_ms: Option<Limit>,
    pub latency_p99_ms: Option<Limit>,
    pub ttft_p95_ms: Option<Limit>,
    pub refusal_rate: Option<Limit>,
    pub hallucination_rate: Option<Limit>,
    pub cost_usd: Option<Limit>,
    /// A floor: below `warning` / `critical` is bad.
    pub format_compliance: Option<Limit>,
    /// A floor on the share of passing samples.
    pub pass_rate: Option<Limit>,
}

/// The unit of a metric's values: how a limit is read (config) and a value is shown
/// (compare). One enum for both, here because config is upstream of compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share in 0..1.
    Rate,
    Millis,
    Usd,
    /// A count (tokens, characters).
    Count,
    /// A score in 0..1 (similarity).
    Score,
    /// Tone and output character (issue 13): VADER sentiment as compared, (compound + 1)
    /// / 2 in 0..1, shown as the compound (-1..1).
    Sentiment,
    /// A reading grade (Flesch–Kincaid).
    Grade,
}

/// What the run is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineRef {
    /// The probe's promoted run in the store.
    Latest,
    /// A baseline file exported with `probity baseline export`.
    File(PathBuf),
    /// No comparison.
    None,
}

/// Minimum effects for drift (a significant change smaller than these is not drift).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub alpha: f64,
    /// Ratio of medians / p95 for latency and TTFT (warning, critical).
    pub latency_ratio: (f64, f64),
    /// Absolute change of a rate, in 0..1 (warning, critical).
    pub rate_delta: (f64, f64),
    /// Ratio of output length medians (warning, critical).
    pub length_ratio: (f64, f64),
    /// Relative drop of a median score (similarity, grounding support): 0.05 = 5% lower
    /// (warning, critical).
    pub score_drop: (f64, f64),
    /// Ratio of cost per request (warning, critical).
    pub cost_ratio: (f64, f64),
    /// Jensen–Shannon divergence (base 2) of categorical distributions (warning, critical).
    pub divergence: (f64, f64),
    /// Smallest absolute latency / TTFT change worth a finding, in milliseconds.
    pub latency_floor_ms: f64,
    /// Issue 15: `drift.sequential` — runs test after every round and stop once decided.
    pub sequential: bool,
}

impl Default for Drift {
    fn default() -> Self {
        Drift {
            alpha: 0.01,
            latency_ratio: (1.2, 1.5),
            rate_delta: (0.02, 0.10),
            length_ratio: (1.25, 1.5),
            score_drop: (0.05, 0.15),
            cost_ratio: (1.2, 1.5),
            divergence: (0.1, 0.2),
            latency_floor_ms: 5.0,
            sequential: false,
        }
    }
}

/// Where runs are stored and what is scrubbed before they are.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Applied to outputs, errors and context before anything is stored or shown.
    pub redact: Vec<Regex>,
    /// Finished runs older than this are pruned (baselines are kept).
    pub retention_days: Option<u32>,
}

/// A validated probe.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub file: PathBuf,
    /// The folder that holds `probes/`; relative paths in the probe start here.
    pub root: PathBuf,
    pub schedule: Option<Schedule>,
    /// `jitter`: the daemon starts each tick up to this much later (zero: on the tick).
    pub jitter: Duration,
    /// `catch_up`: the daemon runs a tick missed while it was down once when it starts.
    pub catch_up: bool,
    pub target: Target,
    /// Named alternatives (`targets:`), already merged over `target`.
    pub targets: BTreeMap<String, Target>,
    pub golden_sets: Vec<GoldenSet>,
    pub samples: u32,
    /// Fewest successful samples per case for the run to count as probed.
    pub min_samples: u32,
    pub concurrency: usize,
    pub requests_per_second: Option<f64>,
    pub timeout: Duration,
    pub retries: Retries,
    pub max_cost_usd: Option<f64>,
    /// `budget.output_reservation_tokens`: output tokens reserved per request whose target
    /// sets no bound (sent as `max_tokens` to chat targets, assumed for `http` ones).
    pub output_reservation_tokens: Option<u64>,
    pub thresholds: Thresholds,
    pub baseline: BaselineRef,
    pub drift: Drift,
    pub alert_route: Option<String>,
    /// `alerts.for`: when a failing rule starts notifying.
    pub alert_fire_after: FireAfter,
    /// `alerts.repeat`: reminder interval while an incident keeps firing.
    pub alert_repeat: Option<std::time::Duration>,
    /// `alerts.rules`: custom rules over the run's summary metrics.
    pub alert_rules: Vec<AlertRule>,
    /// `report:`: the e-mailed summary of each run and the digest.
    pub report: super::report::ReportConfig,
    pub store: StoreConfig,
    /// The LLM judge for `rubric:` expectations.
    pub judge: Option<Target>,
    /// Extra refusal phrasings, added to the built-in lexicon.
    pub refusal_phrases: Vec<String>,
    /// `metrics:` (Prometheus export of the probe's runs).
    pub metrics: MetricsConfig,
    /// `labels:` of the probe (`feature: support-chat`), already merged into each case's
    /// labels (the set's and the case's win); kept for what shows the probe itself.
    pub labels: BTreeMap<String, String>,
    /// `retrieval:`: retrieval relevance of RAG cases.
    pub retrieval: RetrievalConfig,
    /// `embeddings:`: an embeddings endpoint of its own (else the target embeds).
    pub embeddings: Option<Target>,
    /// Every secret value this probe resolved, for redaction.
    pub secrets: Vec<Secret>,
}

/// `retrieval:` of a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalConfig {
    /// Normalised BM25 relevance from which a passage is relevant.
    pub min_relevance: f64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            min_relevance: crate::score::relevance::DEFAULT_MIN_RELEVANCE,
        }
    }
}

/// `metrics:` of a probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `per_case: true`: each case's pass rate is a series of its own (case ids as labels).
    pub per_case: bool,
    /// `labels: [feature]`: the observation label keys that become Prometheus labels of
    /// the per-label families (`probity_labelled_*`); no other key ever does.
    pub labels: Vec<String>,
}

impl Probe {
    /// A target by name: `default` (or the probe's own) or one of `targets`.
    pub fn target_named(&self, name: &str) -> Option<&Target> {
        if name == self.target.name {
            Some(&self.target)
        } else {
            self.targets.get(name)
        }
    }
}

/// A custom alert rule (`alerts.rules` of a probe): fires for a target whose summary
/// metric compares with `value` as `op` says.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Unique within the probe; the incident's rule name.
    pub name: String,
    /// A name of `alert::metric::METRICS` (checked).
    pub metric: String,
    pub op: RuleOp,
    pub value: f64,
    /// `critical` or `warning`.
    pub critical: bool,
}

/// The comparison of a custom rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl RuleOp {
    /// Every op as written, for parsing and "did you mean".
    pub const ALL: [(&'static str, RuleOp); 6] = [
        (">", RuleOp::Gt),
        (">=", RuleOp::Ge),
        ("<", RuleOp::Lt),
        ("<=", RuleOp::Le),
        ("==", RuleOp::Eq),
        ("!=", RuleOp::Ne),
    ];

    pub fn parse(text: &str) -> Option<RuleOp> {
        RuleOp::ALL
            .iter()
            .find(|(s, _)| *s == text.trim())
            .map(|(_, op)| *op)
    }

    pub fn as_str(self) -> &'static str {
        RuleOp::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(s, _)| s)
    }

    /// Whether `current op limit` holds. Equality allows for floating-point noise (a rate
    /// of 3/10 is not exactly 0.3).
    pub fn holds(self, current: f64, limit: f64) -> bool {
        let eq = (current - limit).abs() <= 1e-9 * current.abs().max(limit.abs()).max(1.0);
        match self {
            RuleOp::Gt => current > limit && !eq,
            RuleOp::Ge => current > limit || eq,
            RuleOp::Lt => current < limit && !eq,
            RuleOp::Le => current < limit || eq,
            RuleOp::Eq => eq,
            RuleOp::Ne => !eq,
        }
    }
}

/// When a failing alert rule starts notifying (`alerts.for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireAfter {
    /// After this many consecutive failing runs (1: at once).
    Runs(u32),
    /// Once it has been failing this long (first failing run to now).
    Duration(std::time::Duration),
}
