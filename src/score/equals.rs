//! `equals`: the whole answer equals the expected text after trimming and collapsing
//! whitespace, and lower-casing unless the case sets `case_sensitive`.

use super::text::{collapse_ws, quote};
use super::{Answer, Score, names};

pub(super) fn score(want: &str, case_sensitive: bool, answer: &Answer<'_>) -> Score {
    let norm = |s: &str| {
        let s = collapse_ws(s);
        if case_sensitive { s } else { s.to_lowercase() }
    };
    let want_n = norm(want);
    // Cheap reject before normalising a huge answer: lower-casing a character yields at
    // most three, so an answer with more than three non-whitespace characters for each of
    // the expected text's cannot be equal. Counting stops at that limit.
    let limit = want_n.chars().count() * 3 + 1;
    let non_ws = answer
        .text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(limit + 1)
        .count();
    let equal = non_ws <= limit && norm(answer.text) == want_n;
    Score::check(names::EQUALS, equal, || {
        if answer.text.trim().is_empty() {
            format!("expected {}, got an empty answer", quote(want))
        } else {
            format!("expected {}, got {}", quote(want), quote(answer.text))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_whitespace_and_case() {
        let a = Answer::new("  Paris\n\t is  the Capital ");
        assert!(score("paris is the capital", false, &a).passed);
        assert!(!score("paris is the capital", true, &a).passed);
        assert!(score("Paris is the Capital", true, &a).passed);
    }

    #[test]
    fn reasons() {
        let s = score("Paris", false, &Answer::new("Lyon"));
        assert_eq!(s.reason.as_deref(), Some("expected 'Paris', got 'Lyon'"));
        let s = score("Paris", false, &Answer::new("  "));
        assert_eq!(
            s.reason.as_deref(),
            Some("expected 'Paris', got an empty answer")
        );
    }

    #[test]
    fn unicode_and_huge() {
        assert!(score("ÉCOLE 東京 🎉", false, &Answer::new("école   東京 🎉")).passed);
        let ideographic = format!("a{}", "\u{3000}".repeat(1_000));
        assert!(score("a", false, &Answer::new(&ideographic)).passed);
        let huge = "a".repeat(1_000_000);
        let s = score("a", false, &Answer::new(&huge));
        assert!(!s.passed);
        assert!(s.reason.as_deref().unwrap_or("").chars().count() < 120);
    }
}
