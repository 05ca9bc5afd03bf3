//! The summary of a run: per target and per case — requests, errors by class, error rate
//! with a Wilson 95% interval, latency and TTFT percentiles, tokens, cost, throughput, pass
//! rates and the quality metrics — plus the `Evidence` a comparison needs. Folded from the
//! observation stream one attempt at a time, so memory stays flat however long the run.

mod by_label;
pub mod components;
mod evidence;
mod facts;
mod latency;
mod measures;
mod paired;
mod totals;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use by_label::{ByLabel, LabelFigures, LabelTotals};
pub use components::{ComponentSummary, ComponentTotals};
pub use evidence::{
    ATTEMPT_ERROR, CaseOutcome, Evidence, EvidenceBuilder, RESERVOIR_CAP, Vocabulary,
};
pub use facts::Facts;
pub use latency::{LatencyHistogram, Percentiles};
pub use measures::{CONTINUOUS, Measures, RATES, measure};
pub use paired::{Flips, PairBuilder, Pairs};
pub use totals::{Count, Mean, ScorerTally, ScoringUsage, Totals};

use crate::golden::Case;
use crate::runner::Observation;
use crate::score::Score;
use crate::stats::wilson;

/// Confidence of every interval reported.
pub const CONFIDENCE: f64 = 0.95;

/// A rate with its Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub value: f64,
    pub ci: [f64; 2],
    /// Events counted.
    pub count: u64,
    /// Out of.
    pub n: u64,
}

impl Rate {
    pub fn of(count: u64, n: u64) -> Option<Rate> {
        (n > 0).then(|| {
            let (lo, hi) = wilson(count, n, CONFIDENCE);
            Rate {
                value: count as f64 / n as f64,
                ci: [lo, hi],
                count,
                n,
            }
        })
    }
    fn from(c: Count) -> Option<Rate> {
        Rate::of(c.events, c.n)
    }
}

/// A mean score and how many answers it averages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanScore {
    pub value: f64,
    pub n: u64,
}

fn mean_score(m: Mean) -> Option<MeanScore> {
    m.value().map(|value| MeanScore { value, n: m.n })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// p50 / p95 / mean of output length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthDistribution {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub mean: Option<f64>,
}

fn length(h: &LatencyHistogram) -> LengthDistribution {
    let p = h.percentiles();
    LengthDistribution {
        p50: p.p50,
        p95: p.p95,
        mean: p.mean,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Length {
    pub tokens: LengthDistribution,
    pub chars: LengthDistribution,
}

/// Classification accuracy of one golden set, with its confusion table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub accuracy: Option<Rate>,
    /// expected label → predicted label → count.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Run-level quality; `None` (JSON `null`) where no case asks for the metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub format_compliance: Option<Rate>,
    pub over_refusal: Option<Rate>,
    pub under_refusal: Option<Rate>,
    pub hallucination: Option<Rate>,
    pub grounding_support: Option<MeanScore>,
    /// Mean ROUGE-L F against `reference` answers.
    pub similarity: Option<MeanScore>,
    /// Mean embedding cosine for `similar:` expectations.
    pub cosine: Option<MeanScore>,
    pub judge_pass: Option<Rate>,
    pub truncation: Option<Rate>,
    pub empty_answer: Option<Rate>,
    pub safety_flags: Option<Rate>,
    pub length: Length,
    /// Per golden set with `one_of` + `label` cases.
    pub classification: BTreeMap<String, Classification>,
    /// Tone and output character (issue 13); `null` when no answer was described.
    #[serde(default)]
    pub tone: Option<crate::score::tone::summary::ToneSummary>,
    // retrieval relevance (RAG): `null` where no case has context passages.
    /// Answers whose retrieval returned no passage.
    #[serde(default)]
    pub empty_retrieval: Option<Rate>,
    /// Answers whose retrieval returned passages, none of them relevant (below
    /// `retrieval.min_relevance`); empty retrievals are not counted here.
    #[serde(default)]
    pub irrelevant_retrieval: Option<Rate>,
    /// Mean RAGAS context precision (rank-weighted share of relevant passages).
    #[serde(default)]
    pub context_precision: Option<MeanScore>,
    /// Mean passages returned per answer.
    #[serde(default)]
    pub passages: Option<MeanScore>,
}

/// How a case did over its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Pass rate at least `min_pass_rate`.
    Pass,
    /// Some samples passed, not enough.
    Flaky,
    /// No sample passed.
    Fail,
    /// No sample was answered.
    Error,
    /// No sample was sent (budget).
    Skipped,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Pass => "pass",
            CaseStatus::Flaky => "flaky",
            CaseStatus::Fail => "fail",
            CaseStatus::Error => "error",
            CaseStatus::Skipped => "skipped",
        }
    }
}

/// One scorer over a case's (or run's) samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerSummary {
    pub pass_rate: f64,
    pub n: u64,
    /// Recorded, not part of pass/fail.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub informational: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mean_value: Option<f64>,
    /// The reason of one failing sample.
    pub failing_reason: Option<String>,
}

/// Figures shared by a run and a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Samples sent (their last attempt counts).
    pub samples: u64,
    /// Samples that got an answer.
    pub answered: u64,
    pub skipped_budget: u64,
    pub retries: u64,
    /// Samples whose last attempt failed, by class.
    pub errors: BTreeMap<String, u64>,
    /// Every failed attempt, including retried ones, by class.
    pub attempt_errors: BTreeMap<String, u64>,
    /// Failed attempts (retried ones included) over attempts sent, with its Wilson
    /// interval: retries that hide a failing server show here ("13% of attempts failed"
    /// while `error_rate` is 0). `null` when nothing was sent.
    #[serde(default)]
    pub attempt_error_rate: Option<Rate>,
    /// The same, per error class.
    #[serde(default)]
    pub attempt_error_rates: BTreeMap<String, Rate>,
    pub error_rate: f64,
    pub error_rate_ci: [f64; 2],
    pub latency_ms: Percentiles,
    pub ttft_ms: Percentiles,
    /// Tokens of the probed endpoint and of scoring calls together.
    pub tokens: Tokens,
    /// Cost of the probed endpoint and of scoring calls together.
    pub cost_usd: f64,
    /// The judge's and embeddings' share of `tokens` and `cost_usd`.
    pub scoring: ScoringUsage,
    /// Samples that passed every check: carried, so that nothing rebuilds it from
    /// `pass_rate × samples` (runs stored before it was carried read 0).
    #[serde(default)]
    pub passes: u64,
    /// Share of samples (errors included) that passed every check.
    pub pass_rate: f64,
    pub pass_rate_ci: [f64; 2],
    /// Time the target was paused at its server's request (`Retry-After` on 429 / 503),
    /// in ms: filled in from the runner's report.
    #[serde(default)]
    pub rate_limited_ms: u64,
    // issue 13, latency by component
    /// Where the answered samples' time went, per component (`summary::components`).
    #[serde(default)]
    pub components: BTreeMap<String, ComponentSummary>,
}

/// The summary of one target in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub target: String,
    #[serde(flatten)]
    pub figures: Figures,
    pub requests_per_second: f64,
    /// Mean over cases of the share of passing samples.
    pub pass_at_1: Option<f64>,
    /// Share of cases whose every sample passed.
    pub pass_pow_n: Option<f64>,
    pub quality: Quality,
    /// Per label key and value of the observations (`feature` → `document-analysis` →
    /// requests, cost, tokens, latency, pass rate): empty, and left out of the document,
    /// when no probe, golden set or case has `labels:`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_label: ByLabel,
}

/// The summary of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    pub set: String,
    pub target: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// `pass_rate` and its interval, under the names reports use for cases.
    pub ci: [f64; 2],
    pub status: CaseStatus,
    pub min_pass_rate: f64,
    pub pass_at_1: Option<f64>,
    /// 1 when every sample passed, else 0 (pass^N with N = the samples taken).
    pub pass_pow_n: Option<f64>,
    /// Fewer answered samples than the probe's `min_samples`: too little to judge.
    pub too_few_samples: bool,
    /// `scorer: reason` of one failing sample.
    pub failing_reason: Option<String>,
    pub scores: BTreeMap<String, ScorerSummary>,
}

fn figures(t: &Totals) -> Figures {
    let errored = t.errored();
    let (elo, ehi) = wilson(errored, t.samples, CONFIDENCE);
    let (plo, phi) = wilson(t.passes, t.samples, CONFIDENCE);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let by_class = |m: &BTreeMap<crate::provider::ErrorClass, u64>| {
        m.iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect()
    };
    let failed_attempts: u64 = t.attempt_errors.values().sum();
    Figures {
        attempt_error_rate: Rate::of(failed_attempts, t.requests),
        attempt_error_rates: t
            .attempt_errors
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), Rate::of(*v, t.requests)?)))
            .collect(),
        requests: t.requests,
        samples: t.samples,
        answered: t.answered,
        skipped_budget: t.skipped_budget,
        retries: t.retries,
        errors: by_class(&t.errors),
        attempt_errors: by_class(&t.attempt_errors),
        error_rate: ratio(errored, t.samples),
        error_rate_ci: [elo, ehi],
        latency_ms: t.latency.percentiles(),
        ttft_ms: t.ttft.percentiles(),
        tokens: Tokens {
            input: t.input_tokens,
            output: t.output_tokens,
        },
        cost_usd: t.cost_usd,
        scoring: t.scoring,
        passes: t.passes,
        pass_rate: ratio(t.passes, t.samples),
        pass_rate_ci: [plo, phi],
        rate_limited_ms: 0,
        components: t.components.summary(),
    }
}

fn scorer_summaries(t: &Totals) -> BTreeMap<String, ScorerSummary> {
    t.scorers
        .iter()
        .map(|(name, s)| {
            let summary = ScorerSummary {
                pass_rate: if s.result.n == 0 {
                    0.0
                } else {
                    s.result.events as f64 / s.result.n as f64
                },
                n: s.result.n,
                informational: s.informational,
                mean_value: s.value.value(),
                failing_reason: s.failing_reason.clone(),
            };
            (name.clone(), summary)
        })
        .collect()
}

struct CaseAcc {
    case: Case,
    /// `set/case`, the key of evidence and pairs.
    key: String,
    target: String,
    totals: Totals,
}

struct TargetAcc {
    name: String,
    totals: Totals,
    evidence: EvidenceBuilder,
    /// Per golden set, classification tallies.
    confusion: BTreeMap<String, Totals>,
    /// Per label key and value (`summary.by_label`).
    labels: LabelTotals,
}

/// Folds observations into summaries and evidence, per target.
pub struct Accumulator {
    targets: Vec<TargetAcc>,
    /// Indexed by (target index, case index), in plan order.
    cases: Vec<CaseAcc>,
    /// target → set → case id → index into `cases`; looked up by `&str`, without allocating.
    case_index: HashMap<String, HashMap<String, HashMap<String, usize>>>,
    min_samples: u32,
    /// With exactly two targets: the first is the candidate, the second its baseline.
    pairs: Option<PairBuilder>,
}

impl Accumulator {
    /// `seed` makes the evidence reservoirs reproducible (derive it from the run id).
    pub fn new(cases: &[Case], targets: &[String], min_samples: u32, seed: u64) -> Self {
        let mut acc = Accumulator {
            targets: targets
                .iter()
                .enumerate()
                .map(|(i, name)| TargetAcc {
                    name: name.clone(),
                    totals: Totals::default(),
                    evidence: EvidenceBuilder::new(seed.wrapping_add(i as u64)),
                    confusion: BTreeMap::new(),
                    labels: LabelTotals::default(),
                })
                .collect(),
            cases: Vec::new(),
            case_index: HashMap::new(),
            min_samples,
            pairs: (targets.len() == 2).then(PairBuilder::default),
        };
        for target in targets {
            for case in cases {
                acc.case_index
                    .entry(target.clone())
                    .or_default()
                    .entry(case.set.clone())
                    .or_default()
                    .insert(case.id.clone(), acc.cases.len());
                acc.cases.push(CaseAcc {
                    case: case.clone(),
                    key: format!("{}/{}", case.set, case.id),
                    target: target.clone(),
                    totals: Totals::default(),
                });
            }
        }
        acc
    }

    /// Counts one attempt with its scores (`None` until scored, or for errors).
    pub fn add(&mut self, obs: &Observation, scores: Option<&[Score]>) {
        let found = self
            .case_index
            .get(obs.target.as_str())
            .and_then(|sets| sets.get(obs.set.as_str()))
            .and_then(|ids| ids.get(obs.case_id.as_str()));
        let Some(&i) = found else {
            return;
        };
        let Some(target) = self.targets.iter_mut().find(|t| t.name == obs.target) else {
            return;
        };
        let case = &mut self.cases[i];
        let scores = scores.unwrap_or(&[]);
        let facts = (obs.is_ok() && obs.final_attempt).then(|| Facts::of(&case.case, obs, scores));
        case.totals.add(obs, facts.as_ref(), scores);
        target.totals.add(obs, facts.as_ref(), scores);
        target.labels.add(obs, facts.as_ref(), scores);
        if facts.as_ref().is_some_and(|f| f.label.is_some()) {
            target
                .confusion
                .entry(case.case.set.clone())
                .or_default()
                .add(obs, facts.as_ref(), &[]);
        }
        target
            .evidence
            .add(&case.key, case.case.min_pass_rate, obs, facts.as_ref());
        if let (Some(pairs), Some(m)) = (self.pairs.as_mut(), measure(obs, facts.as_ref())) {
            let side = usize::from(obs.target != self.targets[0].name);
            pairs.add(&case.key, obs.sample, side, m);
        }
    }

    /// Issue 15 (sequential gate): keep completed pairs for [`Accumulator::take_fresh_pairs`];
    /// false when the run has no pairs (not two targets).
    pub fn keep_fresh_pairs(&mut self) -> bool {
        self.pairs.as_mut().map(PairBuilder::keep_fresh).is_some()
    }

    /// The pairs (sample, baseline, candidate) completed since the last call.
    pub fn take_fresh_pairs(&mut self) -> Vec<(u32, Measures, Measures)> {
        self.pairs
            .as_mut()
            .map(PairBuilder::take_fresh)
            .unwrap_or_default()
    }

    /// The summaries (one per target, in the given order), their cases and evidence, and —
    /// with two targets — the pairs of the first (candidate) against the second.
    pub fn finish(self, elapsed: Duration) -> (Vec<TargetResult>, Option<Pairs>) {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let Accumulator {
            targets,
            cases,
            min_samples,
            pairs,
            ..
        } = self;
        let mut case_summaries: BTreeMap<String, Vec<CaseSummary>> = BTreeMap::new();
        for c in cases {
            let figures = figures(&c.totals);
            let t = &c.totals;
            let status = if t.samples == 0 {
                CaseStatus::Skipped
            } else if t.answered == 0 {
                CaseStatus::Error
            } else if figures.pass_rate >= c.case.min_pass_rate - 1e-12 {
                CaseStatus::Pass
            } else if t.passes > 0 {
                CaseStatus::Flaky
            } else {
                CaseStatus::Fail
            };
            let summary = CaseSummary {
                id: c.case.id.clone(),
                set: c.case.set.clone(),
                target: c.target.clone(),
                ci: figures.pass_rate_ci,
                status,
                min_pass_rate: c.case.min_pass_rate,
                pass_at_1: (t.samples > 0).then_some(figures.pass_rate),
                pass_pow_n: (t.samples > 0).then_some(if t.passes == t.samples {
                    1.0
                } else {
                    0.0
                }),
                too_few_samples: t.answered < u64::from(min_samples),
                failing_reason: t.first_failure.clone(),
                scores: scorer_summaries(t),
                figures,
            };
            case_summaries
                .entry(c.target.clone())
                .or_default()
                .push(summary);
        }
        let results = targets
            .into_iter()
            .map(|t| {
                let cases = case_summaries.remove(&t.name).unwrap_or_default();
                let with_samples: Vec<&CaseSummary> =
                    cases.iter().filter(|c| c.figures.samples > 0).collect();
                let mean_over = |f: fn(&CaseSummary) -> Option<f64>| {
                    let values: Vec<f64> = with_samples.iter().filter_map(|c| f(c)).collect();
                    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
                };
                let tt = &t.totals;
                let quality = Quality {
                    format_compliance: Rate::from(tt.format),
                    over_refusal: Rate::from(tt.over_refusal),
                    under_refusal: Rate::from(tt.under_refusal),
                    hallucination: Rate::from(tt.hallucination),
                    grounding_support: mean_score(tt.support),
                    similarity: mean_score(tt.similarity),
                    cosine: mean_score(tt.cosine),
                    judge_pass: Rate::from(tt.judge),
                    truncation: Rate::from(tt.truncation),
                    empty_answer: Rate::from(tt.empty),
                    safety_flags: Rate::from(tt.safety),
                    length: Length {
                        tokens: length(&tt.length_tokens),
                        chars: length(&tt.length_chars),
                    },
                    classification: t
                        .confusion
                        .iter()
                        .map(|(set, totals)| {
                            let (right, all) =
                                totals
                                    .confusion
                                    .iter()
                                    .fold((0, 0), |(r, a), (expected, row)| {
                                        (
                                            r + row.get(expected).copied().unwrap_or(0),
                                            a + row.values().sum::<u64>(),
                                        )
                                    });
                            (
                                set.clone(),
                                Classification {
                                    accuracy: Rate::of(right, all),
                                    confusion: totals.confusion.clone(),
                                },
                            )
                        })
                        .collect(),
                    // Tone and output character (issue 13).
                    tone: tt.tone.summary(),
                    // retrieval relevance (RAG)
                    empty_retrieval: Rate::from(tt.empty_retrieval),
                    irrelevant_retrieval: Rate::from(tt.irrelevant_retrieval),
                    context_precision: mean_score(tt.context_precision),
                    passages: mean_score(tt.passages),
                };
                let summary = RunSummary {
                    target: t.name.clone(),
                    figures: figures(tt),
                    requests_per_second: tt.requests as f64 / seconds,
                    pass_at_1: mean_over(|c| c.pass_at_1),
                    pass_pow_n: mean_over(|c| c.pass_pow_n),
                    quality,
                    by_label: t.labels.finish(),
                };
                TargetResult {
                    summary,
                    cases,
                    evidence: t.evidence.finish(),
                }
            })
            .collect();
        (results, pairs.map(PairBuilder::finish))
    }
}

/// Everything summarised about one target of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    pub summary: RunSummary,
    pub cases: Vec<CaseSummary>,
    pub evidence: Evidence,
}
