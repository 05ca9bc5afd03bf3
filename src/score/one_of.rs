//! `one_of`: classification. The answer, normalised (whitespace collapsed, lower-cased
//! unless `case_sensitive`, wrapping quotes / markdown emphasis / trailing punctuation and
//! a "Label:"-style prefix stripped), must be one of the labels; with `label` set it must
//! be that one. `detail` carries `predicted` and `expected` for the confusion table.

use super::text::{collapse_ws, excerpt, quote};
use super::{Answer, Score, names};
use crate::golden::Expect;

/// Characters that wrap or trail a bare label: quotes, backticks, markdown emphasis,
/// sentence punctuation.
fn is_wrapper(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '`'
            | '*'
            | '_'
            | '“'
            | '”'
            | '‘'
            | '’'
            | '«'
            | '»'
            | '「'
            | '」'
            | '『'
            | '』'
            | '.'
            | '!'
            | '?'
            | ','
            | ';'
            | ':'
            | '('
            | ')'
            | '['
            | ']'
            | '。'
    )
}

fn normalise(s: &str, case_sensitive: bool) -> String {
    let s = collapse_ws(s);
    let s = if case_sensitive { s } else { s.to_lowercase() };
    s.trim_matches(|c: char| is_wrapper(c) || c.is_whitespace())
        .to_string()
}

/// Drops one leading "Label:" / "Answer:" / "Category - " style prefix: a short run of
/// words before a colon.
fn strip_prefix(s: &str) -> &str {
    if let Some((head, rest)) = s.split_once(':') {
        let head = head.trim_matches(|c: char| is_wrapper(c) || c.is_whitespace());
        let words = head.split_whitespace().count();
        if (1..=3).contains(&words) && head.len() <= 30 && !rest.trim().is_empty() {
            return rest;
        }
    }
    s
}

pub(super) fn score(expect: &Expect, answer: &Answer<'_>) -> Score {
    let cs = expect.case_sensitive;
    // A label is short; a long answer is not a bare label, whatever it contains.
    let predicted = if answer.text.len() > 4096 {
        None
    } else {
        let whole = normalise(answer.text, cs);
        let stripped = normalise(strip_prefix(answer.text), cs);
        expect
            .one_of
            .iter()
            .find(|l| {
                let l = normalise(l, cs);
                l == whole || l == stripped
            })
            .cloned()
    };
    let detail = serde_json::json!({
        "predicted": predicted,
        "expected": expect.label,
    });
    let passed = match (&predicted, &expect.label) {
        (Some(p), Some(want)) => normalise(p, cs) == normalise(want, cs),
        (Some(_), None) => true,
        (None, _) => false,
    };
    Score::check(names::ONE_OF, passed, || match &predicted {
        None => format!(
            "answer {} is not one of the labels [{}]",
            quote(answer.text),
            label_list(&expect.one_of)
        ),
        Some(p) => format!(
            "predicted {}, expected {}",
            quote(p),
            quote(expect.label.as_deref().unwrap_or(""))
        ),
    })
    .with_detail(detail)
}

fn label_list(labels: &[String]) -> String {
    let mut s = labels
        .iter()
        .take(8)
        // Labels come from config: one line each, bounded, like any quoted text.
        .map(|l| excerpt(l, 40))
        .collect::<Vec<_>>()
        .join(", ");
    if labels.len() > 8 {
        s.push_str(", …");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(label: Option<&str>) -> Expect {
        Expect {
            one_of: vec!["positive".into(), "negative".into(), "neutral".into()],
            label: label.map(String::from),
            ..Expect::default()
        }
    }

    fn run(e: &Expect, text: &str) -> Score {
        score(e, &Answer::new(text))
    }

    #[test]
    fn normalised_forms_match() {
        let e = expect(Some("positive"));
        for text in [
            "positive",
            "Positive.",
            "  \"POSITIVE\"  ",
            "**positive**",
            "Label: positive",
            "Sentiment: Positive!",
            "`positive`",
        ] {
            let s = run(&e, text);
            assert!(s.passed, "{text}: {s:?}");
            assert_eq!(
                s.detail.as_ref().map(|d| d["predicted"].clone()),
                Some("positive".into())
            );
        }
    }

    #[test]
    fn wrong_label_and_no_label() {
        let e = expect(Some("positive"));
        let s = run(&e, "negative");
        assert!(!s.passed);
        assert_eq!(
            s.reason.as_deref(),
            Some("predicted 'negative', expected 'positive'")
        );
        let s = run(&e, "I think it is positive overall");
        assert!(!s.passed);
        assert_eq!(
            s.detail.as_ref().map(|d| d["predicted"].is_null()),
            Some(true)
        );
        assert!(
            s.reason
                .as_deref()
                .unwrap_or("")
                .contains("not one of the labels")
        );
        // Without an expected label any label passes.
        assert!(run(&expect(None), "Neutral").passed);
    }

    #[test]
    fn empty_unicode_huge() {
        let e = Expect {
            one_of: vec!["東京".into(), "Zürich".into()],
            ..Expect::default()
        };
        assert!(run(&e, "「東京」。").passed);
        assert!(run(&e, "zürich.").passed);
        assert!(!run(&e, "").passed);
        assert!(!run(&e, &"positive ".repeat(200_000)).passed);
    }
}
