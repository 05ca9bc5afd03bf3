//! Shared text handling for the scorers: excerpts safe to put in a reason, whitespace
//! normalisation, a Unicode-aware tokeniser (numbers, words, CJK characters), English stop
//! words and negation cues, stemming, and splitting answers into sentences and clauses.
//!
//! Model output is untrusted: everything here is a single linear pass (no backtracking
//! over the input), never panics on odd Unicode, and allocates in proportion to the input.

use rust_stemmers::Stemmer;

/// Most characters of model output a reason may quote.
pub const QUOTE_CHARS: usize = 80;

/// Length in Unicode scalar values (what `min_chars` / `max_chars` count).
pub fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// At most `max` characters of `s` on one line (whitespace runs collapsed to a space),
/// with `…` when cut. Reads only as much of `s` as it keeps, so a 1 MB answer costs
/// nothing more than a short one.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut kept = 0;
    let mut pending_space = false;
    for c in s.trim().chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
            continue;
        }
        if kept >= max {
            out.push('…');
            return out;
        }
        if pending_space && kept > 0 {
            out.push(' ');
            kept += 1;
            if kept >= max {
                out.push('…');
                return out;
            }
        }
        pending_space = false;
        out.push(c);
        kept += 1;
    }
    out
}

/// `excerpt` in single quotes, the form reasons use.
pub fn quote(s: &str) -> String {
    format!("'{}'", excerpt(s, QUOTE_CHARS))
}

/// Trimmed, with every whitespace run collapsed to one space.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Characters written without spaces between words: each one is a token of its own.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // compatibility ideographs
        | '\u{20000}'..='\u{2FA1F}' // extensions B.., compatibility supplement
    )
}

/// Combining marks belong to the word they decorate (a decomposed "é" is one word).
fn is_combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
    )
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || is_combining(c)) && !is_cjk(c)
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// One token: lower-cased, apostrophes straightened; numbers normalised (`1,200.50` →
/// `1200.5`, `03` → `3`) so the same quantity compares equal however it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub number: bool,
    /// The token began with a capital letter (proper nouns, acronyms).
    pub capitalised: bool,
}

/// Splits `s` into word, number and CJK-character tokens; punctuation, symbols and emoji
/// are separators. Hyphenated words split ("water-damage" matches "water damage"),
/// apostrophes inside words stay ("doesn't" is one token, a negation cue).
pub fn tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if is_cjk(c) {
            out.push(Token {
                text: c.to_string(),
                number: false,
                capitalised: false,
            });
        } else if c.is_ascii_digit() {
            let mut raw = String::new();
            raw.push(c);
            while let Some(&(_, n)) = chars.peek() {
                if n.is_ascii_digit() {
                    raw.push(n);
                    chars.next();
                } else if n == '.' || n == ',' {
                    // Only a separator followed by a digit is part of the number
                    // ("2.5", "1,200"); "30." ends a sentence.
                    let mut ahead = chars.clone();
                    ahead.next();
                    match ahead.peek() {
                        Some(&(_, d)) if d.is_ascii_digit() => {
                            if n == '.' {
                                raw.push('.');
                            }
                            chars.next();
                        }
                        _ => break,
                    }
                } else {
                    break;
                }
            }
            out.push(Token {
                text: normalise_number(&raw),
                number: true,
                capitalised: false,
            });
        } else if is_word_char(c) {
            let mut word = String::new();
            let capitalised = c.is_uppercase();
            word.extend(c.to_lowercase());
            while let Some(&(_, n)) = chars.peek() {
                if is_word_char(n) && !n.is_ascii_digit() {
                    word.extend(n.to_lowercase());
                    chars.next();
                } else if is_apostrophe(n) {
                    let mut ahead = chars.clone();
                    ahead.next();
                    match ahead.peek() {
                        Some(&(_, a)) if is_word_char(a) => {
                            word.push('\'');
                            chars.next();
                        }
                        _ => break,
                    }
                } else {
                    break;
                }
            }
            out.push(Token {
                text: word,
                number: false,
                capitalised,
            });
        }
    }
    out
}

/// `1200.50` → `1200.5`, `03` → `3`, `2.0` → `2`.
fn normalise_number(raw: &str) -> String {
    let (int, frac) = match raw.split_once('.') {
        Some((i, f)) => (i, f.trim_end_matches('0')),
        None => (raw, ""),
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// Number words an answer may use for a figure the context writes in digits. "one" is
/// left out: it is far more often a pronoun ("the one you bought") than a quantity.
pub fn number_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "two" | "twice" => "2",
        "three" => "3",
        "four" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        "ten" => "10",
        "eleven" => "11",
        "twelve" => "12",
        "fifteen" => "15",
        "twenty" => "20",
        "thirty" => "30",
        "forty" => "40",
        "fifty" => "50",
        "sixty" => "60",
        "ninety" => "90",
        "hundred" => "100",
        _ => return None,
    })
}

/// Words that carry no fact of their own (plus the negation cues, which are checked
/// separately rather than matched as content).
pub fn is_stop_word(w: &str) -> bool {
    matches!(
        w,
        "a" | "about"
            | "above"
            | "after"
            | "again"
            | "against"
            | "all"
            | "also"
            | "am"
            | "an"
            | "and"
            | "any"
            | "are"
            | "aren't"
            | "as"
            | "at"
            | "be"
            | "because"
            | "been"
            | "before"
            | "being"
            | "below"
            | "between"
            | "both"
            | "but"
            | "by"
            | "can"
            | "can't"
            | "cannot"
            | "could"
            | "couldn't"
            | "did"
            | "didn't"
            | "do"
            | "does"
            | "doesn't"
            | "doing"
            | "don't"
            | "down"
            | "during"
            | "each"
            | "either"
            | "etc"
            | "even"
            | "ever"
            | "every"
            | "few"
            | "for"
            | "from"
            | "further"
            | "had"
            | "hadn't"
            | "has"
            | "hasn't"
            | "have"
            | "haven't"
            | "having"
            | "he"
            | "he'd"
            | "he'll"
            | "he's"
            | "her"
            | "here"
            | "here's"
            | "hers"
            | "herself"
            | "him"
            | "himself"
            | "his"
            | "how"
            | "however"
            | "i"
            | "i'd"
            | "i'll"
            | "i'm"
            | "i've"
            | "if"
            | "in"
            | "into"
            | "is"
            | "isn't"
            | "it"
            | "it's"
            | "its"
            | "itself"
            | "just"
            | "let"
            | "let's"
            | "may"
            | "me"
            | "might"
            | "more"
            | "most"
            | "much"
            | "must"
            | "mustn't"
            | "my"
            | "myself"
            | "neither"
            | "never"
            | "no"
            | "nor"
            | "not"
            | "now"
            | "of"
            | "off"
            | "on"
            | "once"
            | "only"
            | "or"
            | "other"
            | "ought"
            | "our"
            | "ours"
            | "ourselves"
            | "out"
            | "over"
            | "own"
            | "please"
            | "quite"
            | "rather"
            | "really"
            | "same"
            | "shall"
            | "shan't"
            | "she"
            | "she'd"
            | "she'll"
            | "she's"
            | "should"
            | "shouldn't"
            | "so"
            | "some"
            | "such"
            | "than"
            | "that"
            | "that's"
            | "the"
            | "their"
            | "theirs"
            | "them"
            | "themselves"
            | "then"
            | "there"
            | "there's"
            | "these"
            | "they"
            | "they'd"
            | "they'll"
            | "they're"
            | "they've"
            | "this"
            | "those"
            | "through"
            | "thus"
            | "to"
            | "too"
            | "under"
            | "until"
            | "up"
            | "upon"
            | "us"
            | "very"
            | "via"
            | "was"
            | "wasn't"
            | "we"
            | "we'd"
            | "we'll"
            | "we're"
            | "we've"
            | "were"
            | "weren't"
            | "what"
            | "what's"
            | "when"
            | "where"
            | "which"
            | "while"
            | "who"
            | "whom"
            | "whose"
            | "why"
            | "will"
            | "with"
            | "within"
            | "won't"
            | "would"
            | "wouldn't"
            | "yes"
            | "yet"
            | "you"
            | "you'd"
            | "you'll"
            | "you're"
            | "you've"
            | "your"
            | "yours"
            | "yourself"
            | "yourselves"
            | "st"
            | "nd"
            | "rd"
            | "th"
            | "s"
            | "t"
            | "one"
            | "ones"
            | "get"
            | "gets"
            | "got"
            | "make"
            | "makes"
            | "well"
            | "none"
            | "nothing"
            | "without"
            | "nobody"
            | "nowhere"
    )
}

/// Words that turn a clause's meaning around. "except"/"exclude" count: "covers everything
/// except water damage" denies what "covers water damage" asserts.
pub fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "no"
            | "never"
            | "none"
            | "nothing"
            | "nobody"
            | "nowhere"
            | "neither"
            | "nor"
            | "cannot"
            | "without"
            | "except"
            | "excluding"
            | "excludes"
            | "excluded"
            | "exclude"
            | "unable"
            // "non-refundable" is split at the hyphen: "non" denies what follows.
            | "non"
    ) || w.ends_with("n't")
}

/// A word that is the negation of another, as that other word: "closed" is "not open".
/// Both sides of the comparison (answer and passages) are read through the same table, so
/// a word used in another sense ("close to the station") is at worst compared as itself.
pub fn negated_antonym(w: &str) -> Option<&'static str> {
    Some(match w {
        "unavailable" => "available",
        "disallowed" | "prohibited" | "forbidden" => "allowed",
        _ => return None,
    })
}

/// Rewrites a pattern to ASCII word boundaries and digits. Unicode `\b` makes the regex
/// crate leave its fast DFA for a slower engine whenever the input has non-ASCII text, and
/// every built-in pattern here is English or ASCII-shaped anyway.
pub fn ascii_pattern(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)").replace(r"\d", "[0-9]")
}

/// Snowball English stem of a lower-cased word.
pub fn stem(stemmer: &Stemmer, word: &str) -> String {
    stemmer.stem(word).into_owned()
}

/// Abbreviations whose trailing period does not end a sentence.
fn is_abbreviation(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    matches!(
        w.as_str(),
        "e.g"
            | "i.e"
            | "etc"
            | "vs"
            | "mr"
            | "mrs"
            | "ms"
            | "dr"
            | "prof"
            | "sr"
            | "jr"
            | "st"
            | "inc"
            | "ltd"
            | "co"
            | "corp"
            | "no"
            | "nos"
            | "approx"
            | "incl"
            | "est"
            | "dept"
            | "fig"
            | "figs"
            | "vol"
            | "p"
            | "pp"
            | "ca"
            | "cf"
            | "al"
            | "jan"
            | "feb"
            | "mar"
            | "apr"
            | "jun"
            | "jul"
            | "aug"
            | "sep"
            | "sept"
            | "oct"
            | "nov"
            | "dec"
            | "mon"
            | "tue"
            | "wed"
            | "thu"
            | "fri"
            | "sat"
            | "sun"
            | "u.s"
            | "u.k"
            | "a.m"
            | "p.m"
            | "min"
            | "max"
            | "avg"
            | "ref"
    ) || (w.chars().count() == 1 && w.chars().all(|c| c.is_alphabetic()))
}

/// Strips a list bullet, numbered-list marker, heading or quote marker from a line start.
pub fn strip_bullet(line: &str) -> &str {
    let mut s = line.trim_start();
    loop {
        let before = s;
        for marker in ["- ", "* ", "• ", "+ ", "· ", "▪ ", "‣ ", "◦ ", "> "] {
            if let Some(rest) = s.strip_prefix(marker) {
                s = rest.trim_start();
            }
        }
        let hashes = s.bytes().take_while(|&b| b == b'#').count();
        if hashes > 0 && s[hashes..].starts_with(' ') {
            s = s[hashes..].trim_start();
        }
        // "1. ", "12) ", "a) "
        let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && digits <= 3 {
            let rest = &s[digits..];
            if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
                s = r.trim_start();
            }
        } else if let Some(first) = s.chars().next()
            && first.is_ascii_alphabetic()
            && s[1..].starts_with(") ")
        {
            s = s[3..].trim_start();
        }
        if s.len() == before.len() {
            return s;
        }
    }
}

fn starts_list_item(line: &str) -> bool {
    let t = line.trim_start();
    strip_bullet(t).len() != t.len()
}

/// Splits text into sentences (trimmed, bullets stripped, empty ones dropped).
///
/// A period ends a sentence only when followed by whitespace (so "2.5" and "example.com"
/// stay whole), not after a known abbreviation or a single-letter initial ("e.g.",
/// "U.S.", "J. Smith"), and not when the next word starts in lower case. Newlines end a
/// sentence unless the line is a soft wrap (no terminator, next line in lower case);
/// every list item is its own sentence. CJK full stops always end one.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut iter = text.char_indices().peekable();
    fn push<'t>(out: &mut Vec<&'t str>, s: &'t str) {
        let s = strip_bullet(s.trim()).trim();
        if !s.is_empty() {
            out.push(s);
        }
    }
    while let Some((i, c)) = iter.next() {
        match c {
            '\n' => {
                let line = &text[start..i];
                let rest = &text[i + 1..];
                let next_line = rest.split('\n').next().unwrap_or("");
                let soft_wrap = !line.trim().is_empty()
                    && !line.trim_end().ends_with([':', '.', '!', '?'])
                    && !starts_list_item(next_line)
                    && next_line
                        .trim_start()
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_lowercase());
                if !soft_wrap {
                    push(&mut out, line);
                    start = i + 1;
                }
            }
            '。' | '！' | '？' => {
                let end = i + c.len_utf8();
                push(&mut out, &text[start..end]);
                start = end;
            }
            '.' | '!' | '?' | '…' => {
                // Consume a run of terminators and closing quotes/brackets.
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = iter.peek() {
                    if matches!(
                        n,
                        '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']'
                    ) {
                        end = j + n.len_utf8();
                        iter.next();
                    } else {
                        break;
                    }
                }
                let followed_by_space = end >= bytes.len() || bytes[end].is_ascii_whitespace();
                if !followed_by_space {
                    continue;
                }
                // A list marker at the start of a line ("1. Third item") is not a sentence.
                let seg = text[start..i].trim();
                if c == '.'
                    && !seg.is_empty()
                    && seg.len() <= 3
                    && seg.bytes().all(|b| b.is_ascii_digit())
                {
                    continue;
                }
                if c == '.' && end == i + 1 {
                    // The word before a lone period: an abbreviation or an initial?
                    let before = &text[start..i];
                    let word = before
                        .rsplit(|ch: char| ch.is_whitespace() || ch == '(')
                        .next()
                        .unwrap_or("");
                    if is_abbreviation(word) {
                        continue;
                    }
                }
                let next = text[end..].trim_start_matches([' ', '\t']).chars().next();
                if next.is_some_and(|n| n.is_lowercase()) {
                    continue;
                }
                push(&mut out, &text[start..end]);
                start = end;
            }
            _ => {}
        }
    }
    push(&mut out, &text[start..]);
    out
}

/// Separators between clauses: two facts joined in one sentence are two claims, and a
/// cause given for a fact ("because …", "due to …") is a claim of its own.
const CLAUSE_SEPARATORS: &[&str] = &[
    "; ",
    ", and ",
    " and ",
    ", but ",
    " but ",
    ", while ",
    " whereas ",
    ", although ",
    " although ",
    ", though ",
    " though ",
    ", however",
    ", which ",
    " - ",
    " — ",
    " – ",
    ", because ",
    " because ",
    " due to ",
    " thanks to ",
    " so that ",
];

/// A contrast that denies a second thing ("covers defects, not water damage"): the sentence
/// splits before the cue, which stays with the clause it negates, so the affirmed part is
/// not read as negated (nor the denied part as affirmed).
const CONTRAST_CUES: &[&str] = &[", not ", ", never "];

/// Splits a sentence into clauses at `;`, coordinating conjunctions, dashes and contrasts
/// ("…, not …"). Matching is ASCII case-insensitive on bytes, which cannot land inside a
/// multi-byte character.
pub fn clauses(sentence: &str) -> Vec<&str> {
    let bytes = sentence.as_bytes();
    let at = |i: usize, sep: &str| {
        let sb = sep.as_bytes();
        bytes.len() - i >= sb.len() && bytes[i..i + sb.len()].eq_ignore_ascii_case(sb)
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // (bytes to skip, of which the separator proper): a contrast keeps its cue word.
        let matched = CLAUSE_SEPARATORS
            .iter()
            .find(|sep| at(i, sep))
            .map(|sep| sep.len())
            .or_else(|| CONTRAST_CUES.iter().any(|cue| at(i, cue)).then_some(2))
            .unwrap_or(0);
        if matched > 0 {
            let clause = sentence[start..i].trim();
            if !clause.is_empty() {
                out.push(clause);
            }
            i += matched;
            start = i;
        } else {
            i += 1;
        }
    }
    let clause = sentence[start..].trim();
    if !clause.is_empty() {
        out.push(clause);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_and_collapses() {
        assert_eq!(excerpt("  a \n\n b  ", 80), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("", 3), "");
        assert_eq!(excerpt("日本語のテキスト", 3), "日本語…");
        let huge = "x".repeat(1_000_000);
        assert_eq!(excerpt(&huge, 5), "xxxxx…");
    }

    #[test]
    fn tokens_handle_numbers_words_and_unicode() {
        let t: Vec<String> = tokens("It doesn't cover $1,200.50 or 2.5% on 03/04, café 東京!")
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(
            t,
            [
                "it", "doesn't", "cover", "1200.5", "or", "2.5", "on", "3", "4", "café", "東", "京"
            ]
        );
        // Decomposed é (e + combining acute) stays one word; emoji is a separator.
        let t = tokens("cafe\u{301} 🎉 ok");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].text, "cafe\u{301}");
        assert!(tokens("").is_empty());
        assert!(tokens("30.").iter().all(|t| t.text == "30"));
    }

    #[test]
    fn sentences_respect_abbreviations_decimals_and_bullets() {
        let s = sentences(
            "The fee is 2.5 percent, e.g. on card payments. Mr. Smith agreed! Really?\n\
             - First item\n* Second item\n1. Third item\nSee example.com for more.",
        );
        assert_eq!(
            s,
            [
                "The fee is 2.5 percent, e.g. on card payments.",
                "Mr. Smith agreed!",
                "Really?",
                "First item",
                "Second item",
                "Third item",
                "See example.com for more."
            ]
        );
        assert_eq!(
            sentences("保修两年。不包括水损坏。"),
            ["保修两年。", "不包括水损坏。"]
        );
        assert_eq!(
            sentences("a line that wraps\nonto the next one. Done."),
            ["a line that wraps\nonto the next one.", "Done."]
        );
        assert!(sentences("").is_empty());
        assert!(sentences("   \n\n  ").is_empty());
    }

    #[test]
    fn clauses_split_on_conjunctions() {
        assert_eq!(
            clauses("It covers defects, but not water damage; returns take 30 days"),
            [
                "It covers defects",
                "not water damage",
                "returns take 30 days"
            ]
        );
        assert_eq!(clauses("Bread AND butter"), ["Bread", "butter"]);
        assert_eq!(clauses("naïve — café"), ["naïve", "café"]);
        // A contrast keeps its cue with the part it denies.
        assert_eq!(
            clauses("It covers defects for 2 years, not water damage"),
            ["It covers defects for 2 years", "not water damage"]
        );
        assert_eq!(
            clauses("Syncs over Wi-Fi, NEVER over mobile data, ok"),
            ["Syncs over Wi-Fi", "NEVER over mobile data, ok"]
        );
    }

    #[test]
    fn negation_cues() {
        for w in ["not", "doesn't", "isn't", "never", "except", "cannot"] {
            assert!(is_negation(w), "{w}");
        }
        assert!(!is_negation("note"));
    }

    #[test]
    fn bullets() {
        assert_eq!(
            strip_bullet("- **Coverage**: 2 years"),
            "**Coverage**: 2 years"
        );
        assert_eq!(strip_bullet("## Heading"), "Heading");
        assert_eq!(strip_bullet("a) first"), "first");
        assert_eq!(strip_bullet("2024 was a year"), "2024 was a year");
    }
}
