//! Scoring: each expectation of a case, and the safety checks every answer gets, turned
//! into `Score`s for one observation. One file per scorer.

use serde::{Deserialize, Serialize};

/// What one scorer concluded about one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Scorer name, e.g. `contains`, `json_schema`, `refusal`, `grounded`.
    pub scorer: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub informational: bool,
    /// A measured value where the scorer has one (similarity, support share, tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The floor or ceiling `value` was held to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// One line a person can act on, e.g. "answer wrapped in ```json fence".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Structured evidence (matched phrase, unsupported sentences, confusion label, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

pub struct Scorer {}
impl Scorer {
    pub fn new(_extra: &[String]) -> Scorer { Scorer {} }
    pub fn score(&self, _case: &crate::golden::Case, _obs: &crate::runner::Observation) -> Vec<Score> { Vec::new() }
}
