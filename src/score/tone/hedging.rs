//! Hedging: the share of an answer's sentences that contain a hedging phrase ("I think",
//! "it may", "possibly", "I'm not sure", ...). The phrase list is this file's `PHRASES`,
//! matched case-insensitively on word boundaries, with typographic apostrophes folded to
//! `'`. It is deliberately about epistemic hedges (the speaker's uncertainty), not about
//! politeness or general qualifiers like "usually".

/// The hedging phrases, lower case.
pub const PHRASES: &[&str] = &[
    "i think",
    "i believe",
    "i guess",
    "i suppose",
    "i assume",
    "i'm not sure",
    "i am not sure",
    "not entirely sure",
    "i'm not certain",
    "i am not certain",
    "i can't be certain",
    "i cannot be certain",
    "i could be wrong",
    "i may be wrong",
    "i might be wrong",
    "if i recall correctly",
    "as far as i know",
    "to my knowledge",
    "to the best of my knowledge",
    "it may",
    "it might",
    "it could",
    "this may",
    "this might",
    "may be",
    "might be",
    "could be",
    "possibly",
    "perhaps",
    "probably",
    "maybe",
    "presumably",
    "arguably",
    "likely",
    "it seems",
    "seems to",
    "it appears",
    "appears to",
    "it is possible",
    "it's possible",
    "hard to say",
    "difficult to say",
    "i would say",
    "in my opinion",
    "sort of",
    "kind of",
];

/// Whether `phrase` occurs in `lower` with a non-alphanumeric character (or an end) on
/// both sides.
fn contains_phrase(lower: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(at) = lower[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before = lower[..start].chars().next_back();
        let after = lower[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '\'');
        if boundary(before) && boundary(after) {
            return true;
        }
        from = start + phrase.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Lower-cased with typographic apostrophes folded, ready for `hedges`.
pub fn fold(sentence: &str) -> String {
    sentence
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
}

/// Whether one (folded) sentence hedges.
pub fn hedges(folded: &str) -> bool {
    PHRASES.iter().any(|p| contains_phrase(folded, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_hedges_on_word_boundaries() {
        assert!(hedges(&fold("I think the answer is 4.")));
        assert!(hedges(&fold("I\u{2019}m not sure, but it may rain.")));
        assert!(hedges(&fold("Possibly.")));
        assert!(!hedges(&fold("The answer is 4.")));
        // "maybe" inside another word, "think" without "I"
        assert!(!hedges(&fold("Mayberry is a town. Think twice.")));
        assert!(!hedges(&fold("Dismay beckons.")));
    }
}
