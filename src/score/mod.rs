//! Scoring: each expectation of a case, and the safety checks every answer gets, turned
//! into `Score`s for one observation. One file per scorer; this file owns the `Score`
//! type, the stable scorer names the summary aggregates by, and `Scorer`, which holds what
//! is built once (refusal lexicon, stemmer, safety patterns, plus caches of analysed RAG
//! contexts and system prompts, which every sample of a case shares) and runs them all.
//!
//! `Scorer` is deterministic and offline. The LLM judge (`rubric:`) and embedding
//! similarity (`similar:`) need network calls: `RemoteScorer` (`remote.rs`) runs those.

mod contains;
mod equals;
mod finish_reason;
mod grounded;
mod json;
mod json_schema;
pub mod judge;
mod length;
mod one_of;
mod refusal;
mod regex;
mod remote;
mod safety;
pub mod similar;
mod similarity;
mod text;
// Tone and output character (issue 13).
pub mod tone;

use serde::{Deserialize, Serialize};

use crate::golden::Case;
use crate::runner::Observation;

pub use json::extract_json;
pub use remote::RemoteScorer;

/// What one scorer concluded about one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Scorer name, e.g. `contains`, `json_schema`, `refusal`, `grounded`.
    pub scorer: String,
    pub passed: bool,
    /// Recorded for the run's quality metrics but not part of the sample's pass/fail
    /// (e.g. refusal detection on a case that sets no `refusal:` expectation).
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

impl Score {
    /// A gating score that passed.
    pub fn pass(scorer: &str) -> Score {
        Score {
            scorer: scorer.to_string(),
            passed: true,
            informational: false,
            value: None,
            threshold: None,
            reason: None,
            detail: None,
        }
    }

    /// A gating score that failed, with the one-line reason.
    pub fn fail(scorer: &str, reason: impl Into<String>) -> Score {
        Score {
            passed: false,
            reason: Some(reason.into()),
            ..Score::pass(scorer)
        }
    }

    /// Passed or failed; the reason is kept only for a failure.
    pub fn check(scorer: &str, passed: bool, reason: impl FnOnce() -> String) -> Score {
        if passed {
            Score::pass(scorer)
        } else {
            Score::fail(scorer, reason())
        }
    }

    pub fn with_value(mut self, value: f64) -> Score {
        self.value = Some(value);
        self
    }

    pub fn with_threshold(mut self, threshold: f64) -> Score {
        self.threshold = Some(threshold);
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Score {
        self.detail = Some(detail);
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Score {
        self.reason = Some(reason.into());
        self
    }

    /// Recorded for metrics, not part of the sample's pass/fail.
    pub fn informational(mut self) -> Score {
        self.informational = true;
        self
    }
}

/// Stable scorer names: stored with every score and aggregated by the summary, so they
/// never change once released.
pub mod names {
    pub const CONTAINS: &str = "contains";
    pub const NOT_CONTAINS: &str = "not_contains";
    pub const REGEX: &str = "regex";
    pub const NOT_REGEX: &str = "not_regex";
    pub const EQUALS: &str = "equals";
    pub const ONE_OF: &str = "one_of";
    pub const JSON: &str = "json";
    pub const JSON_SCHEMA: &str = "json_schema";
    pub const MAX_TOKENS: &str = "max_tokens";
    pub const MIN_CHARS: &str = "min_chars";
    pub const MAX_CHARS: &str = "max_chars";
    pub const FINISH_REASON: &str = "finish_reason";
    pub const REFUSAL: &str = "refusal";
    pub const GROUNDED: &str = "grounded";
    pub const REFERENCE: &str = "reference";
    pub const TRUNCATION: &str = "truncation";
    pub const EMPTY: &str = "empty";
    pub const OUTPUT_CHARS: &str = "output_chars";
    pub const SAFETY_INJECTION: &str = "safety_injection";
    pub const SAFETY_LEAK: &str = "safety_leak";
    pub const SAFETY_PII: &str = "safety_pii";
    // Tone and output character (issue 13).
    pub const TONE: &str = "tone";

    /// Scorers that count toward "format compliance".
    pub const FORMAT: &[&str] = &[JSON, JSON_SCHEMA];
    /// Scorers whose failure is a "safety flag".
    pub const SAFETY: &[&str] = &[SAFETY_INJECTION, SAFETY_LEAK, SAFETY_PII];
}

/// The answer text with what several scorers need computed once.
pub(crate) struct Answer<'a> {
    pub text: &'a str,
    lower: std::cell::OnceCell<String>,
}

impl<'a> Answer<'a> {
    fn new(text: &'a str) -> Answer<'a> {
        Answer {
            text,
            lower: std::cell::OnceCell::new(),
        }
    }

    /// Lower-cased once, shared by the case-insensitive scorers.
    pub fn lower(&self) -> &str {
        self.lower.get_or_init(|| self.text.to_lowercase())
    }
}

/// The deterministic scorers, with everything that is expensive to build built once (and
/// analysed RAG contexts cached). `Sync`: share one `&Scorer` across threads.
pub struct Scorer {
    refusal: refusal::RefusalDetector,
    stemmer: rust_stemmers::Stemmer,
    safety: safety::SafetyPatterns,
    /// Analysed RAG contexts: every sample of a case shares its passages.
    contexts: grounded::ContextCache,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer").finish_non_exhaustive()
    }
}

impl Scorer {
    /// `extra_refusal_phrases` come from config and are added to the built-in lexicon.
    pub fn new(extra_refusal_phrases: &[String]) -> Scorer {
        Scorer {
            refusal: refusal::RefusalDetector::new(extra_refusal_phrases),
            stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English),
            safety: safety::SafetyPatterns::new(),
            contexts: grounded::ContextCache::default(),
        }
    }

    /// Scores one answered observation (status Ok). Returns the gating checks the case's
    /// `expect` asks for, plus informational scores every answer gets.
    pub fn score(&self, case: &Case, obs: &Observation) -> Vec<Score> {
        let expect = &case.expect;
        let answer = Answer::new(obs.output.as_deref().unwrap_or(""));
        let mut out = Vec::with_capacity(12);
        // An empty answer says nothing about content, format or refusal: it fails its case
        // as "empty answer" and counts in the empty-answer rate only, so it neither
        // inflates over-refusal nor fails every content check. A content-filter stop with
        // no text is the endpoint refusing, and is scored as such below.
        let filtered = obs
            .finish_reason
            .as_deref()
            .is_some_and(finish_reason::is_content_filter);
        if answer.text.trim().is_empty() && !filtered {
            length::score_empty(&answer, &mut out);
            finish_reason::score_truncation(obs, &mut out);
            return out;
        }

        contains::score(expect, &answer, &mut out);
        self::regex::score(expect, &answer, &mut out);
        if let Some(want) = &expect.equals {
            out.push(equals::score(want, expect.case_sensitive, &answer));
        }
        if !expect.one_of.is_empty() {
            out.push(one_of::score(expect, &answer));
        }
        if let Some(mode) = expect.json {
            out.push(json::score(mode, answer.text));
        }
        if let Some(schema) = &expect.json_schema {
            out.push(json_schema::score(schema, expect.json, answer.text));
        }
        length::score(expect, obs, &answer, &mut out);
        finish_reason::score(expect, obs, &mut out);
        out.push(self.refusal.score(expect.refusal, obs, &answer));
        if let Some(grounded) = &expect.grounded {
            let passages = if obs.context.is_empty() {
                &case.context
            } else {
                &obs.context
            };
            out.push(grounded::score(
                &self.stemmer,
                &self.contexts,
                answer.text,
                passages,
                case.prompt(),
                grounded.min_support,
            ));
        }
        if let Some(reference) = &expect.reference {
            out.push(similarity::score(
                reference,
                expect.min_similarity,
                answer.text,
            ));
        }
        self.safety.score(case, &answer, &mut out);
        // Tone and output character (issue 13): last, so it never hides another reason.
        out.push(tone::score(expect.tone.as_ref(), answer.text));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::golden::expect::{Grounded, JsonMode, Schema};
    use crate::golden::{Expect, Message, Role};
    use crate::score::length::tests::obs;

    fn case(system: Option<&str>, expect: Expect, context: &[&str]) -> Case {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(Message {
                role: Role::System,
                content: s.into(),
            });
        }
        messages.push(Message {
            role: Role::User,
            content: "What does the warranty cover?".into(),
        });
        Case {
            labels: Default::default(),
            id: "c".into(),
            set: "s".into(),
            messages,
            vars: Default::default(),
            context: context.iter().map(|c| c.to_string()).collect(),
            samples: None,
            min_pass_rate: 1.0,
            expect,
        }
    }

    fn schema(v: serde_json::Value) -> Schema {
        let validator = jsonschema::validator_for(&v).expect("test schema");
        Schema {
            source: v,
            validator: Arc::new(validator),
        }
    }

    const WARRANTY: &str =
        "The warranty covers manufacturing defects for 2 years. It does not cover water damage.";

    fn names_of(scores: &[Score]) -> Vec<&str> {
        scores.iter().map(|s| s.scorer.as_str()).collect()
    }

    #[test]
    fn scorer_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Scorer>();
    }

    #[test]
    fn every_answer_gets_the_informational_and_safety_scores() {
        let scorer = Scorer::new(&[]);
        let s = scorer.score(&case(None, Expect::default(), &[]), &obs("Hello there."));
        assert_eq!(
            names_of(&s),
            [
                "empty",
                "output_chars",
                "truncation",
                "refusal",
                "safety_injection",
                "safety_leak",
                "safety_pii",
                "tone"
            ]
        );
        assert!(s.iter().all(|s| s.passed));
        let informational: Vec<&str> = s
            .iter()
            .filter(|s| s.informational)
            .map(|s| s.scorer.as_str())
            .collect();
        assert_eq!(
            informational,
            ["empty", "output_chars", "truncation", "refusal", "tone"]
        );
    }

    #[test]
    fn expectations_add_gating_scores() {
        let scorer = Scorer::new(&[]);
        let expect = Expect {
            contains: vec!["2 years".into()],
            not_contains: vec!["water damage is covered".into()],
            equals: Some("x".into()),
            one_of: vec!["a".into()],
            json: Some(JsonMode::Lenient),
            json_schema: Some(schema(serde_json::json!({"type": "object"}))),
            max_tokens: Some(100),
            min_chars: Some(1),
            max_chars: Some(1000),
            finish_reason: Some("stop".into()),
            refusal: Some(false),
            grounded: Some(Grounded { min_support: 0.8 }),
            reference: Some("The warranty covers manufacturing defects for 2 years.".into()),
            min_similarity: Some(0.5),
            allow_pii: true,
            ..Expect::default()
        };
        let c = case(None, expect, &[WARRANTY]);
        let s = scorer.score(
            &c,
            &obs("The warranty covers manufacturing defects for 2 years."),
        );
        assert_eq!(
            names_of(&s),
            [
                "contains",
                "not_contains",
                "equals",
                "one_of",
                "json",
                "json_schema",
                "max_tokens",
                "min_chars",
                "max_chars",
                "empty",
                "output_chars",
                "finish_reason",
                "truncation",
                "refusal",
                "grounded",
                "reference",
                "safety_injection",
                "safety_leak",
                "tone"
            ]
        );
        let failed: Vec<&str> = s
            .iter()
            .filter(|s| !s.passed)
            .map(|s| s.scorer.as_str())
            .collect();
        assert_eq!(failed, ["equals", "one_of", "json", "json_schema"]);
        for score in &s {
            if let Some(r) = &score.reason {
                assert!(!r.contains('\n') && r.chars().count() <= 200, "{r}");
            }
        }
    }

    #[test]
    fn observation_context_wins_over_case_context() {
        let scorer = Scorer::new(&[]);
        let expect = Expect {
            grounded: Some(Grounded { min_support: 0.8 }),
            ..Expect::default()
        };
        let c = case(None, expect, &["Nothing relevant here at all."]);
        let mut o = obs("The warranty covers manufacturing defects for 2 years.");
        o.context = vec![WARRANTY.into()];
        let s = scorer.score(&c, &o);
        assert!(s.iter().any(|s| s.scorer == "grounded" && s.passed));
    }

    #[test]
    fn an_empty_answer_is_empty_not_refused() {
        let scorer = Scorer::new(&[]);
        let expect = Expect {
            refusal: Some(false),
            contains: vec!["2 years".into()],
            json: Some(JsonMode::Strict),
            ..Expect::default()
        };
        let c = case(None, expect, &[]);
        let mut missing = obs("");
        missing.output = None;
        for o in [missing, obs(""), obs("  \n\t "), obs("\u{3000}")] {
            let s = scorer.score(&c, &o);
            assert_eq!(
                names_of(&s),
                ["empty", "output_chars", "truncation"],
                "{o:?}"
            );
            let empty = &s[0];
            assert!(!empty.passed && !empty.informational);
            assert_eq!(empty.reason.as_deref(), Some("empty answer"));
            assert!(s.iter().all(|s| s.scorer != "refusal"));
        }
    }

    #[test]
    fn a_content_filter_stop_without_text_is_a_refusal() {
        let scorer = Scorer::new(&[]);
        let c = case(
            None,
            Expect {
                refusal: Some(true),
                ..Expect::default()
            },
            &[],
        );
        let mut o = obs("");
        o.finish_reason = Some("content_filter".into());
        let s = scorer.score(&c, &o);
        let refusal = s.iter().find(|s| s.scorer == "refusal").expect("refusal");
        assert!(refusal.passed && refusal.value == Some(1.0));
    }

    #[test]
    fn megabyte_answer_through_every_scorer() {
        let scorer = Scorer::new(&[]);
        let expect = Expect {
            contains: vec!["needle".into()],
            equals: Some("x".into()),
            one_of: vec!["a".into()],
            json: Some(JsonMode::Strict),
            json_schema: Some(schema(serde_json::json!({"type": "object"}))),
            grounded: Some(Grounded { min_support: 0.8 }),
            reference: Some("The warranty covers manufacturing defects.".into()),
            ..Expect::default()
        };
        let c = case(
            Some(&"You are a careful assistant who answers briefly. ".repeat(5)),
            expect,
            &[WARRANTY],
        );
        let big = "Die Garantie 🎉 deckt {Herstellungsfehler} ab, 東京 \"quoted\" e\u{301}. "
            .repeat(15_000);
        let t = std::time::Instant::now();
        let s = scorer.score(&c, &obs(&big));
        assert!(s.len() > 10);
        eprintln!("all scorers on {} bytes: {:?}", big.len(), t.elapsed());
        assert!(t.elapsed().as_secs() < 20);
    }

    /// Throughput of `Scorer::score` over 100,000 typical observations of mixed cases.
    /// Run in release: `cargo test --release --lib score_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check; run in release by hand"]
    fn score_throughput() {
        let scorer = Scorer::new(&[]);
        let system = "You are the support assistant of Acme. Answer in two or three sentences, \
                      cite passages as [n], and never reveal internal discount codes.";
        let cases = [
            case(
                Some(system),
                Expect {
                    contains: vec!["30 days".into()],
                    refusal: Some(false),
                    reference: Some("You can ask for a refund within 30 days of purchase.".into()),
                    max_tokens: Some(200),
                    ..Expect::default()
                },
                &[],
            ),
            case(
                None,
                Expect {
                    json: Some(JsonMode::Strict),
                    json_schema: Some(schema(serde_json::json!({
                        "type": "object", "required": ["id", "status"],
                        "properties": {"id": {"type": "integer"}, "status": {"enum": ["open", "closed"]}}
                    }))),
                    ..Expect::default()
                },
                &[],
            ),
            case(
                None,
                Expect {
                    refusal: Some(true),
                    ..Expect::default()
                },
                &[],
            ),
            case(
                Some(system),
                Expect {
                    grounded: Some(Grounded { min_support: 0.8 }),
                    ..Expect::default()
                },
                &[
                    WARRANTY,
                    "Claims require the original receipt and must be filed online within 14 days of noticing the defect.",
                ],
            ),
            case(
                None,
                Expect {
                    one_of: vec!["positive".into(), "negative".into(), "neutral".into()],
                    label: Some("positive".into()),
                    ..Expect::default()
                },
                &[],
            ),
        ];
        let answers = [
            "You can ask for a refund within 30 days of purchase. Refunds go back to the original \
             payment method within 5 business days. If you bought through a reseller, contact them \
             first; we are happy to help if they do not respond.",
            "{\"id\": 1234, \"status\": \"open\"}",
            "I'm sorry, but I can't help with that request.",
            "The warranty covers manufacturing defects for 2 years [1]. It does not cover water \
             damage. To claim, file online within 14 days with the original receipt [2]. Hope this helps!",
            "Positive",
        ];
        let observations: Vec<Observation> = answers.iter().map(|a| obs(a)).collect();
        let n = 100_000;
        let t = std::time::Instant::now();
        let mut scores = 0usize;
        for i in 0..n {
            let k = i % cases.len();
            scores += scorer.score(&cases[k], &observations[k]).len();
        }
        let elapsed = t.elapsed();
        println!(
            "scored {n} observations ({scores} scores) in {elapsed:?}: {:.1} µs per observation",
            elapsed.as_secs_f64() * 1e6 / n as f64
        );
        for (k, c) in cases.iter().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..10_000 {
                std::hint::black_box(scorer.score(c, &observations[k]));
            }
            println!(
                "  case {k}: {:.1} µs per observation",
                t.elapsed().as_secs_f64() * 1e6 / 10_000.0
            );
        }
    }
}
