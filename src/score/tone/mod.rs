//! Tone and output character: descriptors of every answer — sentiment (VADER), the share
//! of hedging sentences, exclamations, ALL-CAPS words, reading level (Flesch–Kincaid),
//! language (whatlang) and Markdown / list / code-fence use — and the `expect.tone`
//! check built on them.
//!
//! Every answer gets one `tone` score carrying the descriptors in its `detail`; it is
//! informational unless the case (or its set) sets `expect.tone`, in which case it gates
//! with a reason per bound missed ("reading grade 13.2 above 10; language de, expected
//! en"). The summary folds the descriptors into `quality.tone` (`summary.rs`).

pub mod hedging;
pub mod language;
pub mod readability;
pub mod style;
pub mod summary;
pub mod vader;

use serde_json::json;

use super::{Score, names};
use crate::golden::expect::Tone;
use language::Detected;

/// Most words of one sentence VADER reads: its contrastive-"but" rule is quadratic in a
/// sentence's length, and a sentence longer than this is no sentence a person reads.
const MAX_SENTENCE_WORDS: usize = 200;
/// Most sentences of an answer whose sentiment and hedging are read (the rest are
/// counted alike would change nothing but the time a megabyte answer takes).
const MAX_SENTENCES: usize = 2000;

/// What one answer sounds like.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptors {
    /// Mean VADER compound over the answer's sentences (VADER is made for sentences), -1..1.
    pub sentiment: f64,
    /// Sentences read.
    pub sentences: usize,
    /// Share of sentences with a hedging phrase.
    pub hedging: f64,
    /// Share of sentences ending in "!".
    pub exclamation: f64,
    /// Share of words in ALL CAPS.
    pub caps: f64,
    /// Words, as the reading level counts them.
    pub words: usize,
    /// Flesch–Kincaid grade; `None` without words.
    pub reading_grade: Option<f64>,
    pub language: Option<Detected>,
    pub markdown: bool,
    pub list: bool,
    pub code_fence: bool,
}

/// The sentences of a text: lines, split after a run of `.`, `!` or `?` that is followed
/// by white space; pieces without a letter, digit or symbol beyond ASCII punctuation are
/// dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if matches!(c, '.' | '!' | '?') {
                let next = chars.peek().map(|(_, n)| *n);
                if next.is_none_or(char::is_whitespace) {
                    let end = i + c.len_utf8();
                    out.push(&line[start..end]);
                    start = end;
                }
            }
        }
        out.push(&line[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|s| {
            s.chars()
                .any(|c| c.is_alphanumeric() || (!c.is_ascii() && !c.is_whitespace()))
        })
        .collect()
}

fn first_words(sentence: &str, n: usize) -> &str {
    match sentence
        .split_whitespace()
        .nth(n)
        .map(|w| w.as_ptr() as usize - sentence.as_ptr() as usize)
    {
        Some(end) => &sentence[..end],
        None => sentence,
    }
}

/// The descriptors of one answer.
pub fn describe(text: &str) -> Descriptors {
    let all = sentences(text);
    let read = &all[..all.len().min(MAX_SENTENCES)];
    let (mut sentiment, mut hedged, mut exclaimed) = (0.0, 0usize, 0usize);
    for s in read {
        sentiment += vader::polarity(first_words(s, MAX_SENTENCE_WORDS)).compound;
        hedged += usize::from(hedging::hedges(&hedging::fold(s)));
        exclaimed += usize::from(style::exclaims(s));
    }
    let n = read.len();
    let share = |k: usize, of: usize| if of == 0 { 0.0 } else { k as f64 / of as f64 };
    let (caps, caps_of) = style::caps_words(text);
    let counts = readability::counts(text);
    let md = style::markdown(text);
    Descriptors {
        sentiment: if n == 0 { 0.0 } else { sentiment / n as f64 },
        sentences: n,
        hedging: share(hedged, n),
        exclamation: share(exclaimed, n),
        caps: share(caps, caps_of),
        words: counts.words,
        reading_grade: readability::grade(counts),
        language: language::detect(text),
        markdown: md.any,
        list: md.list,
        code_fence: md.code_fence,
    }
}

impl Descriptors {
    /// The answer is in another language than `expected`: only a reliable detection
    /// counts (whatlang on a short answer is often unsure, and an unsure guess must not
    /// fail a case); `None` when no language is expected or none was detected.
    pub fn language_mismatch(&self, expected: Option<&str>) -> Option<bool> {
        let expected = expected?;
        let d = self.language.as_ref()?;
        Some(d.reliable && d.code != expected)
    }
}

/// The `tone` score of one answer: informational without `expect.tone`, gating with it.
pub fn score(tone: Option<&Tone>, text: &str) -> Score {
    let d = describe(text);
    let mismatch = d.language_mismatch(tone.and_then(|t| t.language.as_deref()));
    let mut missed = Vec::new();
    if let Some(t) = tone {
        if let Some(min) = t.sentiment_min.filter(|min| d.sentiment < *min) {
            missed.push(format!("sentiment {:.2} below {}", d.sentiment, min));
        }
        if let (Some(max), Some(grade)) = (t.max_reading_grade, d.reading_grade) {
            if grade > max {
                missed.push(format!("reading grade {grade:.1} above {max}"));
            }
        }
        if let (Some(want), Some(true), Some(got)) = (&t.language, mismatch, &d.language) {
            missed.push(format!("language {}, expected {want}", got.code));
        }
    }
    let detail = json!({
        "sentiment": d.sentiment,
        "sentences": d.sentences,
        "hedging": d.hedging,
        "exclamation": d.exclamation,
        "caps": d.caps,
        "words": d.words,
        "reading_grade": d.reading_grade,
        "language": d.language.as_ref().map(|l| l.code),
        "language_confidence": d.language.as_ref().map(|l| l.confidence),
        "language_reliable": d.language.as_ref().map(|l| l.reliable),
        "language_mismatch": mismatch,
        "markdown": d.markdown,
        "list": d.list,
        "code_fence": d.code_fence,
    });
    let s = if tone.is_some() {
        Score::check(names::TONE, missed.is_empty(), || missed.join("; "))
    } else {
        Score::pass(names::TONE).informational()
    };
    s.with_value(d.sentiment).with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_lines() {
        assert_eq!(
            sentences("Hello there. How are you?I am fine!\n- a list item\n\n3.5 is a number."),
            [
                "Hello there.",
                "How are you?I am fine!",
                "- a list item",
                "3.5 is a number."
            ]
        );
        assert!(sentences(" ... \n --- ").is_empty());
    }

    #[test]
    fn descriptors_of_a_cheerful_and_a_glum_answer() {
        let happy = describe("Great question! I love helping with this. It is really easy.");
        assert!(happy.sentiment > 0.4, "{happy:?}");
        assert_eq!(happy.sentences, 3);
        assert!((happy.exclamation - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(happy.language.as_ref().map(|l| l.code), Some("en"));
        let glum = describe("I think this is a terrible idea. It will probably fail badly.");
        assert!(glum.sentiment < -0.3, "{glum:?}");
        assert_eq!(glum.hedging, 1.0);
        assert_eq!(glum.exclamation, 0.0);
    }

    #[test]
    fn expect_tone_fails_with_its_reasons() {
        let tone = Tone {
            sentiment_min: Some(0.0),
            language: Some("en".into()),
            max_reading_grade: Some(10.0),
        };
        let german =
            "Die Garantie deckt leider keine Wasserschäden ab, und das ist sehr schlecht für Sie.";
        let s = score(Some(&tone), german);
        assert!(!s.passed && !s.informational);
        let reason = s.reason.clone().unwrap_or_default();
        assert!(reason.contains("language de, expected en"), "{reason}");
        let hard = "Notwithstanding considerable institutional heterogeneity, comprehensive \
                    organizational restructuring necessitates meticulous interdepartmental coordination.";
        let s = score(Some(&tone), hard);
        let reason = s.reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with("reading grade ") && reason.ends_with(" above 10"),
            "{reason}"
        );
        let sad = score(Some(&tone), "This is a horrible, awful, terrible result.");
        assert!(
            sad.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("sentiment -0.")),
            "{sad:?}"
        );
        let fine = score(
            Some(&tone),
            "The warranty covers defects for two years. It is a good deal.",
        );
        assert!(fine.passed, "{fine:?}");
        let info = score(None, "This is a horrible, awful, terrible result.");
        assert!(info.passed && info.informational);
        assert!(info.value.is_some_and(|v| v < 0.0));
    }

    #[test]
    fn megabyte_answer_without_punctuation_is_bounded() {
        let big = "but this is good and bad and nice ".repeat(30_000);
        let d = describe(&big);
        assert_eq!(d.sentences, 1);
        assert!(d.reading_grade.is_some());
    }
}
