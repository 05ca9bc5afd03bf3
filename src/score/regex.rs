//! `regex` / `not_regex`: patterns (compiled when the golden set loads) the answer must
//! (not) match. The `regex` crate runs in linear time, so a huge answer cannot stall it.

use super::text::{excerpt, quote};
use super::{Answer, Score, names};
use crate::golden::Expect;

pub(super) fn score(expect: &Expect, answer: &Answer<'_>, out: &mut Vec<Score>) {
    if !expect.regex.is_empty() {
        let missing: Vec<&str> = expect
            .regex
            .iter()
            .filter(|re| !re.is_match(answer.text))
            .map(|re| re.as_str())
            .collect();
        let score = Score::check(names::REGEX, missing.is_empty(), || {
            let more = match missing.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            format!("no match for /{}/{more}", excerpt(missing[0], 80))
        });
        out.push(if missing.is_empty() {
            score
        } else {
            score.with_detail(serde_json::json!({ "unmatched": missing }))
        });
    }
    if !expect.not_regex.is_empty() {
        let hit = expect
            .not_regex
            .iter()
            .find_map(|re| re.find(answer.text).map(|m| (re.as_str(), m.as_str())));
        out.push(match hit {
            None => Score::pass(names::NOT_REGEX),
            Some((pattern, matched)) => Score::fail(
                names::NOT_REGEX,
                format!(
                    "forbidden pattern /{}/ matched {}",
                    excerpt(pattern, 60),
                    quote(matched)
                ),
            )
            .with_detail(
                serde_json::json!({ "pattern": pattern, "matched": excerpt(matched, 200) }),
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::regex::Regex;

    fn expect(re: &[&str], not_re: &[&str]) -> Expect {
        Expect {
            regex: re
                .iter()
                .map(|r| Regex::new(r).expect("test regex"))
                .collect(),
            not_regex: not_re
                .iter()
                .map(|r| Regex::new(r).expect("test regex"))
                .collect(),
            ..Expect::default()
        }
    }

    fn run(expect: &Expect, text: &str) -> Vec<Score> {
        let mut out = Vec::new();
        score(expect, &Answer::new(text), &mut out);
        out
    }

    #[test]
    fn match_and_forbid() {
        let e = expect(&[r"\b\d+ days\b", r"(?i)refund"], &[r"(?i)\bsorry\b"]);
        let s = run(&e, "Refunds within 30 days.");
        assert!(s[0].passed && s[1].passed, "{s:?}");
        let s = run(&e, "Sorry, no refunds.");
        assert_eq!(s[0].reason.as_deref(), Some(r"no match for /\b\d+ days\b/"));
        assert_eq!(
            s[1].reason.as_deref(),
            Some(r"forbidden pattern /(?i)\bsorry\b/ matched 'Sorry'")
        );
    }

    #[test]
    fn unicode_and_huge() {
        let e = expect(&[r"東京"], &[r"x{3}"]);
        assert!(run(&e, "東京 🎉")[0].passed);
        let huge = "ab ".repeat(350_000);
        let t = std::time::Instant::now();
        let s = run(&e, &huge);
        assert!(!s[0].passed && s[1].passed);
        assert!(t.elapsed().as_secs() < 2);
    }
}
