//! `Evidence`: what a comparison needs of a run — the counts behind every rate (oriented so
//! that more events is worse), a bounded uniform sample of every continuous metric, the
//! categorical distributions, and each case's pass count. A baseline file is this plus
//! metadata, so a CI job can gate without a database.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::facts::Facts;
use super::measures::{CONTINUOUS, RATES, measure};
use super::totals::Count;
use crate::runner::Observation;
use crate::stats::Reservoir;

/// The rate of failed attempts (retried ones included) over attempts: not in `RATES`, which
/// are per sample (final attempts) and pairable; per class under `attempt_error/<class>`,
/// each out of every attempt.
pub const ATTEMPT_ERROR: &str = "attempt_error";

/// Most values kept per continuous metric.
pub const RESERVOIR_CAP: usize = 5000;
/// Most distinct words kept of the output vocabulary (the rest pool into one bucket).
pub const VOCABULARY_TOP: usize = 200;

/// The output vocabulary as a unigram distribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Answers counted.
    pub answers: u64,
    /// Words counted.
    pub words: u64,
    /// The most frequent words and their counts.
    pub top: BTreeMap<String, u64>,
    /// Words outside `top`.
    pub other: u64,
}

/// A case's samples and passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    pub samples: u64,
    pub passes: u64,
    /// The case's `min_pass_rate`.
    pub min_pass_rate: f64,
}

impl CaseOutcome {
    /// Whether the case passed over its samples (errors count against it).
    pub fn passed(&self) -> bool {
        self.samples > 0 && self.passes as f64 >= self.min_pass_rate * self.samples as f64 - 1e-9
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub rates: BTreeMap<String, Count>,
    pub continuous: BTreeMap<String, Reservoir>,
    pub finish_reasons: BTreeMap<String, u64>,
    pub vocabulary: Vocabulary,
    /// Keyed `set/case`.
    pub cases: BTreeMap<String, CaseOutcome>,
}

/// Builds `Evidence` from a stream of final attempts.
pub struct EvidenceBuilder {
    evidence: Evidence,
    words: HashMap<String, u64>,
    rng: StdRng,
    // issue 13, latency by component: its own generator, so the other reservoirs keep
    // the samples they kept before components existed.
    component_rng: StdRng,
}

impl EvidenceBuilder {
    /// `seed` makes the reservoirs reproducible for a run (derive it from the run id).
    pub fn new(seed: u64) -> Self {
        let mut evidence = Evidence::default();
        for name in RATES {
            evidence.rates.insert(name.into(), Count::default());
        }
        for name in CONTINUOUS {
            evidence
                .continuous
                .insert(name.into(), Reservoir::new(RESERVOIR_CAP));
        }
        EvidenceBuilder {
            evidence,
            words: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            component_rng: StdRng::seed_from_u64(seed ^ 0x636f_6d70_6f6e_656e),
        }
    }

    /// Adds an attempt: every one sent counts towards the attempt error rate, final ones
    /// towards everything else (skipped ones are ignored).
    pub fn add(
        &mut self,
        case_key: &str,
        min_pass_rate: f64,
        obs: &Observation,
        facts: Option<&Facts>,
    ) {
        if obs.status != crate::runner::Status::SkippedBudget {
            let class = obs.status.error_class();
            let rates = &mut self.evidence.rates;
            rates
                .entry(ATTEMPT_ERROR.to_string())
                .or_default()
                .add(class.is_some());
            if let Some(class) = class {
                rates
                    .entry(format!("{ATTEMPT_ERROR}/{}", class.as_str()))
                    .or_default()
                    .events += 1;
            }
        }
        let Some(m) = measure(obs, facts) else { return };
        for (name, event) in RATES.iter().zip(m.events) {
            if let (Some(e), Some(c)) = (event, self.evidence.rates.get_mut(*name)) {
                c.add(e);
            }
        }
        for (name, value) in CONTINUOUS.iter().zip(m.values) {
            if let (Some(x), Some(r)) = (value, self.evidence.continuous.get_mut(*name)) {
                r.push(x, &mut self.rng);
            }
        }
        if m.events[0] == Some(false) {
            self.add_components(obs);
        }
        let outcome = self.evidence.cases.entry(case_key.to_string()).or_default();
        outcome.samples += 1;
        outcome.min_pass_rate = min_pass_rate;
        // An answered sample passed unless `sample_fail` says otherwise; an error never passes.
        outcome.passes += u64::from(m.events[1] == Some(false));
        if m.events[0] == Some(true) {
            return;
        }
        let reason = obs
            .finish_reason
            .clone()
            .unwrap_or_else(|| "unknown".into());
        *self.evidence.finish_reasons.entry(reason).or_default() += 1;
        self.evidence.vocabulary.answers += 1;
        for word in words(obs.output.as_deref().unwrap_or("")) {
            self.evidence.vocabulary.words += 1;
            // Most words are seen before: count them without allocating.
            match self.words.get_mut(word.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    self.words.insert(word.into_owned(), 1);
                }
            }
        }
    }

    /// issue 13: an answered sample's components, as `component/<name>` continuous
    /// metrics (at most `MAX_COMPONENTS` names).
    fn add_components(&mut self, obs: &Observation) {
        use super::components::{EVIDENCE_PREFIX, MAX_COMPONENTS, compared};
        let Some(timings) = &obs.timings else { return };
        for (name, ms) in compared(timings) {
            let key = format!("{EVIDENCE_PREFIX}{name}");
            let known = self.evidence.continuous.contains_key(&key);
            let count = || {
                self.evidence
                    .continuous
                    .keys()
                    .filter(|k| k.starts_with(EVIDENCE_PREFIX))
                    .count()
            };
            if !known && count() >= MAX_COMPONENTS {
                continue;
            }
            self.evidence
                .continuous
                .entry(key)
                .or_insert_with(|| Reservoir::new(RESERVOIR_CAP))
                .push(ms, &mut self.component_rng);
        }
    }

    pub fn finish(mut self) -> Evidence {
        // Each class's rate is out of every attempt, not only those after its first.
        let attempts = self.evidence.rates.get(ATTEMPT_ERROR).map_or(0, |c| c.n);
        for (name, count) in self.evidence.rates.iter_mut() {
            if name.starts_with(&format!("{ATTEMPT_ERROR}/")) {
                count.n = attempts;
            }
        }
        let mut ranked: Vec<(String, u64)> = self.words.into_iter().collect();
        // Count first, then the word, so ties do not depend on hash order.
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let vocabulary = &mut self.evidence.vocabulary;
        for (i, (word, count)) in ranked.into_iter().enumerate() {
            if i < VOCABULARY_TOP {
                vocabulary.top.insert(word, count);
            } else {
                vocabulary.other += count;
            }
        }
        self.evidence
    }
}

/// Lower-cased words of a text (letters and digits), for the vocabulary.
fn words(text: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.chars().any(char::is_uppercase) {
                std::borrow::Cow::Owned(w.to_lowercase())
            } else {
                std::borrow::Cow::Borrowed(w)
            }
        })
}
