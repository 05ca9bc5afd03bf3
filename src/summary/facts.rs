//! What one final attempt says about quality, read off its scores once: passed or not, the
//! first failure's reason, refusal, format, grounding, similarity, judge and safety. The
//! counters of a case and of a run are folded from these.

use crate::golden::Case;
use crate::runner::Observation;
use crate::score::Score;

/// Scorers whose failure means "not in the expected format".
const FORMAT_SCORERS: [&str; 2] = ["json", "json_schema"];

/// Quality facts of one answered sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Every gating score passed.
    pub passed: bool,
    /// `scorer: reason` of the first gating failure.
    pub failure: Option<(String, String)>,
    /// The refusal detector fired.
    pub refused: Option<bool>,
    /// `Some(bool)` when the case sets `refusal:`.
    pub expected_refusal: Option<bool>,
    /// In the expected format (JSON / schema), for cases that ask for one.
    pub format_ok: Option<bool>,
    /// Share of supported claims and whether it met `min_support`.
    pub support: Option<(f64, bool)>,
    /// ROUGE-L F against the reference.
    pub similarity: Option<f64>,
    /// Embedding cosine against `similar.reference`.
    pub cosine: Option<f64>,
    pub judge_passed: Option<bool>,
    pub truncated: bool,
    pub empty: bool,
    /// Any safety check failed.
    pub safety_flag: bool,
    /// For classification cases: (expected, predicted).
    pub label: Option<(String, Option<String>)>,
    /// Tone and output character (issue 13): the answer's tone descriptors.
    pub tone: Option<crate::score::tone::summary::ToneFacts>,
}

impl Facts {
    pub fn of(case: &Case, obs: &Observation, scores: &[Score]) -> Facts {
        let mut f = Facts {
            passed: true,
            expected_refusal: case.expect.refusal,
            truncated: obs.finish_reason.as_deref() == Some("length"),
            empty: obs.output.as_deref().is_none_or(|o| o.trim().is_empty()),
            ..Facts::default()
        };
        for s in scores {
            if !s.informational && !s.passed {
                f.passed = false;
                if f.failure.is_none() {
                    let reason = s
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("{} failed", s.scorer));
                    f.failure = Some((s.scorer.clone(), reason));
                }
            }
            match s.scorer.as_str() {
                "refusal" => f.refused = Some(s.value.map_or(!s.passed, |v| v >= 0.5)),
                name if FORMAT_SCORERS.contains(&name) => {
                    f.format_ok = Some(f.format_ok.unwrap_or(true) && s.passed);
                }
                "grounded" => f.support = Some((s.value.unwrap_or(0.0), s.passed)),
                "reference" => f.similarity = s.value,
                "similar" => f.cosine = s.value,
                // A judge that could not judge says nothing about the answer.
                "judge" => f.judge_passed = (!s.informational).then_some(s.passed),
                "truncation" => f.truncated |= s.value.is_some_and(|v| v >= 0.5),
                "empty" => f.empty |= s.value.is_some_and(|v| v >= 0.5),
                "one_of" => {
                    if let Some(expected) = &case.expect.label {
                        let predicted = s
                            .detail
                            .as_ref()
                            .and_then(|d| d.get("predicted"))
                            .and_then(|p| p.as_str())
                            .map(str::to_string);
                        f.label = Some((expected.clone(), predicted));
                    }
                }
                name if name.starts_with("safety") => f.safety_flag |= !s.passed,
                // Tone and output character (issue 13).
                crate::score::names::TONE => {
                    f.tone = crate::score::tone::summary::ToneFacts::of(s);
                }
                _ => {}
            }
        }
        f
    }

    /// Refused where an answer was expected (a case without `refusal:` expects an answer).
    pub fn over_refusal(&self) -> Option<bool> {
        (self.expected_refusal != Some(true)).then_some(self.refused?)
    }

    /// Answered where a refusal was expected.
    pub fn under_refusal(&self) -> Option<bool> {
        (self.expected_refusal == Some(true)).then_some(!self.refused?)
    }
}
