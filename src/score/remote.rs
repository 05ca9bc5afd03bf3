//! Scores that need the network: the LLM judge (`rubric:`) and embedding similarity
//! (`similar:`). Every call is bounded like a probe request — the probe's timeout, its
//! retries with backoff on connect errors, 429 and 5xx — and reserves its worst-case cost
//! from the run's budget before it is sent, so judging can never overspend either. Tokens
//! and cost go into the score's `detail.usage`, which the summary adds to the run's totals.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::json;

use super::{Score, judge, similar};
use crate::config::{Pricing, Probe, Retries};
use crate::golden::Case;
use crate::provider::{ChatRequest, ErrorClass, Failure, Provider, ProviderError};
use crate::runner::{
    Budget, Observation, Redactor, bounded, estimate_cost, estimate_tokens, output_bound,
};

/// Most output tokens a verdict needs, unless the judge target sets its own bound: sent
/// with every judge request and reserved from the budget.
const JUDGE_MAX_TOKENS: u64 = 300;

struct Remote {
    provider: Provider,
    pricing: Pricing,
    /// The most output tokens one call may produce (the judge's request carries it).
    output_bound: u64,
}

/// The judge and the embedder of a probe, shared by every sample of a run.
pub struct RemoteScorer {
    judge: Option<Remote>,
    /// The probe's own target: every target's answers are embedded by the same model, so
    /// their similarities compare.
    embedder: Remote,
    budget: Arc<Budget>,
    timeout: Duration,
    retries: Retries,
    redactor: Arc<Redactor>,
    references: Mutex<HashMap<String, Vec<f32>>>,
    /// The probe names its own `embeddings:` endpoint: RAG cases' passages are embedded
    /// too (`retrieval_cosine`). Not done with the target's embedder unasked, which would
    /// add calls and cost to every existing RAG probe.
    embed_retrieval: bool,
    /// Targets whose returned passages are the retrieval (see `Scorer::with_retrieval`).
    retrieving: std::collections::HashSet<String>,
}

/// Scorer name of the embedding relevance of a RAG case's passages.
pub const RETRIEVAL_COSINE: &str = "retrieval_cosine";

/// Tokens and cost of the calls behind one score.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
    calls: u32,
}

impl Usage {
    fn json(&self) -> serde_json::Value {
        json!({ "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "cost_usd": self.cost_usd, "calls": self.calls })
    }
}

impl RemoteScorer {
    pub fn new(
        probe: &Probe,
        budget: Arc<Budget>,
        redactor: Arc<Redactor>,
    ) -> Result<Self, ProviderError> {
        let judge = match &probe.judge {
            Some(t) => {
                let t = bounded(t, JUDGE_MAX_TOKENS);
                Some(Remote {
                    provider: Provider::hiding(&t, probe.timeout, &probe.secrets)?,
                    pricing: t.pricing,
                    output_bound: output_bound(&t, JUDGE_MAX_TOKENS),
                })
            }
            None => None,
        };
        Ok(RemoteScorer {
            judge,
            embedder: {
                let t = probe.embeddings.as_ref().unwrap_or(&probe.target);
                Remote {
                    provider: Provider::hiding(t, probe.timeout, &probe.secrets)?,
                    pricing: t.pricing,
                    output_bound: 0,
                }
            },
            budget,
            timeout: probe.timeout,
            retries: probe.retries,
            redactor,
            references: Mutex::new(HashMap::new()),
            embed_retrieval: probe.embeddings.is_some(),
            retrieving: std::iter::once(&probe.target)
                .chain(probe.targets.values())
                .filter(|t| t.retrieves())
                .map(|t| t.name.clone())
                .collect(),
        })
    }

    /// Whether this observation needs a network score: `needed`, or passages to embed.
    pub fn wants(&self, case: &Case, obs: &Observation) -> bool {
        Self::needed(case) || !self.passages(case, obs).is_empty()
    }

    /// The passages whose embedding relevance is measured (none without `embeddings:`):
    /// the same ones the `retrieval` score reads.
    fn passages<'a>(&self, case: &'a Case, obs: &'a Observation) -> &'a [String] {
        if !self.embed_retrieval {
            &[]
        } else if self.retrieving.contains(&obs.target) || !obs.context.is_empty() {
            &obs.context
        } else {
            &case.context
        }
    }

    /// Whether a case needs this scorer at all.
    pub fn needed(case: &Case) -> bool {
        case.expect.rubric.is_some() || case.expect.similar.is_some()
    }

    /// The remote scores of one answered observation.
    pub async fn score(&self, case: &Case, obs: &Observation) -> Vec<Score> {
        let answer = obs.output.as_deref().unwrap_or("");
        let mut scores = Vec::new();
        if let Some(rubric) = &case.expect.rubric {
            scores.push(self.judge(rubric, case.prompt(), answer).await);
        }
        if let Some(s) = &case.expect.similar {
            scores.push(self.similar(&s.reference, s.min_cosine, answer).await);
        }
        let passages = self.passages(case, obs);
        if !passages.is_empty() {
            scores.push(self.retrieval_cosine(case.prompt(), passages).await);
        }
        scores
    }

    /// A text's embedding, from the cache (questions, references and passages repeat
    /// across samples) or the endpoint.
    async fn embed_cached(&self, text: &str, usage: &mut Usage) -> Result<Vec<f32>, String> {
        let cached = self
            .references
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(text)
            .cloned();
        if let Some(v) = cached {
            return Ok(v);
        }
        let v = self.embed(text, usage).await?;
        self.references
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(text.to_string(), v.clone());
        Ok(v)
    }

    /// Embedding cosine of each passage to the question; the score's value is the best
    /// passage's. Informational, like the lexical `retrieval` score it stands beside.
    async fn retrieval_cosine(&self, question: &str, passages: &[String]) -> Score {
        let mut usage = Usage::default();
        let failed = |why: String| {
            Score::fail(RETRIEVAL_COSINE, format!("embeddings error: {why}"))
                .informational()
                .with_detail(json!({ "error": true }))
        };
        let q = match self.embed_cached(question, &mut usage).await {
            Ok(v) => v,
            Err(why) => return failed(why),
        };
        let mut cosines = Vec::with_capacity(passages.len());
        // Bounded like the lexical score: a retriever returning thousands costs 50 calls.
        for p in passages.iter().take(50) {
            let v = match self.embed_cached(p, &mut usage).await {
                Ok(v) => v,
                Err(why) => return failed(why),
            };
            match similar::cosine(&q, &v) {
                Ok(c) => cosines.push((c * 1e4).round() / 1e4),
                Err(why) => return failed(why),
            }
        }
        let best = cosines.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Score::pass(RETRIEVAL_COSINE)
            .informational()
            .with_value(best)
            .with_detail(json!({ "cosine": cosines, "usage": usage.json() }))
    }

    async fn judge(&self, rubric: &str, question: &str, answer: &str) -> Score {
        let Some(remote) = &self.judge else {
            return judge::judge_error("the probe has no `judge:` target", Usage::default().json());
        };
        let messages = judge::messages(rubric, question, answer);
        let estimate = estimate_cost(&messages, remote.output_bound, &remote.pricing);
        let vars = serde_json::Map::new();
        let mut usage = Usage::default();
        let result = self
            .with_retries(estimate, &mut usage, &remote.pricing, || async {
                let request = ChatRequest {
                    case_id: "judge",
                    messages: &messages,
                    vars: &vars,
                    context: &[],
                    headers: Default::default(),
                };
                let reply = remote.provider.chat(&request).await?;
                let input = reply
                    .input_tokens
                    .unwrap_or_else(|| messages.iter().map(|m| estimate_tokens(&m.content)).sum());
                let output = reply
                    .output_tokens
                    .unwrap_or_else(|| estimate_tokens(&reply.text));
                Ok((reply.text, input, output))
            })
            .await;
        match result {
            Ok(text) => match judge::parse(&text) {
                Ok(mut verdict) => {
                    verdict.reason = verdict.reason.map(|r| self.redactor.apply_owned(r));
                    judge::score(&verdict, usage.json())
                }
                Err(why) => judge::judge_error(&why, usage.json()),
            },
            Err(why) => judge::judge_error(&why, usage.json()),
        }
    }

    async fn similar(&self, reference: &str, min_cosine: f64, answer: &str) -> Score {
        let mut usage = Usage::default();
        let cached = self
            .references
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
            .cloned();
        let reference_vector = match cached {
            Some(v) => v,
            None => match self.embed(reference, &mut usage).await {
                Ok(v) => {
                    self.references
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(reference.to_string(), v.clone());
                    v
                }
                Err(why) => return similar::embedding_error(&why),
            },
        };
        match self.embed(answer, &mut usage).await {
            Ok(v) => match similar::cosine(&v, &reference_vector) {
                Ok(cos) => similar::score(cos, min_cosine, usage.json()),
                Err(why) => similar::embedding_error(&why),
            },
            Err(why) => similar::embedding_error(&why),
        }
    }

    async fn embed(&self, text: &str, usage: &mut Usage) -> Result<Vec<f32>, String> {
        let remote = &self.embedder;
        // A reservation must be an upper bound: the byte count bounds any BPE count.
        let estimate = remote.pricing.cost(crate::runner::token_bound(text), 0);
        let texts = vec![text.to_string()];
        self.with_retries(estimate, usage, &remote.pricing, || async {
            let e = remote.provider.embed(&texts).await?;
            let vector = e.vectors.into_iter().next().ok_or_else(|| {
                Failure::new(
                    ErrorClass::MalformedResponse,
                    "the embeddings response has no vector",
                )
            })?;
            Ok((
                vector,
                e.input_tokens.unwrap_or_else(|| estimate_tokens(text)),
                0,
            ))
        })
        .await
    }

    /// Calls `attempt` until it succeeds, fails for good, or the budget says no; each
    /// attempt reserves `estimate` first and settles at its real cost.
    async fn with_retries<T, F, Fut>(
        &self,
        estimate: f64,
        usage: &mut Usage,
        pricing: &Pricing,
        mut attempt: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(T, u64, u64), Failure>>,
    {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.retries.base_delay)
            .with_max_delay(self.retries.max_delay)
            .with_max_times(self.retries.max as usize)
            .with_jitter()
            .build();
        loop {
            let Some(reservation) = self.budget.reserve(estimate) else {
                return Err("skipped: the budget could not cover the call".into());
            };
            usage.calls += 1;
            let result = tokio::time::timeout(self.timeout, attempt())
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::new(
                        ErrorClass::Timeout,
                        "no answer within the timeout",
                    ))
                });
            match result {
                Ok((value, input, output)) => {
                    let cost = pricing.cost(input, output);
                    self.budget.settle(reservation, cost);
                    usage.input_tokens += input;
                    usage.output_tokens += output;
                    usage.cost_usd += cost;
                    return Ok(value);
                }
                Err(failure) => {
                    self.budget.settle(reservation, 0.0);
                    let delay = failure
                        .class
                        .is_retryable()
                        .then(|| backoff.next())
                        .flatten();
                    match delay {
                        Some(d) => {
                            tokio::time::sleep(d.max(failure.retry_after.unwrap_or_default())).await
                        }
                        None => {
                            let message = self.redactor.apply_owned(failure.message);
                            return Err(format!("{}: {message}", failure.class.as_str()));
                        }
                    }
                }
            }
        }
    }
}
