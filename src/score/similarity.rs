//! `reference`: lexical similarity to a reference answer — token F1 (SQuAD-style: lower
//! case, punctuation and articles dropped) and ROUGE-L F (longest common subsequence of
//! those tokens). `value` is ROUGE-L F; gating only when the case sets `min_similarity`.
//!
//! LCS is quadratic, so each side is capped at `MAX_TOKENS` tokens: 2,000 × 2,000 cells
//! is a few milliseconds, and a reference answer is far shorter than that anyway.

use std::collections::HashMap;

use super::text::is_cjk;
use super::{Score, names};

/// Tokens of each side that take part in ROUGE-L (F1 uses them all).
const MAX_TOKENS: usize = 2_000;

/// SQuAD normalisation: lower-case, remove punctuation (deleted, so "don't" → "dont"),
/// drop the articles a/an/the, split on whitespace. CJK characters are tokens of their own
/// because those scripts put no spaces between words. Returns the cleaned text; the tokens
/// are borrowed from it by `squad_tokens`.
fn squad_clean(s: &str) -> String {
    let mut cleaned = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_punctuation() || is_unicode_punct(c) {
            continue;
        }
        if is_cjk(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else if c.is_ascii() {
            cleaned.push(c.to_ascii_lowercase());
        } else {
            cleaned.extend(c.to_lowercase());
        }
    }
    cleaned
}

fn squad_tokens(cleaned: &str) -> Vec<&str> {
    cleaned
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect()
}

fn is_unicode_punct(c: char) -> bool {
    matches!(
        c,
        '‘' | '’'
            | '“'
            | '”'
            | '«'
            | '»'
            | '–'
            | '—'
            | '…'
            | '¿'
            | '¡'
            | '。'
            | '、'
            | '，'
            | '！'
            | '？'
            | '：'
            | '；'
            | '「'
            | '」'
            | '（'
            | '）'
    )
}

/// SQuAD token F1 (multiset overlap).
fn token_f1(pred: &[&str], reference: &[&str]) -> f64 {
    if pred.is_empty() || reference.is_empty() {
        return if pred.is_empty() && reference.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let common = if reference.len() <= SMALL {
        // A short reference (the usual case): match each answer token against an unused
        // reference token; cheaper than hashing every token.
        let mut used = [false; SMALL];
        pred.iter()
            .filter(|t| {
                match reference
                    .iter()
                    .enumerate()
                    .position(|(j, r)| !used[j] && r == *t)
                {
                    Some(j) => {
                        used[j] = true;
                        true
                    }
                    None => false,
                }
            })
            .count()
    } else {
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for t in reference {
            *counts.entry(t).or_default() += 1;
        }
        let mut common = 0usize;
        for t in pred {
            if let Some(c) = counts.get_mut(t)
                && *c > 0
            {
                *c -= 1;
                common += 1;
            }
        }
        common
    };
    f_measure(common, pred.len(), reference.len())
}

/// References up to this many tokens take the hash-free paths.
const SMALL: usize = 64;

fn f_measure(common: usize, pred_len: usize, ref_len: usize) -> f64 {
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / pred_len as f64;
    let r = common as f64 / ref_len as f64;
    2.0 * p * r / (p + r)
}

/// ROUGE-L F1 over at most `MAX_TOKENS` tokens a side. Returns (F, truncated).
fn rouge_l(pred: &[&str], reference: &[&str]) -> (f64, bool) {
    if pred.is_empty() || reference.is_empty() {
        return (
            if pred.is_empty() && reference.is_empty() {
                1.0
            } else {
                0.0
            },
            false,
        );
    }
    let truncated = pred.len() > MAX_TOKENS || reference.len() > MAX_TOKENS;
    let pred = &pred[..pred.len().min(MAX_TOKENS)];
    let reference = &reference[..reference.len().min(MAX_TOKENS)];
    let lcs = if reference.len() <= SMALL {
        lcs_len(pred, reference)
    } else {
        // Integer ids make the inner loop a u32 compare instead of a string compare.
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let r: Vec<u32> = intern(&mut ids, reference);
        let p: Vec<u32> = intern(&mut ids, pred);
        lcs_len(&p, &r)
    };
    (f_measure(lcs, pred.len(), reference.len()), truncated)
}

/// Length of the longest common subsequence, two rolling rows.
fn lcs_len<T: PartialEq>(p: &[T], r: &[T]) -> usize {
    let mut prev = vec![0u32; r.len() + 1];
    let mut cur = vec![0u32; r.len() + 1];
    for a in p {
        for (j, b) in r.iter().enumerate() {
            cur[j + 1] = if a == b {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[r.len()] as usize
}

fn intern<'t>(ids: &mut HashMap<&'t str, u32>, tokens: &[&'t str]) -> Vec<u32> {
    tokens
        .iter()
        .map(|t| {
            let next = ids.len() as u32;
            *ids.entry(t).or_insert(next)
        })
        .collect()
}

pub(super) fn score(reference: &str, min_similarity: Option<f64>, answer: &str) -> Score {
    let (pred_text, ref_text) = (squad_clean(answer), squad_clean(reference));
    let pred = squad_tokens(&pred_text);
    let reference_tokens = squad_tokens(&ref_text);
    let f1 = token_f1(&pred, &reference_tokens);
    let (rl, truncated) = rouge_l(&pred, &reference_tokens);
    let detail = serde_json::json!({
        "f1": round4(f1),
        "rouge_l": round4(rl),
        "truncated": truncated,
    });
    let score = match min_similarity {
        Some(min) => Score::check(names::REFERENCE, rl >= min, || {
            format!("ROUGE-L {rl:.2} below {min:.2} against the reference (token F1 {f1:.2})")
        })
        .with_threshold(min),
        None => Score::pass(names::REFERENCE).informational(),
    };
    score.with_value(rl).with_detail(detail)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalisation() {
        let t = |s: &str| {
            squad_tokens(&squad_clean(s))
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(t("The cat's hat, an apple!"), ["cats", "hat", "apple"]);
        assert_eq!(t("東京 is big"), ["東", "京", "is", "big"]);
        assert_eq!(t("ÉCOLE"), ["école"]);
        assert!(t("").is_empty());
    }

    #[test]
    fn identical_and_disjoint() {
        let s = score(
            "You can ask for a refund within 30 days.",
            Some(0.5),
            "you can ask for a refund within 30 days",
        );
        assert!(s.passed);
        assert_eq!(s.value, Some(1.0));
        let s = score("Paris", Some(0.5), "Berlin");
        assert!(!s.passed);
        assert_eq!(
            s.reason.as_deref(),
            Some("ROUGE-L 0.00 below 0.50 against the reference (token F1 0.00)")
        );
    }

    #[test]
    fn order_matters_for_rouge_not_f1() {
        let (a, b) = (
            squad_clean("refund within 30 days"),
            squad_clean("30 days within refund"),
        );
        let (a, b) = (squad_tokens(&a), squad_tokens(&b));
        assert_eq!(token_f1(&a, &b), 1.0);
        assert!(rouge_l(&a, &b).0 < 0.6);
    }

    #[test]
    fn known_values() {
        // pred: [police, killed, gunman]; ref: [police, kill, gunman]: LCS 2, F = 2/3
        let (p, r) = (
            squad_clean("police killed the gunman"),
            squad_clean("police kill the gunman"),
        );
        let (p, r) = (squad_tokens(&p), squad_tokens(&r));
        assert!((rouge_l(&p, &r).0 - 2.0 / 3.0).abs() < 1e-9);
        assert!((token_f1(&p, &r) - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn informational_without_threshold() {
        let s = score("x", None, "");
        assert!(s.passed && s.informational && s.value == Some(0.0));
    }

    #[test]
    fn long_answers_stay_fast() {
        let reference = "word ".repeat(3_000);
        let answer = "word other ".repeat(100_000);
        let t = std::time::Instant::now();
        let s = score(&reference, Some(0.1), &answer);
        assert_eq!(
            s.detail.as_ref().map(|d| d["truncated"].clone()),
            Some(true.into())
        );
        assert!(t.elapsed().as_secs() < 3, "{:?}", t.elapsed());
    }
}
