//! Length: `max_tokens`, `min_chars`, `max_chars` (gating, when the case sets them), and
//! the informational `output_chars` and `empty` every answer gets. Characters are Unicode
//! scalar values, so an emoji or a CJK character counts once.

use super::text::char_count;
use super::{Answer, Score, names};
use crate::golden::Expect;
use crate::runner::Observation;

/// Rough English average, used only when the endpoint does not report output tokens.
const CHARS_PER_TOKEN: f64 = 4.0;

pub(super) fn score(expect: &Expect, obs: &Observation, answer: &Answer<'_>, out: &mut Vec<Score>) {
    let chars = char_count(answer.text);
    if let Some(max) = expect.max_tokens {
        let (tokens, estimated) = match obs.output_tokens {
            Some(t) => (t as f64, false),
            None => ((chars as f64 / CHARS_PER_TOKEN).ceil(), true),
        };
        let est = if estimated {
            " (estimated from characters)"
        } else {
            ""
        };
        out.push(
            Score::check(names::MAX_TOKENS, tokens <= max as f64, || {
                format!("used {tokens} output tokens{est}, over the limit of {max}")
            })
            .with_value(tokens)
            .with_threshold(max as f64)
            .with_detail(serde_json::json!({ "estimated": estimated })),
        );
    }
    if let Some(min) = expect.min_chars {
        out.push(
            Score::check(names::MIN_CHARS, chars >= min, || {
                format!("answer has {chars} characters, fewer than the minimum of {min}")
            })
            .with_value(chars as f64)
            .with_threshold(min as f64),
        );
    }
    if let Some(max) = expect.max_chars {
        out.push(
            Score::check(names::MAX_CHARS, chars <= max, || {
                format!("answer has {chars} characters, more than the maximum of {max}")
            })
            .with_value(chars as f64)
            .with_threshold(max as f64),
        );
    }
    let empty = answer.text.trim().is_empty();
    out.push(
        Score::check(names::EMPTY, !empty, || "empty answer".to_string())
            .with_value(if empty { 1.0 } else { 0.0 })
            .informational(),
    );
    out.push(
        Score::pass(names::OUTPUT_CHARS)
            .with_value(chars as f64)
            .informational(),
    );
}

/// An empty (or whitespace-only) answer: the gating `empty` failure, first, so it is the
/// sample's reason, and its character count.
pub(super) fn score_empty(answer: &Answer<'_>, out: &mut Vec<Score>) {
    out.push(Score::fail(names::EMPTY, "empty answer").with_value(1.0));
    out.push(
        Score::pass(names::OUTPUT_CHARS)
            .with_value(char_count(answer.text) as f64)
            .informational(),
    );
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::runner::Status;

    /// An answered observation, for the scorer tests.
    pub fn obs(output: &str) -> Observation {
        Observation {
            seq: 0,
            target: "default".into(),
            set: "set".into(),
            case_id: "case".into(),
            sample: 0,
            attempt: 1,
            final_attempt: true,
            started_at: chrono::DateTime::UNIX_EPOCH,
            scheduled_ms: 0.0,
            delayed: false,
            latency_ms: Some(100.0),
            ttft_ms: Some(50.0),
            status: Status::Ok,
            http_status: Some(200),
            error: None,
            input_tokens: Some(10),
            output_tokens: None,
            cost_usd: 0.0,
            finish_reason: Some("stop".into()),
            model: None,
            system_fingerprint: None,
            request_id: None,
            span_id: "0".into(),
            output: Some(output.into()),
            context: vec![],
            labels: Default::default(),
            timings: None,
        }
    }

    fn run(expect: &Expect, o: &Observation) -> Vec<Score> {
        let mut out = Vec::new();
        score(
            expect,
            o,
            &Answer::new(o.output.as_deref().unwrap_or("")),
            &mut out,
        );
        out
    }

    fn find<'a>(s: &'a [Score], name: &str) -> &'a Score {
        s.iter().find(|s| s.scorer == name).expect("score present")
    }

    #[test]
    fn tokens_reported_or_estimated() {
        let e = Expect {
            max_tokens: Some(10),
            ..Expect::default()
        };
        let mut o = obs(&"word ".repeat(20));
        let s = run(&e, &o);
        let t = find(&s, names::MAX_TOKENS);
        assert!(!t.passed);
        assert_eq!(t.value, Some(25.0));
        assert_eq!(
            t.reason.as_deref(),
            Some("used 25 output tokens (estimated from characters), over the limit of 10")
        );
        o.output_tokens = Some(8);
        let s = run(&e, &o);
        assert!(find(&s, names::MAX_TOKENS).passed);
    }

    #[test]
    fn chars_count_scalar_values() {
        let e = Expect {
            min_chars: Some(3),
            max_chars: Some(4),
            ..Expect::default()
        };
        let s = run(&e, &obs("🎉東京"));
        assert!(find(&s, names::MIN_CHARS).passed);
        assert!(find(&s, names::MAX_CHARS).passed);
        assert_eq!(find(&s, names::OUTPUT_CHARS).value, Some(3.0));
        // e + combining accent is two scalar values
        let s = run(&e, &obs("e\u{301}e\u{301}e"));
        assert_eq!(find(&s, names::OUTPUT_CHARS).value, Some(5.0));
        assert!(!find(&s, names::MAX_CHARS).passed);
    }

    #[test]
    fn empty_is_informational() {
        let s = run(&Expect::default(), &obs(" \n "));
        let e = find(&s, names::EMPTY);
        assert!(e.informational && !e.passed && e.value == Some(1.0));
        let e = Expect {
            min_chars: Some(1),
            ..Expect::default()
        };
        let s = run(&e, &obs(""));
        assert_eq!(
            find(&s, names::MIN_CHARS).reason.as_deref(),
            Some("answer has 0 characters, fewer than the minimum of 1")
        );
    }
}
