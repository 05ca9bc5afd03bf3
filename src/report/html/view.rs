//! The run report's view model, built from the store alone: the run's stored JSON document
//! (summaries, cases, findings, the comparison), its evidence (the bounded samples the
//! charts draw), its observations (the failing samples, errors by class, the model the
//! endpoint reported), the baseline run's document, and the probe's incidents. Everything
//! is formatted here; the templates only lay it out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::HtmlError;
use super::charts::{self, Charts, Distributions};
use super::history::{Point, points};
use crate::compare::{Finding, FindingKind, Severity, TestRecord, Undecided, format_usd};
use crate::pipeline::TargetInfo;
use crate::report::numbers::{format_effect, without_severity};
use crate::runner::Status;
use crate::store::{IncidentRecord, ObservationRow, RunRecord, Store};
use crate::summary::{CaseSummary, Evidence, MeanScore, Percentiles, Rate, RunSummary};

/// Outputs longer than this are folded in `<details>`.
const FOLD_CHARS: usize = 240;
/// Outputs are cut past this many characters, with a note.
const OUTPUT_CHARS: usize = 2_000;
/// Once the failing samples' outputs shown add up to this many characters, the rest are
/// cut to `SHORT_CHARS`: a run of thousands of long failing answers stays a readable file.
const REPORT_OUTPUT_BUDGET: usize = 4_000_000;
const SHORT_CHARS: usize = 200;
/// The top findings the banner lists.
const BANNER_FINDINGS: usize = 5;

/// Everything the run template shows.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub title: String,
    pub version: &'static str,
    pub run_id: String,
    pub probe: String,
    pub verdict: String,
    pub verdict_label: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub gate: bool,
    pub top_findings: Vec<String>,
    pub more_findings: usize,
    pub alerts: Vec<AlertLine>,
    pub facts: Vec<Fact>,
    pub targets: Vec<TargetView>,
    /// The cases beside the baseline's: a gate's two targets, or this run and the baseline
    /// run while it is stored.
    pub side_by_side: Option<SideBySide>,
    pub findings: Vec<FindingRow>,
    pub tests: Vec<TestRow>,
    pub undecided: Vec<UndecidedRow>,
    pub baseline_note: Option<String>,
    pub notes: Vec<String>,
    pub charts: Charts,
    /// Issue 15: the sequential gate's stop and sequences, when the run was one.
    pub sequential: Option<crate::report::sequential::SequentialView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// An alert this run opened or resolved.
#[derive(Debug, Clone, Serialize)]
pub struct AlertLine {
    pub change: String,
    pub severity: String,
    pub rule: String,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub name: String,
    /// `candidate`, `baseline`, or empty for a plain run.
    pub role: String,
    pub model: String,
    pub operations: Vec<MetricRow>,
    pub errors: Vec<ErrorRow>,
    pub quality: Vec<MetricRow>,
    pub cases: Vec<CaseView>,
    pub failing_cases: usize,
    /// Cost by feature (issue 13): per label key and value, empty without labels.
    pub by_label: Vec<super::by_label::LabelRow>,
    // issue 13, latency by component
    /// "Where the time went", when the run timed components.
    pub time: Option<super::components::TimeView>,
}

/// One metric beside its baseline; `class` is `critical`, `warning` or empty.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub metric: String,
    pub value: String,
    pub interval: String,
    pub baseline: String,
    pub change: String,
    pub class: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorRow {
    pub class: String,
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub status: String,
    pub pass_rate: String,
    pub interval: String,
    pub min_pass_rate: String,
    pub latency_p50: String,
    pub reason: String,
    pub scorers: Vec<ScorerLine>,
    pub samples: Vec<SampleView>,
    /// retrieval relevance (RAG): one answer's passages, each with its relevance.
    pub retrieval: Option<RetrievalView>,
}

/// The passages one answer of a RAG case got (an empty or irrelevant retrieval when the
/// case had one, else its first answer's), each with its relevance to the question.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalView {
    pub sample: u32,
    /// "empty retrieval: …", "irrelevant retrieval: …", or empty.
    pub note: String,
    pub context_precision: String,
    pub passages: Vec<PassageLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassageLine {
    pub rank: usize,
    pub relevance: String,
    pub relevant: bool,
    pub cosine: String,
    /// Untrusted (the endpoint returned it): cut, and escaped by the template engine.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScorerLine {
    pub scorer: String,
    pub pass_rate: String,
    pub reason: String,
}

/// One failing sample: the drill-down to one request.
#[derive(Debug, Clone, Serialize)]
pub struct SampleView {
    pub sample: u32,
    pub attempt: u32,
    pub status: String,
    pub error: String,
    pub output: String,
    pub folded: bool,
    pub cut_note: String,
    pub scores: Vec<ScoreLine>,
    pub latency: String,
    pub ttft: String,
    pub traceparent: String,
    pub request_id: String,
    pub model: String,
    pub finish_reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreLine {
    pub scorer: String,
    pub result: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideBySide {
    pub title: String,
    pub candidate: String,
    pub baseline: String,
    pub cases: Vec<PairRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    pub id: String,
    pub candidate: String,
    pub candidate_status: String,
    pub baseline: String,
    pub baseline_status: String,
    pub class: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub severity: String,
    pub kind: String,
    pub target: String,
    pub metric: String,
    pub message: String,
    pub test: String,
    pub statistic: String,
    pub p: String,
    pub p_adjusted: String,
    pub effect: String,
    pub min_effect: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    pub metric: String,
    pub test: String,
    pub baseline: String,
    pub current: String,
    pub effect: String,
    pub min_effect: String,
    pub p: String,
    pub p_adjusted: String,
    pub decision: String,
    pub class: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UndecidedRow {
    pub metric: String,
    pub effect: String,
    pub min_effect: String,
    pub p_adjusted: String,
    pub needed: String,
}

/// One target of the stored document.
struct StoredTarget {
    info: Option<TargetInfo>,
    summary: RunSummary,
    cases: Vec<CaseSummary>,
}

fn corrupt(run: &str, what: &str, e: impl std::fmt::Display) -> HtmlError {
    HtmlError::Corrupt {
        run: run.to_string(),
        detail: format!("{what}: {e}"),
    }
}

/// The targets of a stored document: `targets` when it has several, else its one.
fn stored_targets(run: &str, doc: &Value) -> Result<Vec<StoredTarget>, HtmlError> {
    let one = |t: &Value, s: &Value, c: &Value| -> Result<StoredTarget, HtmlError> {
        Ok(StoredTarget {
            info: serde_json::from_value(t.clone()).ok(),
            summary: serde_json::from_value(s.clone())
                .map_err(|e| corrupt(run, "its summary", e))?,
            cases: serde_json::from_value(c.clone()).map_err(|e| corrupt(run, "its cases", e))?,
        })
    };
    match doc.get("targets").and_then(Value::as_array) {
        Some(all) => all
            .iter()
            .map(|t| one(&t["target"], &t["summary"], &t["cases"]))
            .collect(),
        None if doc.get("summary").is_some_and(|s| !s.is_null()) => {
            Ok(vec![one(&doc["target"], &doc["summary"], &doc["cases"])?])
        }
        None => Ok(Vec::new()),
    }
}

/// What the observations of a run say beyond its summaries, per target.
#[derive(Default)]
struct Walked {
    /// target → error class → (count, first example).
    errors: BTreeMap<String, BTreeMap<String, (u64, String)>>,
    /// target → `set/case` → failing samples.
    failing: BTreeMap<String, BTreeMap<String, Vec<SampleView>>>,
    /// target → models the endpoint reported, with how many answers each.
    models: BTreeMap<String, BTreeMap<String, u64>>,
    output_chars_shown: usize,
    /// retrieval relevance (RAG): target → `set/case` → the retrieval shown.
    retrieval: BTreeMap<String, BTreeMap<String, RetrievalView>>,
}

/// Most passages of one answer shown, and characters of each.
const PASSAGES_SHOWN: usize = 10;

/// The retrieval of one answer, from its `retrieval` (and `retrieval_cosine`) scores.
fn retrieval_view(
    o: &crate::runner::Observation,
    scores: &[crate::score::Score],
) -> Option<RetrievalView> {
    let r = scores.iter().find(|s| s.scorer == "retrieval")?;
    let d = r.detail.as_ref()?;
    let list = |v: Option<&Value>| -> Vec<Option<f64>> {
        v.and_then(|v| v.as_array())
            .map(|a| a.iter().map(|x| x.as_f64()).collect())
            .unwrap_or_default()
    };
    let relevance = list(d.get("relevance"));
    let cosines = list(
        scores
            .iter()
            .find(|s| s.scorer == "retrieval_cosine")
            .and_then(|s| s.detail.as_ref())
            .and_then(|d| d.get("cosine")),
    );
    let floor = d
        .get("min_relevance")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let passages = o
        .context
        .iter()
        .filter(|p| !p.trim().is_empty())
        .take(PASSAGES_SHOWN)
        .enumerate()
        .map(|(i, text)| {
            let rel = relevance.get(i).copied().flatten();
            PassageLine {
                rank: i + 1,
                relevance: num(rel),
                relevant: rel.is_some_and(|r| r >= floor),
                cosine: cosines
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|c| format!("{c:.3}"))
                    .unwrap_or_default(),
                text: cut(text, SHORT_CHARS).0,
            }
        })
        .collect();
    Some(RetrievalView {
        sample: o.sample + 1,
        note: r.reason.clone().unwrap_or_default(),
        context_precision: num(r.value),
        passages,
    })
}

fn walk(store: &Store, record: &RunRecord) -> Result<Walked, HtmlError> {
    let mut w = Walked::default();
    store.for_each_observation(&record.id, |row: ObservationRow| {
        let o = &row.observation;
        if let Some(m) = &o.model {
            *w.models
                .entry(o.target.clone())
                .or_default()
                .entry(m.clone())
                .or_default() += 1;
        }
        if !o.final_attempt || o.status == Status::SkippedBudget {
            return Ok::<(), HtmlError>(());
        }
        let class = o.status.error_class().map(|c| c.as_str().to_string());
        if let Some(class) = &class {
            let e = w
                .errors
                .entry(o.target.clone())
                .or_default()
                .entry(class.clone())
                .or_insert((0, String::new()));
            e.0 += 1;
            if e.1.is_empty() {
                e.1 = cut(o.error.as_deref().unwrap_or(""), SHORT_CHARS).0;
            }
        }
        let scores = row.scores.as_deref().unwrap_or(&[]);
        // retrieval relevance (RAG): keep the first answer's retrieval, or the first bad
        // one (empty or irrelevant) once there is one.
        if let Some(view) = retrieval_view(o, scores) {
            let shown = w
                .retrieval
                .entry(o.target.clone())
                .or_default()
                .entry(format!("{}/{}", o.set, o.case_id));
            match shown {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(view);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    if e.get().note.is_empty() && !view.note.is_empty() {
                        e.insert(view);
                    }
                }
            }
        }
        let failed = class.is_some() || scores.iter().any(|s| !s.passed && !s.informational);
        if !failed {
            return Ok(());
        }
        let bound = if w.output_chars_shown > REPORT_OUTPUT_BUDGET {
            SHORT_CHARS
        } else {
            OUTPUT_CHARS
        };
        let text = o.output.as_deref().unwrap_or("");
        let (output, cut_note) = cut(text, bound);
        w.output_chars_shown += output.len();
        let sample = SampleView {
            sample: o.sample + 1,
            attempt: o.attempt,
            status: class.unwrap_or_else(|| "answered".to_string()),
            error: cut(o.error.as_deref().unwrap_or(""), OUTPUT_CHARS).0,
            folded: output.chars().count() > FOLD_CHARS || output.lines().count() > 4,
            output,
            cut_note,
            scores: scores
                .iter()
                .map(|s| ScoreLine {
                    scorer: s.scorer.clone(),
                    result: if s.informational {
                        "info"
                    } else if s.passed {
                        "pass"
                    } else {
                        "fail"
                    }
                    .to_string(),
                    value: s.value.map(|v| format!("{v:.3}")).unwrap_or_default(),
                    reason: s.reason.clone().unwrap_or_default(),
                })
                .collect(),
            latency: ms(o.latency_ms),
            ttft: ms(o.ttft_ms),
            traceparent: format!("00-{}-{}-01", record.trace_id, o.span_id),
            request_id: o.request_id.clone().unwrap_or_default(),
            model: o.model.clone().unwrap_or_default(),
            finish_reason: o.finish_reason.clone().unwrap_or_default(),
        };
        w.failing
            .entry(o.target.clone())
            .or_default()
            .entry(format!("{}/{}", o.set, o.case_id))
            .or_default()
            .push(sample);
        Ok(())
    })?;
    Ok(w)
}

/// `text` cut to `bound` characters, with a note saying how much was left out.
fn cut(text: &str, bound: usize) -> (String, String) {
    let total = text.chars().count();
    if total <= bound {
        return (text.to_string(), String::new());
    }
    let kept: String = text.chars().take(bound).collect();
    (
        kept,
        format!("cut after {bound} of {total} characters (`probity export` has the whole answer)"),
    )
}

pub(super) fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "—".to_string(),
    }
}

pub(super) fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

fn interval(ci: [f64; 2]) -> String {
    format!("{} – {}", pct(ci[0]), pct(ci[1]))
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "—".to_string())
}

fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "< 0.001".to_string(),
        Some(p) => format!("{p:.3}"),
        None => "—".to_string(),
    }
}

/// A ratio change of a duration or cost (`×1.40`), empty when either side is missing.
fn ratio(current: Option<f64>, baseline: Option<f64>) -> String {
    match (current, baseline) {
        (Some(c), Some(b)) if b > 0.0 => crate::compare::format_ratio(c / b),
        _ => String::new(),
    }
}

/// A rate's or score's change in points.
fn points_change(current: Option<f64>, baseline: Option<f64>, scale: f64, unit: &str) -> String {
    match (current, baseline) {
        (Some(c), Some(b)) => format!("{:+.1}{unit}", (c - b) * scale),
        _ => String::new(),
    }
}

/// The worst severity of the findings about `target` whose metric is one of `names` (or
/// starts with one and `_`).
pub(super) fn class_of(findings: &[Finding], target: &str, names: &[&str]) -> String {
    findings
        .iter()
        .filter(|f| f.target.is_empty() || f.target == target)
        .filter(|f| f.kind != FindingKind::Inconclusive && f.case.is_none())
        .filter(|f| {
            names.iter().any(|n| {
                f.metric == *n
                    || f.metric
                        .strip_prefix(n)
                        .is_some_and(|rest| rest.starts_with('_'))
            })
        })
        .map(|f| f.severity)
        .max()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn operations(s: &RunSummary, b: Option<&RunSummary>, findings: &[Finding]) -> Vec<MetricRow> {
    let t = s.target.as_str();
    let row =
        |metric: &str, value: String, baseline: String, change: String, class: String| MetricRow {
            metric: metric.to_string(),
            value,
            interval: String::new(),
            baseline,
            change,
            class,
        };
    let f = &s.figures;
    let bf = b.map(|b| &b.figures);
    let mut rows = vec![
        row(
            "request rate",
            format!("{:.2} req/s", s.requests_per_second),
            b.map(|b| format!("{:.2} req/s", b.requests_per_second))
                .unwrap_or_default(),
            String::new(),
            String::new(),
        ),
        row(
            "requests (retries)",
            format!("{} ({})", f.requests, f.retries),
            bf.map(|b| format!("{} ({})", b.requests, b.retries))
                .unwrap_or_default(),
            String::new(),
            String::new(),
        ),
        MetricRow {
            interval: interval(f.error_rate_ci),
            ..row(
                "error rate",
                pct(f.error_rate),
                bf.map(|b| pct(b.error_rate)).unwrap_or_default(),
                points_change(Some(f.error_rate), bf.map(|b| b.error_rate), 100.0, " pts"),
                class_of(findings, t, &["error_rate", "error", "could_not_probe"]),
            )
        },
    ];
    let percentiles = |name: &str, key: &str, p: &Percentiles, bp: Option<&Percentiles>| {
        let class = class_of(findings, t, &[key]);
        [
            ("p50", p.p50, bp.and_then(|b| b.p50)),
            ("p95", p.p95, bp.and_then(|b| b.p95)),
            ("p99", p.p99, bp.and_then(|b| b.p99)),
        ]
        .into_iter()
        .map(|(q, c, b)| {
            row(
                &format!("{name} {q}"),
                ms(c),
                if bp.is_some() { ms(b) } else { String::new() },
                ratio(c, b),
                class.clone(),
            )
        })
        .collect::<Vec<_>>()
    };
    rows.extend(percentiles(
        "latency",
        "latency",
        &f.latency_ms,
        bf.map(|b| &b.latency_ms),
    ));
    rows.extend(percentiles(
        "TTFT",
        "ttft",
        &f.ttft_ms,
        bf.map(|b| &b.ttft_ms),
    ));
    let per = |cost: f64, n: u64| (n > 0).then(|| cost / n as f64);
    let cost_class = class_of(findings, t, &["cost"]);
    rows.push(row(
        "cost",
        format_usd(f.cost_usd),
        bf.map(|b| format_usd(b.cost_usd)).unwrap_or_default(),
        String::new(),
        cost_class.clone(),
    ));
    let cpr = per(f.cost_usd, f.requests);
    let bcpr = bf.and_then(|b| per(b.cost_usd, b.requests));
    rows.push(row(
        "cost per request",
        cpr.map(format_usd).unwrap_or_else(|| "—".into()),
        bcpr.map(format_usd).unwrap_or_default(),
        ratio(cpr, bcpr),
        cost_class.clone(),
    ));
    rows
}

fn cost_per_case(s: &RunSummary, cases: usize) -> Option<f64> {
    (cases > 0).then(|| s.figures.cost_usd / cases as f64)
}

fn quality(s: &RunSummary, b: Option<&RunSummary>, findings: &[Finding]) -> Vec<MetricRow> {
    let t = s.target.as_str();
    let q = &s.quality;
    let bq = b.map(|b| &b.quality);
    let mut rows = Vec::new();
    let mut rate = |label: &str, names: &[&str], r: Option<Rate>, br: Option<Option<Rate>>| {
        let Some(r) = r else { return };
        let br = br.flatten();
        rows.push(MetricRow {
            metric: label.to_string(),
            value: format!("{} ({}/{})", pct(r.value), r.count, r.n),
            interval: interval(r.ci),
            baseline: br.map(|b| pct(b.value)).unwrap_or_default(),
            change: points_change(Some(r.value), br.map(|b| b.value), 100.0, " pts"),
            class: class_of(findings, t, names),
        });
    };
    rate(
        "format compliance",
        &["format_compliance", "format_failure"],
        q.format_compliance,
        bq.map(|b| b.format_compliance),
    );
    rate(
        "over-refusal",
        &["over_refusal"],
        q.over_refusal,
        bq.map(|b| b.over_refusal),
    );
    rate(
        "under-refusal",
        &["under_refusal"],
        q.under_refusal,
        bq.map(|b| b.under_refusal),
    );
    rate(
        "hallucination",
        &["hallucination", "hallucination_rate"],
        q.hallucination,
        bq.map(|b| b.hallucination),
    );
    rate(
        "judge pass",
        &["judge_pass", "judge_fail"],
        q.judge_pass,
        bq.map(|b| b.judge_pass),
    );
    rate(
        "safety flags",
        &["safety_flag", "safety_flags"],
        q.safety_flags,
        bq.map(|b| b.safety_flags),
    );
    rate(
        "truncation",
        &["truncation"],
        q.truncation,
        bq.map(|b| b.truncation),
    );
    rate(
        "empty answers",
        &["empty_answer"],
        q.empty_answer,
        bq.map(|b| b.empty_answer),
    );
    // retrieval relevance (RAG)
    rate(
        "empty retrieval",
        &["empty_retrieval"],
        q.empty_retrieval,
        bq.map(|b| b.empty_retrieval),
    );
    rate(
        "irrelevant retrieval",
        &["irrelevant_retrieval"],
        q.irrelevant_retrieval,
        bq.map(|b| b.irrelevant_retrieval),
    );
    let mut score =
        |label: &str, names: &[&str], m: Option<MeanScore>, bm: Option<Option<MeanScore>>| {
            let Some(m) = m else { return };
            let bm = bm.flatten();
            rows.push(MetricRow {
                metric: label.to_string(),
                value: format!("{:.3} (n={})", m.value, m.n),
                interval: String::new(),
                baseline: bm.map(|b| format!("{:.3}", b.value)).unwrap_or_default(),
                change: points_change(Some(m.value), bm.map(|b| b.value), 1.0, ""),
                class: class_of(findings, t, names),
            });
        };
    score(
        "grounding support",
        &["grounding_support", "grounding"],
        q.grounding_support,
        bq.map(|b| b.grounding_support),
    );
    score(
        "similarity (ROUGE-L)",
        &["similarity"],
        q.similarity,
        bq.map(|b| b.similarity),
    );
    score(
        "similarity (cosine)",
        &["cosine"],
        q.cosine,
        bq.map(|b| b.cosine),
    );
    // retrieval relevance (RAG)
    score(
        "context precision",
        &["context_precision_median", "context_precision_p05"],
        q.context_precision,
        bq.map(|b| b.context_precision),
    );
    score(
        "passages retrieved (mean)",
        &[],
        q.passages,
        bq.map(|b| b.passages),
    );
    let len = |v: Option<f64>| v.map(|v| format!("{v:.0} tokens")).unwrap_or("—".into());
    rows.push(MetricRow {
        metric: "output length p50 / p95".to_string(),
        value: format!(
            "{} / {}",
            len(q.length.tokens.p50),
            len(q.length.tokens.p95)
        ),
        interval: String::new(),
        baseline: bq
            .map(|b| {
                format!(
                    "{} / {}",
                    len(b.length.tokens.p50),
                    len(b.length.tokens.p95)
                )
            })
            .unwrap_or_default(),
        change: ratio(q.length.tokens.p50, bq.and_then(|b| b.length.tokens.p50)),
        class: class_of(findings, t, &["output_tokens", "output_chars", "length"]),
    });
    for (set, c) in &q.classification {
        if let Some(acc) = c.accuracy {
            rows.push(MetricRow {
                metric: format!("classification accuracy ({set})"),
                value: format!("{} ({}/{})", pct(acc.value), acc.count, acc.n),
                interval: interval(acc.ci),
                baseline: bq
                    .and_then(|b| b.classification.get(set))
                    .and_then(|b| b.accuracy)
                    .map(|b| pct(b.value))
                    .unwrap_or_default(),
                change: String::new(),
                class: class_of(findings, t, &["accuracy", "classification"]),
            });
        }
    }
    // Tone and output character (issue 13).
    if let Some(tone) = &q.tone {
        rows.extend(tone_rows(
            tone,
            bq.and_then(|b| b.tone.as_ref()),
            findings,
            t,
        ));
    }
    rows
}

fn case_view(
    c: &CaseSummary,
    samples: Vec<SampleView>,
    retrieval: Option<RetrievalView>,
) -> CaseView {
    let f = &c.figures;
    CaseView {
        id: format!("{}/{}", c.set, c.id),
        status: if c.too_few_samples && c.status == crate::summary::CaseStatus::Pass {
            "pass (too few samples)".to_string()
        } else {
            c.status.as_str().to_string()
        },
        pass_rate: format!("{} ({}/{})", pct(f.pass_rate), f.passes, f.samples),
        interval: interval(c.ci),
        min_pass_rate: pct(c.min_pass_rate),
        latency_p50: ms(f.latency_ms.p50),
        reason: c.failing_reason.clone().unwrap_or_default(),
        scorers: c
            .scores
            .iter()
            .map(|(name, s)| ScorerLine {
                scorer: name.clone(),
                pass_rate: if s.informational {
                    format!("{} (informational)", pct(s.pass_rate))
                } else {
                    pct(s.pass_rate)
                },
                reason: s.failing_reason.clone().unwrap_or_default(),
            })
            .collect(),
        samples,
        retrieval,
    }
}

/// The cases of two sides (a gate's candidate and baseline, or a run and its baseline
/// run) side by side; a case the first does worse on is marked.
fn side_by_side(
    title: &str,
    candidate: &str,
    cand: &StoredTarget,
    baseline: &str,
    basel: &StoredTarget,
) -> SideBySide {
    let by_id: BTreeMap<(&str, &str), &CaseSummary> = basel
        .cases
        .iter()
        .map(|c| ((c.set.as_str(), c.id.as_str()), c))
        .collect();
    let rate = |c: &CaseSummary| {
        format!(
            "{} ({}/{})",
            pct(c.figures.pass_rate),
            c.figures.passes,
            c.figures.samples
        )
    };
    SideBySide {
        title: title.to_string(),
        candidate: candidate.to_string(),
        baseline: baseline.to_string(),
        cases: cand
            .cases
            .iter()
            .map(|c| {
                let b = by_id.get(&(c.set.as_str(), c.id.as_str()));
                let worse = b.is_some_and(|b| c.figures.pass_rate < b.figures.pass_rate);
                PairRow {
                    id: format!("{}/{}", c.set, c.id),
                    candidate: rate(c),
                    candidate_status: c.status.as_str().to_string(),
                    baseline: b.map(|b| rate(b)).unwrap_or_else(|| "—".to_string()),
                    baseline_status: b.map(|b| b.status.as_str().to_string()).unwrap_or_default(),
                    class: if worse { "warning" } else { "" }.to_string(),
                }
            })
            .collect(),
    }
}

fn finding_row(f: &Finding) -> FindingRow {
    FindingRow {
        severity: f.severity.as_str().to_string(),
        kind: serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        target: f.target.clone(),
        metric: match &f.case {
            Some(case) => format!("{} ({case})", f.metric),
            None => f.metric.clone(),
        },
        message: without_severity(&f.message, f.severity).to_string(),
        test: f.test.clone().unwrap_or_default(),
        statistic: num(f.statistic),
        p: p_value(f.p),
        p_adjusted: p_value(f.p_adjusted),
        effect: num(f.effect),
        min_effect: num(f.min_effect),
    }
}

fn estimate(e: &crate::compare::Estimate) -> String {
    match e.n {
        Some(n) => format!("{:.4} (n={n})", e.value),
        None => format!("{:.4}", e.value),
    }
}

fn test_row(t: &TestRecord) -> TestRow {
    TestRow {
        metric: t.metric.clone(),
        test: t.test.clone(),
        baseline: estimate(&t.baseline),
        current: estimate(&t.current),
        effect: format_effect(t.effect_kind, t.effect),
        min_effect: format_effect(t.effect_kind, t.min_effect),
        p: p_value(Some(t.p)),
        p_adjusted: p_value(Some(t.p_adjusted)),
        decision: serde_json::to_value(t.decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        class: t
            .severity
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

fn undecided_row(u: &Undecided) -> UndecidedRow {
    UndecidedRow {
        metric: u.label.clone(),
        effect: format_effect(u.effect_kind, u.effect),
        min_effect: format_effect(u.effect_kind, u.min_effect),
        p_adjusted: p_value(Some(u.p_adjusted)),
        needed: u
            .samples_needed
            .map(|n| format!("{n} {} per side", u.per))
            .unwrap_or_else(|| "—".to_string()),
    }
}

/// A duration as people say it: `42 s`, `3 min`, `5 h`, `2 days`.
pub(super) fn age(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", s / 60),
        7_200..172_800 => format!("{} h", s / 3_600),
        _ => format!("{} days", s / 86_400),
    }
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "none".to_string();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The alerts opened or resolved between this run's start and the next run's: after_run
/// changes incidents right after the run it judged.
pub(super) fn alerts_between(
    incidents: &[IncidentRecord],
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Vec<AlertLine> {
    let within = |t: DateTime<Utc>| t >= from && until.is_none_or(|u| t < u);
    let mut lines = Vec::new();
    for i in incidents {
        if within(i.opened_at) {
            lines.push(AlertLine {
                change: if i.firing || i.notified_at.is_some() {
                    "opened (firing)"
                } else {
                    "opened (pending)"
                }
                .to_string(),
                severity: i.severity.clone(),
                rule: i.rule.clone(),
                summary: i.summary.clone(),
            });
        } else if i.notified_at.is_some_and(within) {
            lines.push(AlertLine {
                change: "firing".to_string(),
                severity: i.severity.clone(),
                rule: i.rule.clone(),
                summary: i.summary.clone(),
            });
        }
        if i.resolved_at.is_some_and(within) {
            lines.push(AlertLine {
                change: "resolved".to_string(),
                severity: i.severity.clone(),
                rule: i.rule.clone(),
                summary: i.summary.clone(),
            });
        }
    }
    lines
}

fn verdict_label(v: &str) -> String {
    match v {
        "insufficient_data" => "INSUFFICIENT DATA".to_string(),
        other => other.to_uppercase(),
    }
}

fn evidence_of(stored: Option<&Value>, target: &str) -> Option<Evidence> {
    stored.and_then(|s| crate::pipeline::target_evidence(s, target))
}

/// The view of stored run `run` (an id, a unique prefix or suffix, or `latest`), with a
/// trend over up to `trend_runs` of the probe's runs up to it.
pub fn run_view(store: &Store, run: &str, trend_runs: usize) -> Result<RunView, HtmlError> {
    let record = store.run(run)?;
    let id = record.id.clone();
    let doc = match &record.summary {
        Some(doc) if doc.get("run_id").is_some() => doc.clone(),
        _ => return Err(HtmlError::Unfinished { run: id }),
    };
    let targets = stored_targets(&id, &doc)?;
    let mut findings: Vec<Finding> = serde_json::from_value(doc["findings"].clone())
        .map_err(|e| corrupt(&id, "its findings", e))?;
    // Most severe first; the pipeline's order within a severity is kept.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let base = doc.get("baseline").filter(|b| !b.is_null());
    let tests: Vec<TestRecord> = base
        .and_then(|b| serde_json::from_value(b["tests"].clone()).ok())
        .unwrap_or_default();
    let undecided: Vec<Undecided> = base
        .and_then(|b| serde_json::from_value(b["undecided"].clone()).ok())
        .unwrap_or_default();
    let base_source = base
        .and_then(|b| b["source"].as_str())
        .unwrap_or("")
        .to_string();
    let base_target = base
        .and_then(|b| b["target"].as_str())
        .unwrap_or("")
        .to_string();
    let base_run_id = base.and_then(|b| b["run_id"].as_str()).map(str::to_string);
    let gate_pair = targets.len() > 1 && targets.iter().any(|t| t.summary.target == base_target);

    // The baseline's summary and evidence: the other target of this run (a gate against a
    // target), or the baseline run, while it is still stored.
    let evidence = store.evidence(&id)?;
    let base_record = match (&base_run_id, gate_pair) {
        (Some(b), false) => store.run(b).ok().filter(|r| r.id == *b),
        _ => None,
    };
    // The baseline run's own target (its summary and cases), when it is still stored.
    let base_run_target: Option<StoredTarget> = base_record.as_ref().and_then(|r| {
        r.summary.as_ref().and_then(|d| {
            stored_targets(&r.id, d).ok().and_then(|ts| {
                let n = ts.len();
                ts.into_iter()
                    .find(|t| t.summary.target == base_target || n == 1)
            })
        })
    });
    let (base_summary, base_evidence): (Option<RunSummary>, Option<Evidence>) = if gate_pair {
        (
            targets
                .iter()
                .find(|t| t.summary.target == base_target)
                .map(|t| t.summary.clone()),
            evidence_of(evidence.as_ref(), &base_target),
        )
    } else if let Some(r) = &base_record {
        let ev = store.evidence(&r.id)?;
        (
            base_run_target.as_ref().map(|t| t.summary.clone()),
            evidence_of(ev.as_ref(), &base_target),
        )
    } else {
        (None, None)
    };

    let mut walked = walk(store, &record)?;
    let started = record.started_at;
    let finished = record.finished_at.unwrap_or(started);

    // Facts.
    let primary = targets.first();
    let mut facts = vec![
        Fact {
            label: "probe".into(),
            value: record.probe.clone(),
        },
        Fact {
            label: "run".into(),
            value: id.clone(),
        },
    ];
    for t in &targets {
        let info = t.info.as_ref();
        let role = if gate_pair {
            if t.summary.target == base_target {
                " (baseline)"
            } else {
                " (candidate)"
            }
        } else {
            ""
        };
        facts.push(Fact {
            label: format!("target{role}"),
            value: match info {
                Some(i) => format!("{} · {} · {}", i.name, i.provider, i.model),
                None => t.summary.target.clone(),
            },
        });
        facts.push(Fact {
            label: "labels".into(),
            value: labels_text(&info.map(|i| i.labels.clone()).unwrap_or_default()),
        });
        let models = walked
            .models
            .get(&t.summary.target)
            .map(|m| {
                m.iter()
                    .map(|(name, n)| format!("{name} ({n} answers)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        facts.push(Fact {
            label: "model reported".into(),
            value: if models.is_empty() {
                "none reported".into()
            } else {
                models
            },
        });
    }
    facts.push(Fact {
        label: "started".into(),
        value: started.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    });
    facts.push(Fact {
        label: "duration".into(),
        value: format!(
            "{:.1} s",
            (finished - started).num_milliseconds() as f64 / 1000.0
        ),
    });
    if let Some(p) = primary {
        let f = &p.summary.figures;
        facts.push(Fact {
            label: "samples".into(),
            value: format!(
                "{} over {} cases ({} answered, {} skipped by the budget)",
                f.samples,
                p.cases.len(),
                f.answered,
                f.skipped_budget
            ),
        });
        facts.push(Fact {
            label: "requests".into(),
            value: format!("{} ({} retries)", f.requests, f.retries),
        });
        let budget = doc["budget"]["max_cost_usd"].as_f64();
        facts.push(Fact {
            label: "cost".into(),
            value: match (budget, cost_per_case(&p.summary, p.cases.len())) {
                (Some(b), Some(c)) => format!(
                    "{} of a {} budget ({} per case)",
                    format_usd(f.cost_usd),
                    format_usd(b),
                    format_usd(c)
                ),
                (None, Some(c)) => {
                    format!("{} ({} per case)", format_usd(f.cost_usd), format_usd(c))
                }
                _ => format_usd(f.cost_usd),
            },
        });
    }
    let mut baseline_note = None;
    if base.is_some() {
        let mut value = base_source.clone();
        if let Some(b) = &base_run_id {
            value.push_str(&format!(" · run {b}"));
        }
        if !base_target.is_empty() {
            value.push_str(&format!(" · target {base_target}"));
        }
        facts.push(Fact {
            label: "baseline".into(),
            value,
        });
        facts.push(Fact {
            label: "baseline age".into(),
            value: match &base_record {
                Some(r) => format!("{} before this run", age(record.started_at - r.started_at)),
                None if gate_pair => "probed in this run, interleaved case by case".into(),
                None => "unknown (its run is not in this store)".into(),
            },
        });
        if let Some(why) = base.and_then(|b| b["insufficient_data"].as_str()) {
            baseline_note = Some(format!("insufficient data: {why}"));
        }
    } else {
        facts.push(Fact {
            label: "baseline".into(),
            value: "none".into(),
        });
    }
    facts.push(Fact {
        label: "trace id".into(),
        value: record.trace_id.clone(),
    });

    // Targets.
    let views: Vec<TargetView> = targets
        .iter()
        .map(|t| {
            let name = &t.summary.target;
            let is_base = gate_pair && *name == base_target;
            // The baseline target is compared with nothing; the others with the baseline.
            let b = if is_base { None } else { base_summary.as_ref() };
            let mut failing = walked.failing.remove(name).unwrap_or_default();
            let mut retrieval = walked.retrieval.remove(name).unwrap_or_default();
            let mut cases: Vec<CaseView> = t
                .cases
                .iter()
                .map(|c| {
                    let key = format!("{}/{}", c.set, c.id);
                    let samples = failing.remove(&key).unwrap_or_default();
                    case_view(c, samples, retrieval.remove(&key))
                })
                .collect();
            // Failing cases first, then the order of the golden sets.
            cases.sort_by_key(|c| match c.status.as_str() {
                "fail" | "error" => 0,
                "flaky" => 1,
                "skipped" => 2,
                _ => 3,
            });
            let failing_cases = cases
                .iter()
                .filter(|c| !c.status.starts_with("pass"))
                .count();
            let mut ops = operations(&t.summary, b, &findings);
            if let Some(c) = cost_per_case(&t.summary, t.cases.len()) {
                ops.push(MetricRow {
                    metric: "cost per case".to_string(),
                    value: format_usd(c),
                    interval: String::new(),
                    baseline: String::new(),
                    change: String::new(),
                    class: String::new(),
                });
            }
            TargetView {
                name: name.clone(),
                role: if !gate_pair {
                    String::new()
                } else if is_base {
                    "baseline".to_string()
                } else {
                    "candidate".to_string()
                },
                model: t.info.as_ref().map(|i| i.model.clone()).unwrap_or_default(),
                operations: ops,
                errors: walked
                    .errors
                    .get(name)
                    .map(|m| {
                        m.iter()
                            .map(|(class, (count, example))| ErrorRow {
                                class: class.clone(),
                                count: *count,
                                example: example.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                quality: quality(&t.summary, b, &findings),
                cases,
                failing_cases,
                by_label: super::by_label::rows(&t.summary),
                time: super::components::time_view(&t.summary, b, &findings),
            }
        })
        .collect();

    let candidate = targets.iter().find(|t| t.summary.target != base_target);
    let paired = targets.iter().find(|t| t.summary.target == base_target);
    let side_by_side = match (
        gate_pair,
        candidate,
        paired,
        &base_run_target,
        targets.first(),
    ) {
        (true, Some(cand), Some(basel), _, _) => Some(side_by_side(
            "Candidate and baseline, case by case",
            &format!("{} (candidate)", cand.summary.target),
            cand,
            &format!("{} (baseline)", basel.summary.target),
            basel,
        )),
        // Against a promoted run (a gate's `--baseline latest`, or any run): the cases of
        // this run beside the baseline run's.
        (false, _, _, Some(basel), Some(this)) => Some(side_by_side(
            "This run and the baseline run, case by case",
            &format!("this run ({})", this.summary.target),
            this,
            &format!(
                "baseline run {} ({})",
                base_run_id.as_deref().unwrap_or(""),
                basel.summary.target
            ),
            basel,
        )),
        _ => None,
    };

    // Charts: this run's distributions over the baseline's, and the probe's trend.
    let primary_name = primary
        .map(|t| t.summary.target.clone())
        .unwrap_or_default();
    let current_evidence = evidence_of(evidence.as_ref(), &primary_name);
    let dist = Distributions::from_evidence(current_evidence.as_ref(), base_evidence.as_ref());
    let trend: Vec<Point> = points(store, &record.probe, trend_runs.max(1), Some(&record))?;
    // The alerts this run opened or resolved: its own point's.
    let alerts = trend
        .last()
        .filter(|p| p.run_id == record.id)
        .map(|p| p.alerts.clone())
        .unwrap_or_default();
    let charts = charts::draw(&dist, &trend, Some(&id));

    let verdict = doc["verdict"].as_str().unwrap_or("unknown").to_string();
    let status = doc["status"].as_str().unwrap_or(&record.status).to_string();
    let top: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity > Severity::Info || f.kind == FindingKind::Inconclusive)
        .collect();
    Ok(RunView {
        title: format!("{} · {} · {}", record.probe, verdict_label(&verdict), id),
        version: env!("CARGO_PKG_VERSION"),
        run_id: id,
        probe: record.probe.clone(),
        verdict_label: verdict_label(&verdict),
        verdict,
        status,
        status_reason: doc["status_reason"].as_str().map(str::to_string),
        gate: gate_pair,
        top_findings: top
            .iter()
            .take(BANNER_FINDINGS)
            .map(|f| {
                format!(
                    "{}: {}",
                    f.severity.as_str(),
                    without_severity(&f.message, f.severity)
                )
            })
            .collect(),
        more_findings: top.len().saturating_sub(BANNER_FINDINGS),
        alerts,
        facts,
        targets: views,
        side_by_side,
        findings: findings.iter().map(finding_row).collect(),
        tests: tests.iter().map(test_row).collect(),
        undecided: undecided.iter().map(undecided_row).collect(),
        baseline_note,
        notes: doc["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        charts,
        sequential: crate::report::sequential::html_view(&doc),
    })
}

/// Tone and output character (issue 13): `quality.tone` as rows, each with its baseline.
fn tone_rows(
    tone: &crate::score::tone::summary::ToneSummary,
    base: Option<&crate::score::tone::summary::ToneSummary>,
    findings: &[Finding],
    target: &str,
) -> Vec<MetricRow> {
    use crate::score::tone::summary::{MeanCi, ToneSummary};
    type MeanOf = fn(&ToneSummary) -> Option<MeanCi>;
    type RateOf = fn(&ToneSummary) -> Option<Rate>;
    let mut rows = Vec::new();
    let means: [(&str, &[&str], MeanOf, bool); 5] = [
        (
            "sentiment (VADER, −1..1)",
            &["sentiment"],
            |t| t.sentiment,
            false,
        ),
        ("hedging sentences", &["hedging"], |t| t.hedging, true),
        (
            "exclaiming sentences",
            &["exclamation"],
            |t| t.exclamation,
            true,
        ),
        ("ALL-CAPS words", &["all_caps"], |t| t.caps, true),
        (
            "reading grade (Flesch–Kincaid)",
            &["reading_grade"],
            |t| t.reading_grade,
            false,
        ),
    ];
    for (label, names, of, share) in means {
        let Some(m) = of(tone) else { continue };
        let b = base.and_then(of);
        let show = |v: f64| if share { pct(v) } else { format!("{v:.2}") };
        rows.push(MetricRow {
            metric: label.to_string(),
            value: format!("{} (n={})", show(m.value), m.n),
            interval: m
                .ci
                .map(|[lo, hi]| format!("{} – {}", show(lo), show(hi)))
                .unwrap_or_default(),
            baseline: b.map(|b| show(b.value)).unwrap_or_default(),
            change: if share {
                points_change(Some(m.value), b.map(|b| b.value), 100.0, " pts")
            } else {
                points_change(Some(m.value), b.map(|b| b.value), 1.0, "")
            },
            class: class_of(findings, target, names),
        });
    }
    let rates: [(&str, &[&str], RateOf); 8] = [
        ("answers outside expect.tone", &["tone_fail"], |t| {
            t.expect_fail
        }),
        (
            "answers in the wrong language",
            &["language_mismatch"],
            |t| t.language_mismatch,
        ),
        ("hedging answers", &["hedging"], |t| t.hedged_answers),
        ("exclaiming answers", &["exclamation"], |t| {
            t.exclaiming_answers
        }),
        ("all-caps answers", &["all_caps"], |t| t.all_caps_answers),
        ("Markdown use", &["markdown"], |t| t.markdown),
        ("list use", &["list"], |t| t.list),
        ("code-fence use", &["code_fence"], |t| t.code_fence),
    ];
    for (label, names, of) in rates {
        let Some(r) = of(tone) else { continue };
        let b = base.and_then(of);
        rows.push(MetricRow {
            metric: label.to_string(),
            value: format!("{} ({}/{})", pct(r.value), r.count, r.n),
            interval: interval(r.ci),
            baseline: b.map(|b| pct(b.value)).unwrap_or_default(),
            change: points_change(Some(r.value), b.map(|b| b.value), 100.0, " pts"),
            class: class_of(findings, target, names),
        });
    }
    let languages = |t: &ToneSummary| {
        t.languages
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    rows.push(MetricRow {
        metric: "languages".to_string(),
        value: languages(tone),
        interval: String::new(),
        baseline: base.map(languages).unwrap_or_default(),
        change: String::new(),
        class: String::new(),
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_outputs_are_cut_with_a_note() {
        let (kept, note) = cut(&"é".repeat(10), 4);
        assert_eq!(kept, "éééé");
        assert!(note.contains("4 of 10"), "{note}");
        assert_eq!(cut("short", 10), ("short".to_string(), String::new()));
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(chrono::TimeDelta::seconds(42)), "42 s");
        assert_eq!(age(chrono::TimeDelta::minutes(30)), "30 min");
        assert_eq!(age(chrono::TimeDelta::hours(5)), "5 h");
        assert_eq!(age(chrono::TimeDelta::days(3)), "3 days");
    }
}
