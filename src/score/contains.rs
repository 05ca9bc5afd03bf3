//! `contains` / `not_contains`: literal substrings the answer must (not) include,
//! compared case-insensitively unless the case sets `case_sensitive`.

use super::text::quote;
use super::{Answer, Score, names};
use crate::golden::Expect;

/// One score per list that is set: every wanted string present / no forbidden one present.
pub(super) fn score(expect: &Expect, answer: &Answer<'_>, out: &mut Vec<Score>) {
    if expect.contains.is_empty() && expect.not_contains.is_empty() {
        return;
    }
    let haystack = if expect.case_sensitive {
        answer.text
    } else {
        answer.lower()
    };
    let found = |needle: &str| {
        if expect.case_sensitive {
            haystack.contains(needle)
        } else {
            haystack.contains(needle.to_lowercase().as_str())
        }
    };
    if !expect.contains.is_empty() {
        let missing: Vec<&String> = expect.contains.iter().filter(|n| !found(n)).collect();
        let total = expect.contains.len();
        let value = (total - missing.len()) as f64 / total as f64;
        let score = Score::check(names::CONTAINS, missing.is_empty(), || {
            let more = match missing.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            format!("missing {}{more}", quote(missing[0]))
        })
        .with_value(value);
        out.push(if missing.is_empty() {
            score
        } else {
            score.with_detail(serde_json::json!({ "missing": missing }))
        });
    }
    if !expect.not_contains.is_empty() {
        let present: Vec<&String> = expect.not_contains.iter().filter(|n| found(n)).collect();
        let score = Score::check(names::NOT_CONTAINS, present.is_empty(), || {
            let more = match present.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            format!("contains forbidden {}{more}", quote(present[0]))
        });
        out.push(if present.is_empty() {
            score
        } else {
            score.with_detail(serde_json::json!({ "found": present }))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expect: &Expect, text: &str) -> Vec<Score> {
        let mut out = Vec::new();
        score(expect, &Answer::new(text), &mut out);
        out
    }

    #[test]
    fn contains_is_case_insensitive_by_default() {
        let expect = Expect {
            contains: vec!["30 Days".into(), "refund".into()],
            ..Expect::default()
        };
        let s = run(&expect, "You can get a REFUND within 30 days.");
        assert!(s[0].passed, "{s:?}");
        let s = run(&expect, "Refunds take a month.");
        assert!(!s[0].passed);
        assert_eq!(s[0].reason.as_deref(), Some("missing '30 Days'"));
        assert_eq!(s[0].value, Some(0.5));
    }

    #[test]
    fn case_sensitive_and_forbidden() {
        let expect = Expect {
            contains: vec!["ACME".into()],
            not_contains: vec!["competitor".into(), "Globex".into()],
            case_sensitive: true,
            ..Expect::default()
        };
        let s = run(&expect, "acme beats Globex and Competitor");
        assert!(!s[0].passed);
        assert!(!s[1].passed);
        assert_eq!(s[1].reason.as_deref(), Some("contains forbidden 'Globex'"));
    }

    #[test]
    fn unicode_and_empty() {
        let expect = Expect {
            contains: vec!["ÉTÉ".into(), "東京".into(), "🎉".into()],
            ..Expect::default()
        };
        assert!(run(&expect, "L'été à 東京 🎉")[0].passed);
        let s = run(&expect, "");
        assert!(!s[0].passed);
        assert!(
            s[0].reason
                .as_deref()
                .unwrap_or("")
                .contains("(and 2 more)")
        );
        assert!(run(&Expect::default(), "anything").is_empty());
    }

    #[test]
    fn long_needle_reason_is_short() {
        let needle = "n".repeat(500);
        let expect = Expect {
            contains: vec![needle],
            ..Expect::default()
        };
        let s = run(&expect, "");
        assert!(s[0].reason.as_deref().unwrap_or("").chars().count() < 100);
    }
}
