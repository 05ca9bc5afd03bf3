//! Token counts, in one place for the whole crate (runner, scoring calls, simulator):
//!
//! - [`estimate_tokens`] counts a text as a BPE server does (tiktoken's `o200k_base`): the
//!   cost of an answer whose endpoint reports no usage, and the simulator's own usage;
//! - [`token_bound`] and [`prompt_bound`] are *upper bounds* for any byte-level BPE
//!   tokenizer (o200k, cl100k, Llama 3, SentencePiece with byte fallback): every token
//!   covers at least one byte, so a text has at most as many tokens as UTF-8 bytes. The
//!   budget reserves these, so CJK text, code or random strings cannot make a run overspend
//!   the way a characters-÷-4 estimate did.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::golden::Message;

/// Tokens a chat format adds around each message (role, separators): OpenAI documents 3
/// or 4, other templates a few more; a bound must not be short.
pub const MESSAGE_FRAMING_TOKENS: u64 = 8;
/// Tokens a chat format adds to prime the reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: u64 = 8;

/// The tokenizer, loaded once. Its data is compiled in, so loading does not fail in
/// practice; if it did, counts fall back to the byte bound, which never under-counts.
fn bpe() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

/// Tokens of `text` under `o200k_base` (special-token text counts as ordinary text).
pub fn estimate_tokens(text: &str) -> u64 {
    match bpe() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => token_bound(text),
    }
}

/// The most tokens `text` can be for a byte-level BPE tokenizer: its UTF-8 byte count.
pub fn token_bound(text: &str) -> u64 {
    text.len() as u64
}

/// The most input tokens a chat request of `messages` can be: every message's bound plus
/// its framing, plus the reply priming.
pub fn prompt_bound(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| token_bound(&m.content).saturating_add(MESSAGE_FRAMING_TOKENS))
        .fold(REPLY_PRIMING_TOKENS, u64::saturating_add)
}

/// The longest prefix of `text`, ending on a character boundary, of at most `max` tokens.
pub fn truncate_to_tokens(text: &str, max: u64) -> &str {
    let Some(bpe) = bpe() else {
        let mut end = usize::try_from(max).unwrap_or(usize::MAX).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        return &text[..end];
    };
    let ids = bpe.encode_ordinary(text);
    let keep = usize::try_from(max).unwrap_or(usize::MAX);
    if ids.len() <= keep {
        return text;
    }
    // The bytes of the first `max` tokens; a token may end inside a character.
    let mut end = bpe
        .decode_bytes(&ids[..keep])
        .map_or(0, |b| b.len())
        .min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // Re-encoding a prefix can merge differently; shrink until it fits.
    while end > 0 && estimate_tokens(&text[..end]) > max {
        end -= 1;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::Role;

    #[test]
    fn the_bound_is_never_below_the_count() {
        for text in [
            "How long do I have to ask for a refund?",
            "退款申请的期限是多少天？请详细说明。",
            "fn main() { println!(\"{:?}\", vec![1, 2, 3]); }",
            "q9$Zk!x@7#LmP^2&wR*",
            "🦀🦀🦀 emoji",
            "",
        ] {
            assert!(token_bound(text) >= estimate_tokens(text), "{text}");
        }
        // chars ÷ 4 under-counts CJK text several times over; the BPE count does not.
        let cjk = "退款申请的期限是多少天？请详细说明。";
        assert!(estimate_tokens(cjk) > (cjk.chars().count() as u64).div_ceil(4));
    }

    #[test]
    fn prompt_bound_adds_framing() {
        let m = [Message {
            role: Role::User,
            content: "abc".into(),
        }];
        assert_eq!(
            prompt_bound(&m),
            3 + MESSAGE_FRAMING_TOKENS + REPLY_PRIMING_TOKENS
        );
    }

    #[test]
    fn truncation_fits_and_keeps_characters_whole() {
        let text = "退款申请的期限是多少天？请详细说明。 The refund window is thirty days.";
        for max in [0, 1, 3, 7, 12, 1000] {
            let cut = truncate_to_tokens(text, max);
            assert!(estimate_tokens(cut) <= max, "{max}: {cut}");
            assert!(text.starts_with(cut));
        }
        assert_eq!(truncate_to_tokens(text, 1000), text);
    }
}
