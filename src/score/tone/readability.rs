//! Reading level: the Flesch–Kincaid grade (Kincaid et al. 1975),
//! `0.39 × words/sentence + 11.8 × syllables/word − 15.59`, with words and sentences
//! counted exactly as `textstat` 0.7.13 counts them (punctuation removed except the
//! apostrophes of English contractions, hyphens joined; a sentence is `\b[^.!?]+[.!?]*`
//! and fragments of two words or fewer are not counted).
//!
//! Syllables differ: textstat looks words up in the CMU Pronouncing Dictionary and falls
//! back to Pyphen's hyphenation patterns, two large data sets not shipped here. This counts
//! vowel groups with the usual English corrections (silent final "e", "-es" / "-ed" that add
//! no syllable, "-le" after a consonant). tests/tone_reference.rs holds the grade to
//! textstat's within the tolerance measured there.

use std::sync::LazyLock;

use regex::Regex;

static SENTENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[^.!?]+[.!?]*").expect("static regex"));

/// Counts behind a grade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub words: usize,
    pub sentences: usize,
    pub syllables: usize,
}

/// textstat's `remove_punctuation(text, rm_apostrophe=False)`: an apostrophe is kept only
/// when a contraction ending (`t s d ve ll re`) follows; other non-word, non-space
/// characters go.
fn remove_punctuation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let keep = if c == '\'' {
            ["t", "s", "d", "ve", "ll", "re"]
                .iter()
                .any(|e| after.starts_with(e))
        } else {
            c.is_alphanumeric() || c == '_' || c.is_whitespace()
        };
        if keep {
            out.push(c);
        }
        rest = after;
    }
    out
}

/// textstat's word list (`list_words`), lower-cased.
pub fn words(text: &str) -> Vec<String> {
    remove_punctuation(text)
        .to_lowercase()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// textstat's `count_sentences`: 0 for an empty text, else at least 1.
pub fn sentence_count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let all: Vec<&str> = SENTENCE.find_iter(text).map(|m| m.as_str()).collect();
    let ignored = all.iter().filter(|s| words(s).len() <= 2).count();
    all.len().saturating_sub(ignored).max(1)
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Syllables of one lower-cased word (at least 1).
pub fn syllables(word: &str) -> usize {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return 1; // numbers and symbols: Pyphen finds no break in them either
    }
    if !letters.iter().all(|c| c.is_ascii_lowercase()) {
        // Outside English spelling the vowel rules mean little: count vowel groups only.
        return vowel_groups(&letters).max(1);
    }
    let mut n = vowel_groups(&letters);
    let len = letters.len();
    let ends = |s: &str| word.ends_with(s);
    let consonant_at = |i: usize| i < len && !is_vowel(letters[i]);
    if len > 2 && ends("e") && !ends("le") && !ends("ee") && !ends("ye") && n > 1 {
        n -= 1; // silent final e: "make", "there"
    } else if len > 3 && ends("le") && consonant_at(len - 3) && n == 1 {
        n += 1; // "able", "table" keep their -le syllable
    }
    if len > 3 && n > 1 {
        let before = letters[len - 3];
        // "-les" / "-red" after a consonant keep their syllable ("tables", "hundred").
        let syllabic = matches!(before, 'l' | 'r') && len > 4 && consonant_at(len - 4);
        if ends("es")
            && !matches!(before, 's' | 'x' | 'z' | 'c' | 'g' | 'h')
            && consonant_at(len - 3)
            && !(before == 'l' && syllabic)
        {
            n -= 1; // "makes" (the e of "-es" is silent unless a sibilant precedes)
        } else if ends("ed")
            && !matches!(before, 't' | 'd')
            && consonant_at(len - 3)
            && !(before == 'r' && syllabic)
        {
            n -= 1; // "jumped"
        }
    }
    // "ia", "io", "eo", "ua" are two syllables ("piano", "radio", "video", "union") except
    // after c, t, s, g, where "-cial", "-tion", "-sion", "-gion" make one.
    for w in letters.windows(3) {
        if matches!(
            (w[1], w[2]),
            ('i', 'a') | ('i', 'o') | ('e', 'o') | ('u', 'a')
        ) && !matches!(w[0], 'c' | 't' | 's' | 'g')
        {
            n += 1;
        }
    }
    if len >= 2
        && matches!(
            (letters[0], letters[1]),
            ('i', 'a') | ('i', 'o') | ('e', 'o')
        )
    {
        n += 1;
    }
    n.max(1)
}

fn vowel_groups(letters: &[char]) -> usize {
    let mut n = 0;
    let mut prev = false;
    for (i, &c) in letters.iter().enumerate() {
        // A leading y is a consonant ("yes"); a y after a vowel continues its group.
        let v = if c == 'y' {
            i > 0
        } else {
            is_vowel(c) || is_vowel_like(c)
        };
        if v && !prev {
            n += 1;
        }
        prev = v;
    }
    n
}

/// Accented Latin vowels count as vowels.
fn is_vowel_like(c: char) -> bool {
    "àáâãäåæèéêëìíîïòóôõöøùúûüýÿœ".contains(c)
}

/// The counts of a text.
pub fn counts(text: &str) -> Counts {
    let w = words(text);
    Counts {
        syllables: w.iter().map(|w| syllables(w)).sum(),
        words: w.len(),
        sentences: sentence_count(text),
    }
}

/// The Flesch–Kincaid grade; `None` for a text without words (textstat says 0.0 there,
/// which would read as "very easy").
pub fn flesch_kincaid_grade(text: &str) -> Option<f64> {
    let c = counts(text);
    grade(c)
}

/// The grade from counts.
pub fn grade(c: Counts) -> Option<f64> {
    if c.words == 0 || c.sentences == 0 {
        return None;
    }
    let words_per_sentence = c.words as f64 / c.sentences as f64;
    let syllables_per_word = c.syllables as f64 / c.words as f64;
    Some(0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_of_common_words() {
        for (w, n) in [
            ("the", 1),
            ("make", 1),
            ("makes", 1),
            ("table", 2),
            ("jumped", 1),
            ("wanted", 2),
            ("boxes", 2),
            ("beautiful", 3),
            ("yes", 1),
            ("day", 1),
            ("readability", 5),
            ("piano", 3),
            ("2024", 1),
            ("university", 5),
        ] {
            assert_eq!(syllables(w), n, "{w}");
        }
    }

    #[test]
    fn textstat_words_and_sentences() {
        assert_eq!(words("Don't stop-me, 'now'!"), ["don't", "stopme", "now"]);
        assert_eq!(sentence_count(""), 0);
        assert_eq!(sentence_count("Hi. Ok."), 1);
        assert_eq!(
            sentence_count("The cat sat on the mat. The dog ran far away! Did it come back?"),
            3
        );
    }

    #[test]
    fn grade_of_a_simple_and_a_hard_text() {
        let easy = flesch_kincaid_grade("The cat sat on the mat. The dog ran to the park.")
            .expect("grade");
        let hard = flesch_kincaid_grade(
            "Notwithstanding considerable institutional heterogeneity, comprehensive \
             organizational restructuring necessitates meticulous interdepartmental coordination.",
        )
        .expect("grade");
        assert!(easy < 3.0, "{easy}");
        assert!(hard > 15.0, "{hard}");
        assert_eq!(flesch_kincaid_grade("... !!!"), None);
    }
}
