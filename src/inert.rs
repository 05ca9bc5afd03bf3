//! What makes untrusted text (model output, a committed baseline or golden file) inert where
//! it is shown: characters that reorder or hide text (bidi overrides, zero-width marks) are
//! shown escaped, and in Markdown anything GitHub would turn into a link is kept out of
//! reach of its autolinker.

/// Bidi embeddings and overrides (U+202A–U+202E), bidi isolates (U+2066–U+2069), zero-width
/// and direction marks (U+200B–U+200F, U+061C), line and paragraph separators (U+2028,
/// U+2029), the word joiner and invisible operators (U+2060–U+2065) and the BOM / zero-width
/// no-break space (U+FEFF): invisible, yet they can make text read other than it is
/// ("Trojan Source"). Every place that shows untrusted text — terminal, Markdown, alert
/// channels, baseline-file errors — asks this one list.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `c` as `\u{..}`, the way Rust writes it.
pub fn escaped(c: char) -> String {
    c.escape_unicode().to_string()
}

/// Whether GitHub's autolinker would make a link of (part of) this whitespace-free token: a
/// scheme (`https://`, `ftp://`, `mailto:`, `xmpp:`), a `www.` host, or an e-mail address.
pub fn linkable(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if lower.contains("://")
        || lower.contains("www.")
        || lower.contains("mailto:")
        || lower.contains("xmpp:")
    {
        return true;
    }
    // user@host.tld: an `@` with something before it and a dot after it.
    lower
        .char_indices()
        .any(|(i, c)| c == '@' && i > 0 && lower[i + 1..].trim_end_matches('.').contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_github_would_link() {
        for t in [
            "https://evil.example/x",
            "(HTTP://a.b)",
            "www.example.com",
            "x.WWW.example.com",
            "someone@example.com",
            "mailto:a@b.c",
        ] {
            assert!(linkable(t), "{t}");
        }
        for t in ["30", "days.", "@handle", "a@b", "end.", "e.g."] {
            assert!(!linkable(t), "{t}");
        }
    }
}
