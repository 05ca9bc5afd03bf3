//! VADER sentiment (Hutto & Gilbert 2014, "VADER: A Parsimonious Rule-based Model for
//! Sentiment Analysis of Social Media Text", ICWSM-14): a port of the reference Python
//! implementation, PyPI `vaderSentiment` 3.3.2 (MIT, © 2016 C.J. Hutto; the licence is
//! `VADER-LICENSE.txt` beside this file). Its two data files, `vader_lexicon.txt` and
//! `emoji_utf8_lexicon.txt`, are committed unchanged and compiled in.
//!
//! The rules are ported as the reference implements them, quirks included, so that the
//! compound score matches it (tests/tone_reference.rs checks ≥ 100 sentences): boosters
//! and dampeners (scaled by distance), negation over three preceding words ("never so" /
//! "without doubt" special cases), "no" as a negator, "least", contrastive "but" (with the
//! reference's first-equal-value indexing), ALL-CAPS emphasis when only some words are
//! capitalised, "!" and "?" emphasis, the special-case idioms ("the bomb", "yeah right")
//! and emoji replaced by their descriptions. The sentiment-laden idioms the reference lists
//! as "future work, not yet implemented" are not applied there, so not here either.

use std::collections::HashMap;
use std::sync::LazyLock;

const LEXICON: &str = include_str!("vader_lexicon.txt");
const EMOJI: &str = include_str!("emoji_utf8_lexicon.txt");

/// Empirically derived mean intensity change of a booster / dampener word.
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Intensity added by an ALL-CAPS word among non-capitalised ones.
const C_INCR: f64 = 0.733;
/// Scalar applied to a negated valence.
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

/// Idioms and phrases containing lexicon words, with the valence they take.
const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

/// The lexicon and emoji descriptions, parsed once.
struct Tables {
    lexicon: HashMap<String, f64>,
    /// Single-character emoji → description (the reference looks characters up one at a
    /// time, so multi-character sequences never match there either).
    emoji: HashMap<char, &'static str>,
    boosters: HashMap<&'static str, f64>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut lexicon = HashMap::with_capacity(7600);
    for line in LEXICON.trim_end_matches('\n').split('\n') {
        let mut cols = line.trim().split('\t');
        if let (Some(word), Some(measure)) = (cols.next(), cols.next()) {
            if let Ok(v) = measure.parse::<f64>() {
                lexicon.insert(word.to_string(), v);
            }
        }
    }
    let mut emoji = HashMap::with_capacity(3600);
    for line in EMOJI.trim_end_matches('\n').split('\n') {
        let mut cols = line.trim().split('\t');
        if let (Some(e), Some(description)) = (cols.next(), cols.next()) {
            let mut chars = e.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emoji.insert(c, description);
            }
        }
    }
    let boosters = BOOSTERS_UP
        .iter()
        .map(|w| (*w, B_INCR))
        .chain(BOOSTERS_DOWN.iter().map(|w| (*w, B_DECR)))
        .collect();
    Tables {
        lexicon,
        emoji,
        boosters,
    }
});

/// VADER's four scores of one text, unrounded (the reference rounds `compound` to 4
/// places and the others to 3 when it returns them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polarity {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    /// Normalised sum of valences, in [-1, 1].
    pub compound: f64,
}

/// Python's `str.isupper()`: at least one cased character and no lower-case one.
fn is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Python's `str.split()` with no argument: runs of Unicode whitespace, which for Python
/// also include the ASCII information separators U+001C..U+001F.
fn py_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
        .filter(|w| !w.is_empty())
}

/// `token.strip(string.punctuation)`, keeping the token when two or fewer characters
/// remain (likely an emoticon such as ":)").
fn strip_punc_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.chars().count() <= 2 {
        token
    } else {
        stripped
    }
}

fn negated(word: &str) -> bool {
    NEGATE.contains(&word) || word.contains("n't")
}

fn normalize(score: f64) -> f64 {
    let alpha = 15.0;
    (score / (score * score + alpha).sqrt()).clamp(-1.0, 1.0)
}

/// The reference's polarity scores of one text (best on one sentence; see `compound_mean`).
pub fn polarity(text: &str) -> Polarity {
    let t = &*TABLES;
    // Emoji become their descriptions, separated from a preceding non-space.
    let mut replaced = String::with_capacity(text.len());
    let mut prev_space = true;
    for c in text.chars() {
        if let Some(description) = t.emoji.get(&c) {
            if !prev_space {
                replaced.push(' ');
            }
            replaced.push_str(description);
            prev_space = false;
        } else {
            replaced.push(c);
            prev_space = c == ' ';
        }
    }
    let text = replaced.trim();

    let words: Vec<&str> = py_split(text).map(strip_punc_if_word).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let caps = words.iter().filter(|w| is_upper(w)).count();
    let is_cap_diff = caps > 0 && caps < words.len();

    let mut sentiments: Vec<f64> = Vec::with_capacity(words.len());
    for (i, item) in lower.iter().enumerate() {
        if t.boosters.contains_key(item.as_str())
            || (i + 1 < words.len() && item == "kind" && lower[i + 1] == "of")
        {
            sentiments.push(0.0);
            continue;
        }
        sentiments.push(valence(t, &words, &lower, i, is_cap_diff));
    }
    but_check(&lower, &mut sentiments);
    score_valence(&sentiments, text)
}

/// The valence of word `i` in context.
fn valence(t: &Tables, words: &[&str], lower: &[String], i: usize, is_cap_diff: bool) -> f64 {
    let item = lower[i].as_str();
    let Some(&base) = t.lexicon.get(item) else {
        return 0.0;
    };
    let in_lex = |w: &str| t.lexicon.contains_key(w);
    let mut valence = base;
    // "no" before a lexicon word negates it rather than counting on its own.
    if item == "no" && i + 1 < words.len() && in_lex(&lower[i + 1]) {
        valence = 0.0;
    }
    if (i > 0 && lower[i - 1] == "no")
        || (i > 1 && lower[i - 2] == "no")
        || (i > 2 && lower[i - 3] == "no" && (lower[i - 1] == "or" || lower[i - 1] == "nor"))
    {
        valence = base * N_SCALAR;
    }
    if is_upper(words[i]) && is_cap_diff {
        if valence > 0.0 {
            valence += C_INCR;
        } else {
            valence -= C_INCR;
        }
    }
    for start_i in 0..3 {
        if i > start_i && !in_lex(&lower[i - (start_i + 1)]) {
            let mut s = scalar_inc_dec(t, words[i - (start_i + 1)], valence, is_cap_diff);
            if start_i == 1 && s != 0.0 {
                s *= 0.95;
            }
            if start_i == 2 && s != 0.0 {
                s *= 0.9;
            }
            valence += s;
            valence = negation_check(valence, lower, start_i, i);
            if start_i == 2 {
                valence = special_idioms_check(t, valence, lower, i);
            }
        }
    }
    least_check(valence, lower, i, &in_lex)
}

fn scalar_inc_dec(t: &Tables, word: &str, valence: f64, is_cap_diff: bool) -> f64 {
    let Some(&b) = t.boosters.get(word.to_lowercase().as_str()) else {
        return 0.0;
    };
    let mut scalar = if valence < 0.0 { -b } else { b };
    if is_upper(word) && is_cap_diff {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

fn negation_check(valence: f64, lower: &[String], start_i: usize, i: usize) -> f64 {
    let w = |k: usize| lower[i - k].as_str();
    match start_i {
        0 if negated(w(1)) => valence * N_SCALAR,
        1 => {
            if w(2) == "never" && (w(1) == "so" || w(1) == "this") {
                valence * 1.25
            } else if w(2) == "without" && w(1) == "doubt" {
                valence
            } else if negated(w(2)) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        2 => {
            // As in the reference: `a and b or c`, so "so"/"this" right before the word
            // boosts whatever precedes it.
            if (w(3) == "never" && (w(2) == "so" || w(2) == "this"))
                || (w(1) == "so" || w(1) == "this")
            {
                valence * 1.25
            } else if w(3) == "without" && (w(2) == "doubt" || w(1) == "doubt") {
                valence
            } else if negated(w(3)) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        _ => valence,
    }
}

fn special_case(seq: &str) -> Option<f64> {
    SPECIAL_CASES
        .iter()
        .find(|(phrase, _)| *phrase == seq)
        .map(|(_, v)| *v)
}

/// Only called with `i >= 3`.
fn special_idioms_check(t: &Tables, mut valence: f64, lower: &[String], i: usize) -> f64 {
    let w = |k: usize| lower[k].as_str();
    let onezero = format!("{} {}", w(i - 1), w(i));
    let twoonezero = format!("{} {} {}", w(i - 2), w(i - 1), w(i));
    let twoone = format!("{} {}", w(i - 2), w(i - 1));
    let threetwoone = format!("{} {} {}", w(i - 3), w(i - 2), w(i - 1));
    let threetwo = format!("{} {}", w(i - 3), w(i - 2));
    for seq in [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo] {
        if let Some(v) = special_case(seq) {
            valence = v;
            break;
        }
    }
    if lower.len() > i + 1 {
        if let Some(v) = special_case(&format!("{} {}", w(i), w(i + 1))) {
            valence = v;
        }
    }
    if lower.len() > i + 2 {
        if let Some(v) = special_case(&format!("{} {} {}", w(i), w(i + 1), w(i + 2))) {
            valence = v;
        }
    }
    for n_gram in [&threetwoone, &threetwo, &twoone] {
        if let Some(b) = t.boosters.get(n_gram.as_str()) {
            valence += b;
        }
    }
    valence
}

fn least_check(valence: f64, lower: &[String], i: usize, in_lex: &dyn Fn(&str) -> bool) -> f64 {
    if i > 1 && !in_lex(&lower[i - 1]) && lower[i - 1] == "least" {
        if lower[i - 2] != "at" && lower[i - 2] != "very" {
            return valence * N_SCALAR;
        }
    } else if i > 0 && !in_lex(&lower[i - 1]) && lower[i - 1] == "least" {
        return valence * N_SCALAR;
    }
    valence
}

/// Contrastive "but": valences before it halved, after it ×1.5. The reference finds each
/// value's position with `list.index` (its first equal value), and so does this.
fn but_check(lower: &[String], sentiments: &mut [f64]) {
    let Some(bi) = lower.iter().position(|w| w == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        let si = sentiments.iter().position(|v| *v == sentiment).unwrap_or(k);
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.matches('!').count().min(4) as f64 * 0.292;
    let qm_count = text.matches('?').count();
    let qm = if qm_count > 1 {
        if qm_count <= 3 {
            qm_count as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    ep + qm
}

fn score_valence(sentiments: &[f64], text: &str) -> Polarity {
    if sentiments.is_empty() {
        return Polarity {
            neg: 0.0,
            neu: 0.0,
            pos: 0.0,
            compound: 0.0,
        };
    }
    let mut sum_s: f64 = sentiments.iter().sum();
    let punct = punctuation_emphasis(text);
    if sum_s > 0.0 {
        sum_s += punct;
    } else if sum_s < 0.0 {
        sum_s -= punct;
    }
    let compound = normalize(sum_s);
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0, 0.0, 0.0);
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1.0;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += punct;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= punct;
    }
    let total = pos_sum + neg_sum.abs() + neu_count;
    Polarity {
        neg: (neg_sum / total).abs(),
        neu: (neu_count / total).abs(),
        pos: (pos_sum / total).abs(),
        compound,
    }
}

/// Python's `round(x, 4)` for the values VADER returns (ties are rare in practice; this
/// rounds half away from zero, the reference half to even on the binary value).
pub fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of the vaderSentiment README (3.3.2) with the compound scores it prints.
    #[test]
    fn readme_examples() {
        let cases: &[(&str, f64)] = &[
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is smart, handsome, and funny!", 0.8439),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            (
                "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
                0.9469,
            ),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("The book was good.", 0.4404),
            ("At least it isn't a horrible book.", 0.431),
            ("The book was only kind of good.", 0.3832),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
            ),
            ("Today SUX!", -0.5461),
            ("Today only kinda sux! But I'll get by, lol", 0.5249),
            ("Make sure you :) or :D today!", 0.8633),
            ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875),
            ("Not bad at all", 0.431),
        ];
        for (text, want) in cases {
            let got = round4(polarity(text).compound);
            assert!((got - want).abs() < 1e-9, "{text}: {got} vs {want}");
        }
    }

    #[test]
    fn readme_pos_neu_neg() {
        // "VADER is smart, handsome, and funny." {'neg': 0.0, 'neu': 0.254, 'pos': 0.746}
        let p = polarity("VADER is smart, handsome, and funny.");
        assert!((p.neg - 0.0).abs() < 5e-4);
        assert!((p.neu - 0.254).abs() < 5e-4);
        assert!((p.pos - 0.746).abs() < 5e-4);
    }

    #[test]
    fn empty_and_neutral_texts_are_zero() {
        assert_eq!(polarity("").compound, 0.0);
        assert_eq!(polarity("   ").compound, 0.0);
        assert_eq!(polarity("The table is made of wood.").compound, 0.0);
    }

    #[test]
    fn python_isupper() {
        assert!(is_upper("VADER"));
        assert!(is_upper("A1"));
        assert!(!is_upper("123"));
        assert!(!is_upper("Vader"));
        assert!(!is_upper(":)"));
    }
}
