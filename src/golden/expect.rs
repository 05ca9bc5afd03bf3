//! What an answer is expected to do: the `expect` block of a golden case, as written
//! (`RawExpect`) and compiled (`Expect`: regexes built, JSON Schemas compiled). The scorers
//! under `score/` read the compiled form.

use std::sync::Arc;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One string or a list of them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// How strictly an answer must be JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonMode {
    /// The whole answer parses as JSON; a ```json fence is a format failure.
    Strict,
    /// The first JSON value found in the answer is used.
    Lenient,
}

/// `grounded:` — RAG answers must be supported by the context passages.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrounded {
    /// Share of the answer's claims that must be supported by a passage (0..1, default 0.8).
    #[serde(default)]
    pub min_support: Option<f64>,
}

/// `similar:` — embedding similarity to a reference answer.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSimilar {
    /// The answer to compare with.
    pub reference: String,
    /// Minimum cosine similarity of the two embeddings (default 0.8).
    #[serde(default)]
    pub min_cosine: Option<f64>,
}

/// The `expect` block of a golden case, as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Strings the answer must contain.
    #[serde(default)]
    pub contains: Option<OneOrMany>,
    /// Strings the answer must not contain.
    #[serde(default)]
    pub not_contains: Option<OneOrMany>,
    /// Whether `contains` / `not_contains` / `equals` compare case (default false).
    #[serde(default)]
    pub case_sensitive: Option<bool>,
    /// Regular expressions the answer must match.
    #[serde(default)]
    pub regex: Option<OneOrMany>,
    /// Regular expressions the answer must not match.
    #[serde(default)]
    pub not_regex: Option<OneOrMany>,
    /// The whole answer, after trimming and collapsing whitespace (and case, unless case_sensitive).
    #[serde(default)]
    pub equals: Option<String>,
    /// Classification labels: the answer must be one of them.
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    /// The expected label among `one_of` (accuracy and a confusion table are reported).
    #[serde(default)]
    pub label: Option<String>,
    /// `strict` (the whole answer is JSON) or `lenient` (the first JSON value in it).
    #[serde(default)]
    pub json: Option<JsonMode>,
    /// A JSON Schema (draft 2020-12, no remote refs) the answer's JSON must satisfy.
    #[serde(default)]
    pub json_schema: Option<serde_json::Value>,
    /// Most output tokens the answer may use.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Fewest characters the answer may have.
    #[serde(default)]
    pub min_chars: Option<usize>,
    /// Most characters the answer may have.
    #[serde(default)]
    pub max_chars: Option<usize>,
    /// Expected finish reason, e.g. `stop` (a `length` stop is truncation).
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// `true`: the model must refuse; `false`: it must answer.
    #[serde(default)]
    pub refusal: Option<bool>,
    /// The answer must be supported by the case's context passages.
    #[serde(default)]
    pub grounded: Option<RawGrounded>,
    /// A reference answer, compared by token F1 and ROUGE-L.
    #[serde(default)]
    pub reference: Option<String>,
    /// Minimum ROUGE-L F against `reference` for the answer to pass (default: not gated).
    #[serde(default)]
    pub min_similarity: Option<f64>,
    /// Embedding similarity to a reference, from the target's embeddings endpoint.
    #[serde(default)]
    pub similar: Option<RawSimilar>,
    /// A rubric for the LLM judge (the probe's `judge` target).
    #[serde(default)]
    pub rubric: Option<String>,
    /// Allow PII-like strings (emails, phone numbers, card numbers, keys) in the answer.
    #[serde(default)]
    pub allow_pii: Option<bool>,
    /// Bounds on the answer's tone: `{ sentiment_min: 0, language: en, max_reading_grade: 10 }`.
    #[serde(default)]
    pub tone: Option<RawTone>,
}

/// `grounded`, compiled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grounded {
    pub min_support: f64,
}

/// `similar`, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    pub reference: String,
    pub min_cosine: f64,
}

/// A compiled JSON Schema and its source (kept for reports and the simulator).
#[derive(Clone)]
pub struct Schema {
    pub source: serde_json::Value,
    pub validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schema({})", self.source)
    }
}

/// `tone:` — bounds on how the answer sounds (sentiment, language, reading level).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTone {
    /// Lowest VADER compound sentiment (-1..1) the answer may have, e.g. 0: not negative.
    #[serde(default)]
    pub sentiment_min: Option<f64>,
    /// ISO 639-1 code of the language the answer must be in, e.g. `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// Highest Flesch–Kincaid grade the answer may read at, e.g. 10.
    #[serde(default)]
    pub max_reading_grade: Option<f64>,
}

impl RawTone {
    /// `self`'s keys, and `defaults`' where `self` sets none (a case's over its set's).
    pub fn or(self, defaults: &RawTone) -> RawTone {
        RawTone {
            sentiment_min: self.sentiment_min.or(defaults.sentiment_min),
            language: self.language.or_else(|| defaults.language.clone()),
            max_reading_grade: self.max_reading_grade.or(defaults.max_reading_grade),
        }
    }
}

/// `tone`, compiled: the language checked against the codes the detector knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tone {
    pub sentiment_min: Option<f64>,
    pub language: Option<String>,
    pub max_reading_grade: Option<f64>,
}

/// The expectations of a case, compiled and checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    pub case_sensitive: bool,
    pub regex: Vec<Regex>,
    pub not_regex: Vec<Regex>,
    pub equals: Option<String>,
    pub one_of: Vec<String>,
    pub label: Option<String>,
    pub json: Option<JsonMode>,
    pub json_schema: Option<Schema>,
    pub max_tokens: Option<u64>,
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    pub finish_reason: Option<String>,
    pub refusal: Option<bool>,
    pub grounded: Option<Grounded>,
    pub reference: Option<String>,
    pub min_similarity: Option<f64>,
    pub similar: Option<Similar>,
    pub rubric: Option<String>,
    pub allow_pii: bool,
    /// `tone:` of the case, or of its set's `expect:` defaults.
    pub tone: Option<Tone>,
}

/// Default share of supported claims for `grounded`.
pub const DEFAULT_MIN_SUPPORT: f64 = 0.8;
/// Default cosine floor for `similar`.
pub const DEFAULT_MIN_COSINE: f64 = 0.8;
