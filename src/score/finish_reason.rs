//! `finish_reason` (gating, when the case expects one) and the informational `truncation`
//! every answer gets. Providers spell a length stop differently (OpenAI `length`,
//! Anthropic `max_tokens`); both are truncation.

use super::{Score, names};
use crate::golden::Expect;
use crate::runner::Observation;

/// The endpoint stopped because it ran out of tokens: the answer is cut short.
pub(super) fn is_truncation(reason: &str) -> bool {
    reason.eq_ignore_ascii_case("length") || reason.eq_ignore_ascii_case("max_tokens")
}

/// The endpoint's filter withheld or cut the answer.
pub(super) fn is_content_filter(reason: &str) -> bool {
    reason.eq_ignore_ascii_case("content_filter") || reason.eq_ignore_ascii_case("refusal")
}

pub(super) fn score(expect: &Expect, obs: &Observation, out: &mut Vec<Score>) {
    let got = obs.finish_reason.as_deref();
    if let Some(want) = &expect.finish_reason {
        let passed = got.is_some_and(|g| {
            g.eq_ignore_ascii_case(want) || (is_truncation(g) && is_truncation(want))
        });
        out.push(
            Score::check(names::FINISH_REASON, passed, || {
                // The expectation is quoted like the endpoint's value: one line, bounded.
                let want = super::text::excerpt(want, 40);
                match got {
                    Some(g) if is_truncation(g) => "stopped for length (truncated)".to_string(),
                    Some(g) => format!(
                        "stopped for '{}', expected '{want}'",
                        super::text::excerpt(g, 40)
                    ),
                    None => format!("endpoint reported no finish reason, expected '{want}'"),
                }
            })
            .with_detail(serde_json::json!({ "finish_reason": got, "expected": want })),
        );
    }
    score_truncation(obs, out);
}

/// The informational `truncation` every answer gets.
pub(super) fn score_truncation(obs: &Observation, out: &mut Vec<Score>) {
    let truncated = obs.finish_reason.as_deref().is_some_and(is_truncation);
    out.push(
        Score::check(names::TRUNCATION, !truncated, || {
            "stopped for length (truncated)".to_string()
        })
        .with_value(if truncated { 1.0 } else { 0.0 })
        .informational(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::length::tests::obs;

    fn run(expect: &Expect, o: &Observation) -> Vec<Score> {
        let mut out = Vec::new();
        score(expect, o, &mut out);
        out
    }

    #[test]
    fn length_stop_is_truncation() {
        let e = Expect {
            finish_reason: Some("stop".into()),
            ..Expect::default()
        };
        let mut o = obs("cut sho");
        o.finish_reason = Some("length".into());
        let s = run(&e, &o);
        assert_eq!(
            s[0].reason.as_deref(),
            Some("stopped for length (truncated)")
        );
        assert!(s[1].informational && s[1].value == Some(1.0));
        o.finish_reason = Some("max_tokens".into());
        assert!(!run(&e, &o)[0].passed);
        o.finish_reason = Some("STOP".into());
        let s = run(&e, &o);
        assert!(s[0].passed && s[1].passed && s[1].value == Some(0.0));
        o.finish_reason = None;
        assert_eq!(
            run(&e, &o)[0].reason.as_deref(),
            Some("endpoint reported no finish reason, expected 'stop'")
        );
        o.finish_reason = Some("content_filter".into());
        assert_eq!(
            run(&e, &o)[0].reason.as_deref(),
            Some("stopped for 'content_filter', expected 'stop'")
        );
    }

    #[test]
    fn truncation_only_without_expectation() {
        let s = run(&Expect::default(), &obs("x"));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].scorer, names::TRUNCATION);
    }
}
