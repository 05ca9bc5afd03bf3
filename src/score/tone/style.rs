//! Output character that is not about words: exclamations, ALL-CAPS words and Markdown
//! (formatting, lists, code fences). Each is read off the raw answer text.

use super::readability;

/// Fewest letters for a word to count as ALL CAPS ("I" and "A" do not).
const CAPS_MIN_LETTERS: usize = 2;

/// Whether a sentence ends with an exclamation mark (closing quotes and brackets aside).
pub fn exclaims(sentence: &str) -> bool {
    sentence
        .trim_end()
        .trim_end_matches(['"', '\'', ')', ']', '*', '_', '\u{201d}', '\u{2019}'])
        .ends_with('!')
}

/// (ALL-CAPS words, words): a word is ALL CAPS when it has at least two letters and no
/// lower-case one. Acronyms count too; the rate is meant as a change signal.
pub fn caps_words(text: &str) -> (usize, usize) {
    let mut caps = 0;
    let mut words = 0;
    for w in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        let letters = w.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 {
            continue;
        }
        words += 1;
        if letters >= CAPS_MIN_LETTERS && !w.chars().any(char::is_lowercase) {
            caps += 1;
        }
    }
    (caps, words)
}

/// Markdown constructs of an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markdown {
    /// Any Markdown formatting: headings, emphasis, inline code, links, tables, quotes,
    /// lists or fences.
    pub any: bool,
    /// A bulleted or numbered list item.
    pub list: bool,
    /// A fenced code block (``` or ~~~).
    pub code_fence: bool,
}

fn is_list_item(line: &str) -> bool {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix(['-', '*', '+']) {
        return rest.starts_with(' ') && !rest.trim().is_empty();
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && digits <= 3
        && t[digits..]
            .strip_prefix(['.', ')'])
            .is_some_and(|r| r.starts_with(' ') && !r.trim().is_empty())
}

fn is_heading(line: &str) -> bool {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    (1..=6).contains(&hashes) && line[hashes..].starts_with(' ')
}

/// Emphasis (`**x**`, `__x__`), inline code (`` `x` ``) or a link (`[x](y)`) in a line.
fn has_inline(line: &str) -> bool {
    let paired = |m: &str| {
        line.find(m)
            .is_some_and(|i| line[i + m.len()..].find(m).is_some_and(|j| j > 0))
    };
    paired("**") || paired("__") || paired("`") || (line.contains("](") && line.contains('['))
}

pub fn markdown(text: &str) -> Markdown {
    let mut m = Markdown::default();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            m.code_fence = true;
        }
        if is_list_item(line) {
            m.list = true;
        }
        if is_heading(t)
            || has_inline(t)
            || t.starts_with("> ")
            || (t.starts_with('|') && t.ends_with('|') && t.len() > 2)
        {
            m.any = true;
        }
    }
    m.any |= m.list || m.code_fence;
    m
}

/// Words as the reading level counts them (for the descriptor's `words`).
pub fn word_count(text: &str) -> usize {
    readability::words(text).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclamations_and_caps() {
        assert!(exclaims("Great news!"));
        assert!(exclaims("\"Wow!\""));
        assert!(!exclaims("Fine."));
        assert_eq!(caps_words("This is VERY IMPORTANT, I said."), (2, 6));
        assert_eq!(caps_words("42 and 7"), (0, 1));
    }

    #[test]
    fn markdown_lists_and_fences() {
        let plain = markdown("Just a sentence. Another one - with a dash.");
        assert_eq!(plain, Markdown::default());
        let m = markdown("Steps:\n\n1. Open it\n2. Close it\n");
        assert!(m.list && m.any && !m.code_fence);
        let m = markdown("Use this:\n```rust\nfn main() {}\n```");
        assert!(m.code_fence && m.any && !m.list);
        assert!(markdown("## Title\ntext").any);
        assert!(markdown("This is **bold** text").any);
        assert!(markdown("See [docs](http://x)").any);
        assert!(!markdown("5 * 3 = 15").any);
        assert!(markdown("- item").list);
        assert!(!markdown("-5 degrees").list);
    }
}
