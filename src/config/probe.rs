//! The probe file as written (`RawProbe`, whose doc comments are the reference for every key)
//! and its validation into `Probe`: durations parsed, the cron line translated, targets
//! merged, golden sets loaded, paths resolved against the folder that holds `probes/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::duration::{DURATION_HINT, parse_duration};
use super::locate::escape;
use super::model::*;
use super::schedule::{CRON_HINT, Schedule};
use super::schema::SchemaCheck;
use crate::golden::GoldenSet;

/// A probe: one endpoint, the golden sets it answers, how often and how hard to ask.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// Name of the probe; runs, baselines and alerts carry it.
    pub name: String,
    /// When `probity serve` runs the probe: a standard 5-field crontab line, e.g. `*/15 * * * *`
    /// (6 fields with seconds first, `@daily`-style macros and `@every 30s` also work).
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA timezone of `schedule`, e.g. `Europe/Berlin` (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Spreads the daemon's starts: each tick starts this much later at most, by a fixed
    /// share per probe name, e.g. `30s` (default none).
    #[serde(default)]
    pub jitter: Option<RawDuration>,
    /// Whether `probity serve` runs a tick missed while it was down, once, when it starts
    /// (default true).
    #[serde(default)]
    pub catch_up: Option<bool>,
    /// The endpoint to probe.
    pub target: RawTarget,
    /// Named alternatives, each overriding keys of `target` (e.g. a canary model for `probity gate`).
    #[serde(default)]
    pub targets: BTreeMap<String, RawTarget>,
    /// Golden-set files, relative to the folder that holds `probes/`.
    pub golden_sets: Vec<String>,
    /// Times each case is sent (default 5): one answer proves nothing.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub samples: Option<u32>,
    /// Fewest answered samples per case for the run to count as probed (default 1).
    #[serde(default)]
    pub min_samples: Option<u32>,
    /// Requests in flight at once (default 4).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub concurrency: Option<u32>,
    /// Pacing of requests, on an absolute schedule.
    #[serde(default)]
    pub rate_limit: Option<RawRateLimit>,
    /// Longest wait for one complete answer, e.g. `30s` (default 60s).
    #[serde(default)]
    pub timeout: Option<RawDuration>,
    /// Retries of connect errors, 429 (honouring Retry-After) and 5xx.
    #[serde(default)]
    pub retries: Option<RawRetries>,
    /// Spending cap for one run; requests that could overspend are skipped, not sent.
    #[serde(default)]
    pub budget: Option<RawBudget>,
    /// Prices of the target's tokens, for cost and the budget.
    #[serde(default)]
    pub pricing: Option<RawPricing>,
    /// Absolute limits; crossing one raises a finding of that severity.
    #[serde(default)]
    pub thresholds: Option<RawThresholds>,
    /// What runs are compared with: `latest` (the promoted run), `none`, or a baseline file.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Drift detection: significance level and the smallest effects worth a finding.
    #[serde(default)]
    pub drift: Option<RawDrift>,
    /// Alert routing: which route of the alerts file this probe's findings take.
    #[serde(default)]
    pub alerts: Option<RawAlertsRef>,
    /// Who gets the report: the e-mailed summary of each run, and the digest.
    #[serde(default)]
    pub report: Option<super::report::RawReport>,
    /// Where runs are stored and what is scrubbed first.
    #[serde(default)]
    pub store: Option<RawStore>,
    /// The LLM judge for `rubric:` expectations: overrides of `target` (e.g. another model).
    #[serde(default)]
    pub judge: Option<RawTarget>,
    /// Refusal detection: phrases to add to the built-in lexicon.
    #[serde(default)]
    pub refusal: Option<RawRefusal>,
    /// Prometheus metrics of this probe's runs (`/metrics`, `--pushgateway`).
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    /// What the probe's traffic is for, e.g. `{ feature: document-analysis, segment:
    /// enterprise }`: every observation carries these (a golden set's and a case's own
    /// `labels` win), and cost, tokens, latency and quality are summed per key and value
    /// (`summary.by_label`). Keys are Prometheus label names. Unlike a target's `labels`
    /// (the deployment: `model_version`), these describe the requests.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Retrieval relevance of RAG cases: the relevance floor of a passage.
    #[serde(default)]
    pub retrieval: Option<RawRetrieval>,
    /// An OpenAI-compatible embeddings endpoint of its own (not merged over `target`):
    /// embeds `similar:` answers and the question and passages of RAG cases. Lets an
    /// `http` probe use `similar:` and embedding relevance. `provider` defaults to openai;
    /// `model` is the embeddings model.
    #[serde(default)]
    pub embeddings: Option<RawTarget>,
}

/// `retrieval:` of a probe.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetrieval {
    /// A passage whose normalised BM25 relevance to the question (0..1) reaches this is
    /// relevant; an answer none of whose passages does is an irrelevant retrieval
    /// (default 0.15, chosen on a labelled set: see BENCHMARKS.md).
    #[serde(default)]
    pub min_relevance: Option<f64>,
}

/// What the probe's runs export as Prometheus metrics beyond the bounded defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Also export each case's sample pass rate, labelled with its golden set and case id
    /// (`probity_case_samples_pass_ratio`; default false: one series per case, so keep the
    /// golden sets small).
    #[serde(default)]
    pub per_case: bool,
    /// Label keys (of the probe's, golden sets' and cases' `labels`) that become
    /// Prometheus labels of the per-label series (`probity_labelled_cost_usd_total{feature=...}`:
    /// cost, tokens, requests, latency, error and pass rate). Unlisted keys never do, so
    /// the number of series stays what you chose.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Which API a target speaks.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawProviderKind {
    Openai,
    Anthropic,
    Http,
}

/// An endpoint. Under `targets:` and `judge:`, every key is optional and overrides `target`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// `openai` (chat completions; also vLLM, llama.cpp, ...), `anthropic`, or `http` (any JSON API).
    #[serde(default)]
    pub provider: Option<RawProviderKind>,
    /// API base URL, e.g. `https://api.openai.com/v1` (openai / anthropic).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Model name sent with each request.
    #[serde(default)]
    pub model: Option<String>,
    /// API key; write `${ENV_VAR}` so it never sits in the file.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Stream answers (measures time to first token). Default true for openai / anthropic.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Extra request body fields: temperature, max_tokens, top_p, ...
    #[serde(default)]
    pub params: Option<serde_json::Map<String, Value>>,
    /// Labels carried into runs and baselines, e.g. `model_version`.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Extra request headers (values may use `${ENV_VAR}`; all are treated as secrets).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// `http` provider: the endpoint URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `http` provider: the HTTP method (default POST).
    #[serde(default)]
    pub method: Option<String>,
    /// `http` provider: the JSON body; string values are handlebars templates over
    /// `prompt`, `system`, `messages`, `vars`, `context`, `case_id`, `model`, `params`.
    #[serde(default)]
    pub body: Option<Value>,
    /// `http` provider: where the answer and its context are in the response.
    #[serde(default)]
    pub response: Option<RawHttpResponse>,
    /// Model of the embeddings endpoint, for `similar:` expectations.
    #[serde(default)]
    pub embeddings_model: Option<String>,
    /// Token prices of this target, overriding the probe's `pricing`.
    #[serde(default)]
    pub pricing: Option<RawPricing>,
}

/// JSON pointers (RFC 6901, e.g. `/data/answer`) into the `http` provider's response.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttpResponse {
    /// The answer text.
    pub text: String,
    /// The retrieved passages: an array of strings, or of objects (see `context_item`).
    #[serde(default)]
    pub context: Option<String>,
    /// Inside each passage object, the pointer to its text, e.g. `/text`.
    #[serde(default)]
    pub context_item: Option<String>,
    /// Input token count.
    #[serde(default)]
    pub input_tokens: Option<String>,
    /// Output token count.
    #[serde(default)]
    pub output_tokens: Option<String>,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    // issue 13, latency by component
    /// Server-reported components in milliseconds, by name: `retrieval_ms: /meta/retrieval_ms`
    /// (a `_ms` suffix is dropped from the component's name).
    #[serde(default)]
    pub timings: Option<BTreeMap<String, String>>,
}

/// A duration as written: `30s`, or a bare number, which is read only to say that it
/// needs a unit (the same message wherever a duration is expected).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawDuration {
    Number(f64),
    Text(String),
}

/// Request pacing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Requests started per second, on an absolute schedule (start + i / rate).
    pub requests_per_second: f64,
}

/// Retry policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Retries after the first attempt (default 2).
    #[serde(default)]
    pub max: Option<u32>,
    /// First backoff delay, doubled each retry with jitter (default 500ms).
    #[serde(default)]
    pub base_delay: Option<RawDuration>,
    /// Longest backoff delay (default 10s).
    #[serde(default)]
    pub max_delay: Option<RawDuration>,
}

/// Spending cap.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// Most a run may spend, in USD (default 1.00). Checked before each request.
    pub max_cost_usd: f64,
    /// Output tokens reserved for each request whose target sets no `max_tokens` (default
    /// 1024). Chat targets are sent it as `max_tokens`; an `http` target's body is its own
    /// template, so there it is only assumed: set it to the bound your template sends.
    #[serde(default)]
    pub output_reservation_tokens: Option<u64>,
}

/// Token prices, USD per million tokens.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
}

/// A limit's level: a number (rates in 0..1, USD) or a duration (latencies).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawLevel {
    Number(f64),
    Text(String),
}

/// Warning and critical levels of one limit.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    /// Crossing this raises a warning.
    #[serde(default)]
    pub warning: Option<RawLevel>,
    /// Crossing this raises a critical finding (fails the run).
    #[serde(default)]
    pub critical: Option<RawLevel>,
}

/// Absolute limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    /// Share of samples that errored (0..1).
    #[serde(default)]
    pub error_rate: Option<RawLimit>,
    /// Share of attempts that failed, retried ones included (0..1): a server that now
    /// needs retries.
    #[serde(default)]
    pub attempt_error_rate: Option<RawLimit>,
    /// 95th percentile latency, e.g. `4s`.
    #[serde(default)]
    pub latency_p95: Option<RawLimit>,
    /// 99th percentile latency.
    #[serde(default)]
    pub latency_p99: Option<RawLimit>,
    /// 95th percentile time to first token.
    #[serde(default)]
    pub ttft_p95: Option<RawLimit>,
    /// Share of answers that refused where an answer was expected (0..1).
    #[serde(default)]
    pub refusal_rate: Option<RawLimit>,
    /// Share of grounded answers below their `min_support` (0..1).
    #[serde(default)]
    pub hallucination_rate: Option<RawLimit>,
    /// Cost of the run in USD.
    #[serde(default)]
    pub cost_usd: Option<RawLimit>,
    /// A floor: share of answers in the expected format (JSON, schema).
    #[serde(default)]
    pub format_compliance: Option<RawLimit>,
    /// A floor: share of samples that passed every check.
    #[serde(default)]
    pub pass_rate: Option<RawLimit>,
}

/// Smallest effects that count as drift.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEffects {
    /// Ratio of latency / TTFT medians or p95 (e.g. 1.2 = 20% slower).
    #[serde(default)]
    pub latency_ratio: Option<f64>,
    /// Absolute change of a rate (0.02 = two percentage points).
    #[serde(default)]
    pub rate_delta: Option<f64>,
    /// Ratio of output length medians.
    #[serde(default)]
    pub length_ratio: Option<f64>,
    /// Relative drop of a median score (similarity, grounding support): 0.05 = 5% lower.
    #[serde(default)]
    pub score_drop: Option<f64>,
    /// Ratio of cost per request.
    #[serde(default)]
    pub cost_ratio: Option<f64>,
    /// Jensen–Shannon divergence of finish reasons / vocabulary (0..1).
    #[serde(default)]
    pub divergence: Option<f64>,
}

/// Drift detection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDrift {
    /// False discovery rate over all tests of one comparison (Benjamini–Hochberg, default 0.01).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Smallest effects that make a significant change a warning.
    #[serde(default)]
    pub min_effect: Option<RawEffects>,
    /// Larger effects that make it critical.
    #[serde(default)]
    pub critical_effect: Option<RawEffects>,
    /// Smallest absolute latency change worth a finding, e.g. `5ms` (the default): a 2 ms
    /// endpoint going to 4 ms doubles without anyone needing to know.
    #[serde(default)]
    pub latency_floor: Option<RawDuration>,
    /// Issue 15: gate sequentially — test after every round with anytime-valid methods and
    /// stop as soon as the verdict is clear (needs a baseline target probed alongside, or a
    /// baseline run; see README "Sequential gate"). Default false.
    #[serde(default)]
    pub sequential: Option<bool>,
}

/// Alert routing of this probe.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlertsRef {
    /// A route of the alerts file (`routes:`), e.g. `default`.
    pub route: String,
    /// Before an incident notifies: that many consecutive failing runs (`2`), or failing
    /// for that long (`30m`). Default 1: the first failing run notifies.
    #[serde(default, rename = "for")]
    pub fire_after: Option<RawDuration>,
    /// A reminder while an incident keeps firing, e.g. `4h`. Default: none.
    #[serde(default)]
    pub repeat: Option<RawDuration>,
    /// Custom rules over the summary metrics of each probed target, e.g.
    /// `{ name: cost-spike, metric: cost_per_request_usd, op: ">", value: 0.002, severity: warning }`.
    #[serde(default)]
    pub rules: Vec<RawAlertRule>,
}

/// A custom alert rule: an incident of its own while a target's metric compares as said.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlertRule {
    /// Unique within the probe (letters, digits, `-`, `_`): the incident's rule name.
    pub name: String,
    /// A summary metric of the run's JSON document, by key path: `error_rate`,
    /// `latency_ms.p95` (ms), `cost_per_request_usd`, `quality.format_compliance`, ...
    pub metric: String,
    /// `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: String,
    /// The limit, in the metric's unit (a share 0..1 for rates, ms, USD, a count).
    pub value: f64,
    /// `warning` or `critical`.
    pub severity: String,
}

/// Storage of runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite file (default `.probity/probity.db` beside `probes/`).
    #[serde(default)]
    pub path: Option<String>,
    /// A PostgreSQL database instead of the SQLite file: `postgres://user@host[:port]/db`,
    /// its password from the environment (`${VAR}` in the URL, or `PGPASSWORD`). Treated
    /// as a secret: shown as `postgres://user@host/db`. `sqlite://PATH` names a file.
    #[serde(default)]
    pub url: Option<String>,
    /// Regular expressions whose matches are replaced by `[REDACTED]` before anything is stored.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Finished runs older than this many days are pruned (baselines are kept).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// Refusal detection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRefusal {
    /// Extra refusal phrasings (case-insensitive), e.g. in the languages your users write.
    #[serde(default)]
    pub phrases: Vec<String>,
}

static PROBE_SCHEMA: LazyLock<SchemaCheck> = LazyLock::new(SchemaCheck::of::<RawProbe>);
static TARGET_SCHEMA: LazyLock<SchemaCheck> = LazyLock::new(SchemaCheck::of::<RawTarget>);

/// Default samples per case.
pub const DEFAULT_SAMPLES: u32 = 5;
/// Default requests in flight.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Default spending cap per run, USD.
pub const DEFAULT_MAX_COST_USD: f64 = 1.0;
/// Pacing that can be scheduled: below, one request every few hours overflows nothing but
/// means nothing either; above, the pacer's arithmetic loses its meaning.
const RPS_RANGE: std::ops::RangeInclusive<f64> = 1e-4..=1e6;
/// Output tokens a request may reserve: 0 is refused by providers, and above a million no
/// model answers.
const OUTPUT_RESERVATION_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000_000;
/// Longest retention: 100 years, far from where date arithmetic overflows.
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Most requests one run may plan (samples × cases × targets).
pub const MAX_REQUESTS: u64 = 10_000_000;

/// Validates a probe document. `load_golden` loads one golden-set file (paths already
/// resolved) and reports its own problems; the probe reports only a missing file.
/// Structural problems (schema) stop the file; every semantic problem is gathered, one
/// `Validator` method per section.
pub fn validate_probe(
    doc: &Document,
    root: &Path,
    mut secrets: Vec<Secret>,
    load_golden: &mut dyn FnMut(&Path) -> Result<GoldenSet, Vec<Diagnostic>>,
) -> Result<Probe, Vec<Diagnostic>> {
    let mut problems = PROBE_SCHEMA.check(doc, "", &doc.value);
    if !problems.is_empty() {
        return Err(problems);
    }
    let raw: RawProbe = match serde_json::from_value(doc.value.clone()) {
        Ok(raw) => raw,
        Err(e) => return Err(vec![doc.error("", e.to_string())]),
    };
    let mut v = Validator {
        doc,
        root,
        problems: &mut problems,
    };

    let schedule = v.schedule(&raw);
    let jitter = v.duration("/jitter", raw.jitter.as_ref(), Duration::ZERO);
    let (alert_fire_after, alert_repeat) = v.alert_policy(raw.alerts.as_ref());
    let alert_rules = v.alert_rules(raw.alerts.as_ref());
    let (target, targets, judge) = v.targets(&raw);
    let embeddings = v.embeddings(raw.pricing.map(pricing).unwrap_or_default());
    let retrieval = v.retrieval(raw.retrieval.as_ref());
    let pacing = v.pacing(&raw);
    let thresholds = raw
        .thresholds
        .as_ref()
        .map(|t| v.thresholds(t))
        .unwrap_or_default();
    let baseline = v.baseline(raw.baseline.as_deref());
    let drift = v.drift(raw.drift.as_ref());
    let store = v.store(raw.store.as_ref());
    // store.url: its password (however it got there) is scrubbed like an API key.
    if let Some(password) = raw
        .store
        .as_ref()
        .and_then(|s| s.url.as_deref())
        .and_then(url_password)
    {
        secrets.push(Secret::new(password));
    }
    let report = {
        // The digest's cron line is read in the probe's timezone (a bad one is reported
        // by `schedule` above).
        let tz = raw.timezone.as_deref().and_then(|t| t.parse().ok());
        super::report::validate(
            doc,
            raw.report.as_ref(),
            tz.unwrap_or(chrono_tz::Tz::UTC),
            v.problems,
        )
    };
    let mut golden_sets = v.golden_sets(&raw.golden_sets, load_golden);
    super::labels::check(doc, "/labels", &raw.labels, v.problems);
    for case in golden_sets.iter_mut().flat_map(|s| s.cases.iter_mut()) {
        case.labels = super::labels::merged(&raw.labels, &case.labels);
    }
    let metric_labels = v.metric_labels(&raw, &golden_sets);
    v.needs(
        &golden_sets,
        target.as_ref(),
        judge.as_ref(),
        embeddings.is_some(),
    );
    v.request_count(pacing.samples, &golden_sets, targets.len());

    let probe = Probe {
        name: raw.name,
        file: doc.path.clone(),
        root: root.to_path_buf(),
        schedule,
        jitter,
        catch_up: raw.catch_up.unwrap_or(true),
        target: target.unwrap_or_else(placeholder_target),
        targets,
        golden_sets,
        samples: pacing.samples,
        min_samples: pacing.min_samples,
        concurrency: raw.concurrency.unwrap_or(DEFAULT_CONCURRENCY) as usize,
        requests_per_second: pacing.requests_per_second,
        timeout: pacing.timeout,
        retries: pacing.retries,
        max_cost_usd: Some(pacing.max_cost_usd),
        output_reservation_tokens: raw
            .budget
            .as_ref()
            .and_then(|b| b.output_reservation_tokens),
        thresholds,
        baseline,
        drift,
        alert_fire_after,
        alert_repeat,
        alert_rules,
        alert_route: raw.alerts.map(|a| a.route),
        report,
        store,
        judge,
        refusal_phrases: raw.refusal.map(|r| r.phrases).unwrap_or_default(),
        metrics: MetricsConfig {
            per_case: raw.metrics.as_ref().is_some_and(|m| m.per_case),
            labels: metric_labels,
        },
        labels: raw.labels,
        retrieval,
        embeddings,
        secrets,
    };
    if problems.is_empty() {
        Ok(probe)
    } else {
        Err(problems)
    }
}

/// How hard a probe asks: samples, pacing, timeouts, retries and the budget.
struct Pacing {
    samples: u32,
    min_samples: u32,
    requests_per_second: Option<f64>,
    timeout: Duration,
    retries: Retries,
    max_cost_usd: f64,
}

/// The password in a database URL's userinfo, if any (percent-decoding aside: the text
/// as it appears, which is what would show up in a message).
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split(['/', '?', '#']).next()?.rsplit_once('@')?.0;
    let password = auth.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_string())
}

/// `.probity/probity.db` beside `probes/`.
pub fn default_store_path(root: &Path) -> PathBuf {
    root.join(".probity").join("probity.db")
}

fn pricing(raw: RawPricing) -> Pricing {
    Pricing {
        input_per_mtok: raw.input_per_mtok,
        output_per_mtok: raw.output_per_mtok,
    }
}

/// `over` laid on `base`: mappings merge key by key, anything else replaces.
fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps validation going after a bad target, so the rest of the file is still checked.
pub(crate) fn placeholder_target() -> Target {
    Target {
        name: "default".into(),
        provider: ProviderKind::OpenAi,
        base_url: String::new(),
        model: String::new(),
        api_key: None,
        stream: false,
        params: Default::default(),
        labels: Default::default(),
        headers: Default::default(),
        http: None,
        embeddings_model: None,
        pricing: Pricing::default(),
    }
}

/// Gathers the problems of one probe document; one method per section.
struct Validator<'a> {
    doc: &'a Document,
    /// The folder that holds `probes/`; relative paths start here.
    root: &'a Path,
    problems: &'a mut Vec<Diagnostic>,
}

impl Validator<'_> {
    fn fail(&mut self, pointer: &str, message: impl Into<String>, hint: Option<&str>) {
        let mut d = self.doc.error(pointer, message);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.problems.push(d);
    }

    /// `timezone` and `schedule`: the cron line is read in the probe's timezone.
    fn schedule(&mut self, raw: &RawProbe) -> Option<Schedule> {
        let timezone = match &raw.timezone {
            None => chrono_tz::Tz::UTC,
            Some(name) => name.parse().unwrap_or_else(|_| {
                self.fail(
                    "/timezone",
                    format!("unknown timezone `{name}`"),
                    Some("use an IANA name such as `Europe/Berlin` or `UTC`"),
                );
                chrono_tz::Tz::UTC
            }),
        };
        raw.schedule.as_deref().and_then(|line| {
            Schedule::parse(line, timezone)
                .map_err(|e| self.fail("/schedule", e, Some(CRON_HINT)))
                .ok()
        })
    }

    /// `target`, the named `targets` and the `judge`, each merged over `target`.
    fn targets(
        &mut self,
        raw: &RawProbe,
    ) -> (Option<Target>, BTreeMap<String, Target>, Option<Target>) {
        let doc = self.doc;
        if let Some(p) = raw.pricing {
            self.prices("/pricing", p);
        }
        let base_pricing = raw.pricing.map(pricing).unwrap_or_default();
        let target_value = doc.get("/target").cloned().unwrap_or(Value::Null);
        let target = self.target("default", "/target", &target_value, base_pricing);
        let mut targets = BTreeMap::new();
        for name in raw.targets.keys() {
            let pointer = format!("/targets/{}", escape(name));
            let merged = merge(&target_value, doc.get(&pointer).unwrap_or(&Value::Null));
            if let Some(t) = self.target(name, &pointer, &merged, base_pricing) {
                targets.insert(name.clone(), t);
            }
        }
        let judge = doc
            .get("/judge")
            .map(|j| merge(&target_value, j))
            .and_then(|merged| self.target("judge", "/judge", &merged, base_pricing));
        (target, targets, judge)
    }

    /// `embeddings:`, a target of its own (merged over nothing: an `http` target's keys
    /// mean nothing to an embeddings endpoint), OpenAI-compatible.
    fn embeddings(&mut self, base_pricing: Pricing) -> Option<Target> {
        let mut value = self.doc.get("/embeddings")?.clone();
        let provider = value.get("provider").cloned();
        if let Some(map) = value.as_object_mut() {
            map.entry("provider").or_insert_with(|| "openai".into());
        }
        let mut t = self.target("embeddings", "/embeddings", &value, base_pricing)?;
        if t.provider != ProviderKind::OpenAi {
            self.fail(
                "/embeddings/provider",
                format!(
                    "embeddings come from an openai-compatible endpoint, found `{}`",
                    provider.as_ref().and_then(|p| p.as_str()).unwrap_or("?")
                ),
                Some("leave `provider` out, or set `provider: openai`"),
            );
            return None;
        }
        // Here `model` is the embeddings model itself.
        t.embeddings_model = t.embeddings_model.or_else(|| Some(t.model.clone()));
        Some(t)
    }

    /// `retrieval:`: the relevance floor, within [0, 1].
    fn retrieval(&mut self, raw: Option<&RawRetrieval>) -> RetrievalConfig {
        let floor = raw.and_then(|r| r.min_relevance);
        match floor {
            Some(f) if !(0.0..=1.0).contains(&f) || !f.is_finite() => {
                self.fail(
                    "/retrieval/min_relevance",
                    format!("must be between 0 and 1, found {f}"),
                    Some("a normalised BM25 score; the default 0.15 is chosen on a labelled set"),
                );
                RetrievalConfig::default()
            }
            Some(f) => RetrievalConfig { min_relevance: f },
            None => RetrievalConfig::default(),
        }
    }

    /// `samples`, `min_samples`, `rate_limit`, `timeout`, `retries` and `budget`.
    fn pacing(&mut self, raw: &RawProbe) -> Pacing {
        let samples = raw.samples.unwrap_or(DEFAULT_SAMPLES);
        let min_samples = raw.min_samples.unwrap_or(1);
        if min_samples > samples {
            self.fail(
                "/min_samples",
                format!("min_samples ({min_samples}) is more than samples ({samples})"),
                None,
            );
        }
        let requests_per_second = raw.rate_limit.as_ref().map(|r| r.requests_per_second);
        if let Some(rps) = requests_per_second.filter(|r| !RPS_RANGE.contains(r)) {
            self.fail(
                "/rate_limit/requests_per_second",
                format!(
                    "must be between {} and {}, found {rps}",
                    RPS_RANGE.start(),
                    RPS_RANGE.end()
                ),
                Some("0.5 is one request every 2 s; leave `rate_limit` out for no pacing"),
            );
        }
        if let Some(n) = raw
            .budget
            .as_ref()
            .and_then(|b| b.output_reservation_tokens)
            .filter(|n| !OUTPUT_RESERVATION_RANGE.contains(n))
        {
            self.fail(
                "/budget/output_reservation_tokens",
                format!(
                    "must be between {} and {}, found {n}",
                    OUTPUT_RESERVATION_RANGE.start(),
                    OUTPUT_RESERVATION_RANGE.end()
                ),
                Some("the most output tokens one answer may use, e.g. 1024 (0 would be sent as max_tokens: 0, which providers refuse)"),
            );
        }
        let timeout = self.duration("/timeout", raw.timeout.as_ref(), Duration::from_secs(60));
        if timeout.is_zero() {
            self.fail(
                "/timeout",
                "a timeout of 0 fails every request",
                Some("the longest wait for one answer, e.g. 30s"),
            );
        }
        let retries = Retries {
            max: raw.retries.as_ref().and_then(|r| r.max).unwrap_or(2),
            base_delay: self.duration(
                "/retries/base_delay",
                raw.retries.as_ref().and_then(|r| r.base_delay.as_ref()),
                Duration::from_millis(500),
            ),
            max_delay: self.duration(
                "/retries/max_delay",
                raw.retries.as_ref().and_then(|r| r.max_delay.as_ref()),
                Duration::from_secs(10),
            ),
        };
        let max_cost_usd = raw
            .budget
            .as_ref()
            .map(|b| b.max_cost_usd)
            .unwrap_or(DEFAULT_MAX_COST_USD);
        if max_cost_usd < 0.0 {
            self.fail("/budget/max_cost_usd", "must not be negative", None);
        }
        Pacing {
            samples,
            min_samples,
            requests_per_second,
            timeout,
            retries,
            max_cost_usd,
        }
    }

    /// Token prices: a negative price would make every run look free to the budget.
    fn prices(&mut self, pointer: &str, p: RawPricing) {
        for (key, price) in [
            ("input_per_mtok", p.input_per_mtok),
            ("output_per_mtok", p.output_per_mtok),
        ] {
            if price < 0.0 {
                self.fail(
                    &format!("{pointer}/{key}"),
                    format!("a price is not negative, found {price}"),
                    Some("USD per million tokens, e.g. 0.15"),
                );
            }
        }
    }

    /// `baseline`: `latest`, `none`, or a file that must exist.
    fn baseline(&mut self, raw: Option<&str>) -> BaselineRef {
        match raw {
            None | Some("latest") => BaselineRef::Latest,
            Some("none") => BaselineRef::None,
            Some(file) => {
                let path = self.root.join(file);
                if !path.is_file() {
                    self.fail(
                        "/baseline",
                        format!("baseline file `{file}` not found"),
                        Some("write `latest`, `none`, or a file made by `probity baseline export`"),
                    );
                }
                BaselineRef::File(path)
            }
        }
    }

    /// `store`: its path (relative to the root) or URL, redaction patterns and retention.
    fn store(&mut self, raw: Option<&RawStore>) -> StoreConfig {
        let mut path = raw
            .and_then(|s| s.path.as_deref())
            .map(|p| self.root.join(p))
            .unwrap_or_else(|| default_store_path(self.root));
        if let Some(url) = raw.and_then(|s| s.url.as_deref()) {
            if raw.is_some_and(|s| s.path.is_some()) {
                self.fail(
                    "/store/url",
                    "`store.path` and `store.url` both name the database".to_string(),
                    Some("keep one: `path` for an SQLite file, `url` for PostgreSQL"),
                );
            } else if crate::store::is_postgres_url(url) {
                path = PathBuf::from(url);
            } else if let Some(file) = url.strip_prefix("sqlite://") {
                path = self.root.join(file);
            } else {
                self.fail(
                    "/store/url",
                    format!("`{}` is not a database URL", crate::store::redact_url(url)),
                    Some(
                        "write `postgres://user@host[:port]/db` (the password from `${VAR}` \
                         or PGPASSWORD), or `sqlite://PATH`, or use `store.path` for a file",
                    ),
                );
            }
        }
        let mut redact = Vec::new();
        for (i, pattern) in raw
            .map(|s| s.redact.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            match regex::Regex::new(pattern) {
                Ok(re) => redact.push(re),
                Err(e) => self.fail(
                    &format!("/store/redact/{i}"),
                    format!("invalid regex: {}", one_line(&e.to_string())),
                    None,
                ),
            }
        }
        let retention_days = raw.and_then(|s| s.retention_days);
        if let Some(days) = retention_days.filter(|d| *d > MAX_RETENTION_DAYS) {
            self.fail(
                "/store/retention_days",
                format!("must be at most {MAX_RETENTION_DAYS} (100 years), found {days}"),
                Some("leave `retention_days` out to keep every run"),
            );
        }
        StoreConfig {
            path,
            redact,
            retention_days: retention_days.filter(|d| *d <= MAX_RETENTION_DAYS),
        }
    }

    /// `golden_sets`: each file must exist and load, and no set may be listed twice.
    fn golden_sets(
        &mut self,
        files: &[String],
        load_golden: &mut dyn FnMut(&Path) -> Result<GoldenSet, Vec<Diagnostic>>,
    ) -> Vec<GoldenSet> {
        let mut golden_sets = Vec::new();
        let mut seen_sets: BTreeMap<String, usize> = BTreeMap::new();
        for (i, file) in files.iter().enumerate() {
            let pointer = format!("/golden_sets/{i}");
            let path = self.root.join(file);
            if !path.is_file() {
                let hint = format!(
                    "paths are relative to {}/ (the folder that holds probes/)",
                    super::display_path(self.root)
                );
                self.fail(
                    &pointer,
                    format!("golden-set file `{file}` not found"),
                    Some(&hint),
                );
                continue;
            }
            match load_golden(&path) {
                Ok(set) => {
                    if let Some(first) = seen_sets.insert(set.name.clone(), i) {
                        self.fail(
                            &pointer,
                            format!(
                                "golden set `{}` is listed twice (also golden_sets[{first}])",
                                set.name
                            ),
                            None,
                        );
                    }
                    golden_sets.push(set);
                }
                Err(mut errors) => self.problems.append(&mut errors),
            }
        }
        golden_sets
    }

    /// `metrics.labels`: each key listed once, and defined by some label of the probe, its
    /// golden sets or cases (else it is a typo: "did you mean").
    fn metric_labels(&mut self, raw: &RawProbe, golden_sets: &[GoldenSet]) -> Vec<String> {
        let Some(metrics) = &raw.metrics else {
            return Vec::new();
        };
        // Case labels already hold the probe's (merged above); the probe's own count even
        // when no case loaded.
        let defined: std::collections::BTreeSet<&str> = golden_sets
            .iter()
            .flat_map(|s| s.cases.iter())
            .flat_map(|c| c.labels.keys().map(String::as_str))
            .chain(raw.labels.keys().map(String::as_str))
            .collect();
        let defined: Vec<&str> = defined.into_iter().collect();
        // A golden set that did not load (reported on its own) may define the key.
        let all_loaded = golden_sets.len() == raw.golden_sets.len();
        let mut out: Vec<String> = Vec::new();
        for (i, key) in metrics.labels.iter().enumerate() {
            let at = format!("/metrics/labels/{i}");
            if let Some(message) = super::labels::key_problem(key) {
                self.fail(
                    &at,
                    message,
                    Some("a label key of the probe, a golden set or a case, e.g. `feature`"),
                );
            } else if metrics.labels[..i].contains(key) {
                self.fail(&at, format!("label `{key}` is listed twice"), None);
            } else if all_loaded && !defined.contains(&key.as_str()) {
                let hint = if defined.is_empty() {
                    "no probe, golden set or case of this probe has `labels:`; add e.g. `labels: { feature: support-chat }`".to_string()
                } else {
                    super::suggest::hint(key, &defined)
                };
                self.fail(
                    &at,
                    format!("no label of the probe, its golden sets or cases has the key `{key}`"),
                    Some(&hint),
                );
            } else {
                out.push(key.clone());
            }
        }
        out
    }

    /// samples × cases × targets: a run that large is a typo, not a probe.
    fn request_count(&mut self, samples: u32, golden_sets: &[GoldenSet], named_targets: usize) {
        let per_target: u64 = golden_sets
            .iter()
            .flat_map(|s| s.cases.iter())
            .map(|c| u64::from(c.samples.unwrap_or(samples)))
            .fold(0, u64::saturating_add);
        let requests = per_target.saturating_mul(named_targets as u64 + 1);
        if requests > MAX_REQUESTS {
            self.fail(
                "/samples",
                format!(
                    "a run plans {requests} requests (samples × cases × targets), more than {MAX_REQUESTS}"
                ),
                Some("lower `samples`, or split the golden sets across probes"),
            );
        }
    }

    /// Expectations that need more than the target: a judge, or an embeddings endpoint.
    fn needs(
        &mut self,
        golden_sets: &[GoldenSet],
        target: Option<&Target>,
        judge: Option<&Target>,
        own_embeddings: bool,
    ) {
        let cases = || golden_sets.iter().flat_map(|s| s.cases.iter());
        if judge.is_none() {
            if let Some(c) = cases().find(|c| c.expect.rubric.is_some()) {
                self.fail(
                    "",
                    format!(
                        "case `{}/{}` has a `rubric:`, but the probe has no `judge:` target",
                        c.set, c.id
                    ),
                    Some("add `judge: { model: ... }` (keys override `target`)"),
                );
            }
        }
        if !own_embeddings && target.is_some_and(|t| t.provider != ProviderKind::OpenAi) {
            if let Some(c) = cases().find(|c| c.expect.similar.is_some()) {
                self.fail("/target/provider", format!("case `{}/{}` uses `similar:`, which needs an openai-compatible target for embeddings", c.set, c.id), Some("or name one: `embeddings: { base_url: ..., model: text-embedding-3-small }`"));
            }
        }
    }

    /// `alerts.for` and `alerts.repeat`.
    fn alert_policy(&mut self, raw: Option<&RawAlertsRef>) -> (FireAfter, Option<Duration>) {
        let Some(raw) = raw else {
            return (FireAfter::Runs(1), None);
        };
        let fire_after = match &raw.fire_after {
            None => FireAfter::Runs(1),
            Some(RawDuration::Number(n)) if *n >= 1.0 && n.fract() == 0.0 && *n <= 1e6 => {
                FireAfter::Runs(*n as u32)
            }
            Some(RawDuration::Number(n)) => {
                self.fail(
                    "/alerts/for",
                    format!("must be a whole number of runs (at least 1) or a duration, found {n}"),
                    Some("e.g. `for: 2` (two failing runs in a row) or `for: 30m`"),
                );
                FireAfter::Runs(1)
            }
            Some(d) => FireAfter::Duration(self.duration("/alerts/for", Some(d), Duration::ZERO)),
        };
        let repeat = raw
            .repeat
            .as_ref()
            .map(|d| self.duration("/alerts/repeat", Some(d), Duration::ZERO));
        if repeat == Some(Duration::ZERO) {
            self.fail(
                "/alerts/repeat",
                "a reminder interval must be longer than 0",
                Some(DURATION_HINT),
            );
        }
        (fire_after, repeat)
    }

    /// `alerts.rules`: names unique and plain, metrics known, ops and severities spelled
    /// right; each problem at its own key with a "did you mean".
    fn alert_rules(&mut self, raw: Option<&RawAlertsRef>) -> Vec<AlertRule> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let metrics = crate::alert::metric::names();
        let ops: Vec<&str> = RuleOp::ALL.iter().map(|(s, _)| *s).collect();
        let mut out: Vec<AlertRule> = Vec::new();
        for (i, r) in raw.rules.iter().enumerate() {
            let at = |key: &str| format!("/alerts/rules/{i}/{key}");
            let mut ok = true;
            let plain = !r.name.is_empty()
                && r.name.len() <= 64
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plain || r.name == "could_not_probe" {
                self.fail(
                    &at("name"),
                    format!(
                        "`{}` cannot name a rule",
                        r.name.escape_debug()
                    ),
                    Some("use letters, digits, `-` and `_` (at most 64), e.g. `cost-spike`; `could_not_probe` is built in"),
                );
                ok = false;
            } else if out.iter().any(|o| o.name == r.name)
                || raw.rules[..i].iter().any(|o| o.name == r.name)
            {
                self.fail(
                    &at("name"),
                    format!("a second rule named `{}`", r.name),
                    Some("each rule of a probe needs its own name: it identifies the incident"),
                );
                ok = false;
            }
            if crate::alert::metric::metric(&r.metric).is_none() {
                let hint = super::suggest::hint(&r.metric, &metrics);
                self.fail(
                    &at("metric"),
                    format!("unknown metric `{}`", r.metric.escape_debug()),
                    Some(&hint),
                );
                ok = false;
            }
            let op = RuleOp::parse(&r.op);
            if op.is_none() {
                let hint = super::suggest::hint(&r.op, &ops);
                self.fail(
                    &at("op"),
                    format!("unknown op `{}`", r.op.escape_debug()),
                    Some(&hint),
                );
            }
            let critical = match r.severity.as_str() {
                "critical" => Some(true),
                "warning" => Some(false),
                other => {
                    let hint = if other == "info" {
                        "a rule is `warning` or `critical`; `info` notifications are one-shot (model, label and baseline changes, recoveries)".to_string()
                    } else {
                        super::suggest::hint(other, &["warning", "critical"])
                    };
                    self.fail(
                        &at("severity"),
                        format!("unknown severity `{}`", other.escape_debug()),
                        Some(&hint),
                    );
                    None
                }
            };
            if !r.value.is_finite() {
                self.fail(&at("value"), "must be a finite number", None);
                ok = false;
            }
            if let (true, Some(op), Some(critical)) = (ok, op, critical) {
                out.push(AlertRule {
                    name: r.name.clone(),
                    metric: r.metric.clone(),
                    op,
                    value: r.value,
                    critical,
                });
            }
        }
        out
    }

    fn duration(
        &mut self,
        pointer: &str,
        raw: Option<&RawDuration>,
        default: Duration,
    ) -> Duration {
        let parsed = match raw {
            None => return default,
            Some(RawDuration::Text(t)) => parse_duration(t),
            Some(RawDuration::Number(n)) => Err(format!("`{n}` has no unit")),
        };
        parsed.unwrap_or_else(|e| {
            self.fail(
                pointer,
                format!("invalid duration: {e}"),
                Some(DURATION_HINT),
            );
            default
        })
    }

    /// Checks a (possibly merged) target value that sits at `pointer`.
    fn target(
        &mut self,
        name: &str,
        pointer: &str,
        value: &Value,
        base_pricing: Pricing,
    ) -> Option<Target> {
        let structural = TARGET_SCHEMA.check(self.doc, pointer, value);
        if !structural.is_empty() {
            self.problems.extend(structural);
            return None;
        }
        let raw: RawTarget = serde_json::from_value(value.clone()).ok()?;
        let before = self.problems.len();
        let provider = match raw.provider {
            Some(RawProviderKind::Openai) => ProviderKind::OpenAi,
            Some(RawProviderKind::Anthropic) => ProviderKind::Anthropic,
            Some(RawProviderKind::Http) => ProviderKind::Http,
            None => {
                self.fail(
                    pointer,
                    "missing required key `provider`",
                    Some("`provider`: openai, anthropic or http"),
                );
                return None;
            }
        };
        let base_url = match (provider, &raw.base_url) {
            (_, Some(url)) => url.trim_end_matches('/').to_string(),
            (ProviderKind::OpenAi, None) => "https://api.openai.com/v1".to_string(),
            (ProviderKind::Anthropic, None) => "https://api.anthropic.com/v1".to_string(),
            (ProviderKind::Http, None) => String::new(),
        };
        if !base_url.is_empty() && reqwest::Url::parse(&base_url).is_err() {
            self.fail(
                &format!("{pointer}/base_url"),
                format!("`{base_url}` is not a URL"),
                Some("e.g. https://api.openai.com/v1"),
            );
        }
        let model = raw.model.clone().unwrap_or_default();
        if model.is_empty() && provider != ProviderKind::Http {
            self.fail(
                pointer,
                "missing required key `model`",
                Some("`model`: the model name the endpoint serves"),
            );
        }
        let http = if provider == ProviderKind::Http {
            self.http_spec(pointer, &raw)
        } else {
            for key in ["url", "method", "body", "response"] {
                if value.get(key).is_some() {
                    self.fail(
                        &format!("{pointer}/{key}"),
                        format!("`{key}` is only for `provider: http`"),
                        None,
                    );
                }
            }
            None
        };
        if let Some(p) = raw.pricing {
            self.prices(&format!("{pointer}/pricing"), p);
        }
        if self.problems.len() > before {
            return None;
        }
        Some(Target {
            name: name.to_string(),
            provider,
            base_url,
            model,
            api_key: raw.api_key.map(Secret::new),
            stream: raw.stream.unwrap_or(provider != ProviderKind::Http),
            params: raw.params.unwrap_or_default(),
            labels: raw.labels.unwrap_or_default(),
            headers: raw
                .headers
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
            http,
            embeddings_model: raw.embeddings_model,
            pricing: raw.pricing.map(pricing).unwrap_or(base_pricing),
        })
    }

    fn http_spec(&mut self, pointer: &str, raw: &RawTarget) -> Option<HttpSpec> {
        let url = match &raw.url {
            Some(u) if reqwest::Url::parse(u).is_ok() => u.clone(),
            Some(u) => {
                self.fail(
                    &format!("{pointer}/url"),
                    format!("`{u}` is not a URL"),
                    None,
                );
                return None;
            }
            None => {
                self.fail(
                    pointer,
                    "missing required key `url`",
                    Some("`provider: http` needs the endpoint's `url`"),
                );
                return None;
            }
        };
        let method = match raw
            .method
            .as_deref()
            .unwrap_or("POST")
            .to_ascii_uppercase()
            .parse::<reqwest::Method>()
        {
            Ok(m) => m,
            Err(_) => {
                self.fail(
                    &format!("{pointer}/method"),
                    "not an HTTP method",
                    Some("e.g. POST"),
                );
                return None;
            }
        };
        let Some(response) = &raw.response else {
            self.fail(
                pointer,
                "missing required key `response`",
                Some("`response.text`: a JSON pointer to the answer, e.g. `/answer`"),
            );
            return None;
        };
        let pointers = [
            ("text", Some(&response.text)),
            ("context", response.context.as_ref()),
            ("context_item", response.context_item.as_ref()),
            ("input_tokens", response.input_tokens.as_ref()),
            ("output_tokens", response.output_tokens.as_ref()),
            ("finish_reason", response.finish_reason.as_ref()),
            ("model", response.model.as_ref()),
        ];
        for (key, p) in pointers {
            if let Some(p) = p.filter(|p| !p.is_empty() && !p.starts_with('/')) {
                self.fail(
                    &format!("{pointer}/response/{key}"),
                    format!("`{p}` is not a JSON pointer"),
                    Some("JSON pointers start with `/`, e.g. `/data/answer`"),
                );
            }
        }
        let timings = self.response_timings(pointer, response.timings.as_ref());
        Some(HttpSpec {
            method,
            url,
            body: raw.body.clone().unwrap_or(Value::Null),
            response: HttpResponseMap {
                text: response.text.clone(),
                context: response.context.clone(),
                context_item: response.context_item.clone(),
                input_tokens: response.input_tokens.clone(),
                output_tokens: response.output_tokens.clone(),
                finish_reason: response.finish_reason.clone(),
                model: response.model.clone(),
                timings,
            },
        })
    }

    /// `response.timings` (issue 13): component name → JSON pointer to milliseconds.
    fn response_timings(
        &mut self,
        pointer: &str,
        raw: Option<&BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (key, p) in raw.into_iter().flatten() {
            let at = format!("{pointer}/response/timings/{key}");
            let name = key.strip_suffix("_ms").unwrap_or(key);
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !valid {
                self.fail(
                    &at,
                    format!("`{key}` is not a component name"),
                    Some("letters, digits, `_`, `-` and `.`, e.g. `retrieval_ms`"),
                );
            } else if !p.starts_with('/') {
                self.fail(
                    &at,
                    format!("`{p}` is not a JSON pointer"),
                    Some("JSON pointers start with `/`, e.g. `/meta/retrieval_ms`"),
                );
            } else if out.insert(name.to_owned(), p.clone()).is_some() {
                self.fail(
                    &at,
                    format!("the component `{name}` is read twice"),
                    Some("keep one of `NAME` and `NAME_ms`"),
                );
            }
        }
        out
    }

    fn thresholds(&mut self, raw: &RawThresholds) -> Thresholds {
        Thresholds {
            error_rate: self.limit("error_rate", raw.error_rate.as_ref(), Unit::Rate),
            attempt_error_rate: self.limit(
                "attempt_error_rate",
                raw.attempt_error_rate.as_ref(),
                Unit::Rate,
            ),
            latency_p95_ms: self.limit("latency_p95", raw.latency_p95.as_ref(), Unit::Millis),
            latency_p99_ms: self.limit("latency_p99", raw.latency_p99.as_ref(), Unit::Millis),
            ttft_p95_ms: self.limit("ttft_p95", raw.ttft_p95.as_ref(), Unit::Millis),
            refusal_rate: self.limit("refusal_rate", raw.refusal_rate.as_ref(), Unit::Rate),
            hallucination_rate: self.limit(
                "hallucination_rate",
                raw.hallucination_rate.as_ref(),
                Unit::Rate,
            ),
            cost_usd: self.limit("cost_usd", raw.cost_usd.as_ref(), Unit::Usd),
            format_compliance: self.limit(
                "format_compliance",
                raw.format_compliance.as_ref(),
                Unit::Rate,
            ),
            pass_rate: self.limit("pass_rate", raw.pass_rate.as_ref(), Unit::Rate),
        }
    }

    fn limit(&mut self, key: &str, raw: Option<&RawLimit>, unit: Unit) -> Option<Limit> {
        let raw = raw?;
        let mut level = |name: &str, level: &Option<RawLevel>| -> Option<f64> {
            let pointer = format!("/thresholds/{key}/{name}");
            match (level.as_ref()?, unit) {
                (RawLevel::Text(t), Unit::Millis) => match parse_duration(t) {
                    Ok(d) => Some(d.as_secs_f64() * 1000.0),
                    Err(e) => {
                        self.fail(
                            &pointer,
                            format!("invalid duration: {e}"),
                            Some(DURATION_HINT),
                        );
                        None
                    }
                },
                (RawLevel::Number(n), Unit::Millis) => {
                    self.fail(
                        &pointer,
                        format!("invalid duration: `{n}` has no unit"),
                        Some(DURATION_HINT),
                    );
                    None
                }
                (RawLevel::Number(n), Unit::Rate) if !(0.0..=1.0).contains(n) => {
                    self.fail(
                        &pointer,
                        format!("a rate is between 0 and 1, found {n}"),
                        Some("write 0.05 for 5%"),
                    );
                    None
                }
                (RawLevel::Number(n), _) => Some(*n),
                (RawLevel::Text(t), _) => {
                    self.fail(
                        &pointer,
                        format!("expected a number, found the string \"{t}\""),
                        None,
                    );
                    None
                }
            }
        };
        let limit = Limit {
            warning: level("warning", &raw.warning),
            critical: level("critical", &raw.critical),
        };
        if let (Some(w), Some(c)) = (limit.warning, limit.critical) {
            // Floors (a share that must stay high) warn above their critical level.
            let floor = matches!(key, "format_compliance" | "pass_rate");
            let shown = |x: f64| match unit {
                Unit::Millis => {
                    humantime::format_duration(Duration::from_secs_f64(x / 1000.0)).to_string()
                }
                _ => format!("{x}"),
            };
            if (floor && w < c) || (!floor && w > c) {
                let (message, hint) = if floor {
                    (
                        format!(
                            "warning ({}) is below critical ({}): for a floor, the warning level is the higher one",
                            shown(w),
                            shown(c)
                        ),
                        "e.g. { warning: 0.95, critical: 0.9 }",
                    )
                } else {
                    (
                        format!(
                            "warning ({}) is above critical ({}): the warning level comes first",
                            shown(w),
                            shown(c)
                        ),
                        "the warning level is crossed first, then the critical one",
                    )
                };
                self.fail(&format!("/thresholds/{key}/warning"), message, Some(hint));
            }
        }
        Some(limit)
    }

    fn drift(&mut self, raw: Option<&RawDrift>) -> Drift {
        let mut drift = Drift::default();
        let Some(raw) = raw else { return drift };
        if let Some(alpha) = raw.alpha {
            if alpha > 0.0 && alpha < 0.5 {
                drift.alpha = alpha;
            } else {
                self.fail(
                    "/drift/alpha",
                    format!("must be between 0 and 0.5, found {alpha}"),
                    Some("0.01 is a sound default"),
                );
            }
        }
        drift.latency_floor_ms = self
            .duration(
                "/drift/latency_floor",
                raw.latency_floor.as_ref(),
                Duration::from_millis(5),
            )
            .as_secs_f64()
            * 1000.0;
        drift.sequential = raw.sequential.unwrap_or(false);
        let none = RawEffects::default();
        let min = raw.min_effect.as_ref().unwrap_or(&none);
        let critical = raw.critical_effect.as_ref().unwrap_or(&none);
        let effects = [
            (
                "latency_ratio",
                Effect::Ratio,
                min.latency_ratio,
                critical.latency_ratio,
                &mut drift.latency_ratio,
            ),
            (
                "rate_delta",
                Effect::Share,
                min.rate_delta,
                critical.rate_delta,
                &mut drift.rate_delta,
            ),
            (
                "length_ratio",
                Effect::Ratio,
                min.length_ratio,
                critical.length_ratio,
                &mut drift.length_ratio,
            ),
            (
                "score_drop",
                Effect::Share,
                min.score_drop,
                critical.score_drop,
                &mut drift.score_drop,
            ),
            (
                "cost_ratio",
                Effect::Ratio,
                min.cost_ratio,
                critical.cost_ratio,
                &mut drift.cost_ratio,
            ),
            (
                "divergence",
                Effect::Share,
                min.divergence,
                critical.divergence,
                &mut drift.divergence,
            ),
        ];
        for (key, kind, warning, crit, pair) in effects {
            let warning = self.effect(&format!("/drift/min_effect/{key}"), kind, warning);
            let crit = self.effect(&format!("/drift/critical_effect/{key}"), kind, crit);
            if let (Some(w), Some(c)) = (warning, crit) {
                if c < w {
                    self.fail(
                        &format!("/drift/critical_effect/{key}"),
                        format!("critical effect {c} is below the minimum effect {w}"),
                        Some("the critical effect is the larger one: a change beyond it fails the run"),
                    );
                    continue;
                }
            }
            // Only one side written: the comparison reads an effect at or above the
            // minimum as critical when the default critical effect lies below it.
            if let Some(w) = warning {
                pair.0 = w;
            }
            if let Some(c) = crit {
                pair.1 = c;
            }
        }
        drift
    }

    /// One drift effect size: finite, and in its kind's range.
    fn effect(&mut self, pointer: &str, kind: Effect, value: Option<f64>) -> Option<f64> {
        let v = value?;
        let ok = v.is_finite()
            && match kind {
                Effect::Ratio => v >= 1.0,
                Effect::Share => (0.0..=1.0).contains(&v),
            };
        if ok {
            return Some(v);
        }
        let (message, hint) = match kind {
            Effect::Ratio => (
                format!("a ratio is at least 1, found {v}"),
                "1.2 means 20% larger than the baseline",
            ),
            Effect::Share => (
                format!("must be between 0 and 1, found {v}"),
                "0.02 means two percentage points",
            ),
        };
        self.fail(pointer, message, Some(hint));
        None
    }
}

/// How a drift effect size is measured.
#[derive(Clone, Copy)]
enum Effect {
    /// current / baseline, at least 1.
    Ratio,
    /// A difference or divergence in 0..1.
    Share,
}
