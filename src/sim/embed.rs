//! Deterministic embeddings: lower-cased, stemmed words (stop words dropped) hashed into a
//! 256-dimension signed bag of words, L2-normalised. Texts sharing words get a high cosine,
//! unrelated texts one near 0, which is all the `similar:` scorer needs from a fixture.

use rust_stemmers::{Algorithm, Stemmer};

use super::seed::StableHasher;

/// Dimensions of every simulated embedding.
pub const DIMENSIONS: usize = 256;

/// Words too common to say anything about a text's topic.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from",
    "has", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "so", "that", "the", "their", "them", "there", "they", "this", "to", "was", "we", "what",
    "when", "where", "which", "who", "will", "with", "you", "your",
];

/// The embedder; holds the stemmer (a function pointer, cheap to share).
pub(crate) struct Embedder {
    stemmer: Stemmer,
}

impl Embedder {
    pub(crate) fn new() -> Self {
        Embedder {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    /// The embedding of `text`; all zeros when it has no content words.
    pub(crate) fn embed(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0_f32; DIMENSIONS];
        let mut word = String::new();
        for raw in text.split(|c: char| !c.is_alphanumeric()) {
            if raw.is_empty() {
                continue;
            }
            word.clear();
            word.extend(raw.chars().flat_map(char::to_lowercase));
            if STOP_WORDS.binary_search(&word.as_str()).is_ok() {
                continue;
            }
            let stem = self.stemmer.stem(&word);
            let mut h = StableHasher::new();
            h.write(stem.as_bytes());
            let h = h.finish();
            // The sign bit halves the bias collisions add (feature hashing).
            let sign = if h & (1 << 40) == 0 { 1.0 } else { -1.0 };
            v[(h % DIMENSIONS as u64) as usize] += sign;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for x in &mut v {
                *x /= norm;
            }
        }
        v
    }
}

/// `dimensions` of OpenAI's API: the first `n` components, normalised again.
pub(crate) fn shorten(mut v: Vec<f32>, n: usize) -> Vec<f32> {
    v.truncate(n);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Little-endian f32s in standard base64: `encoding_format: base64`, which the official
/// OpenAI clients ask for by default.
pub(crate) fn to_base64(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn shared_words_mean_high_cosine() {
        let e = Embedder::new();
        let a = e.embed("You can ask for a refund within 30 days of purchase.");
        let b = e.embed("Refunds can be requested within 30 days after purchasing.");
        let c = e.embed("The warranty covers manufacturing defects for two years.");
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert!(cosine(&a, &b) > 0.6, "{}", cosine(&a, &b));
        assert!(cosine(&a, &c) < 0.3, "{}", cosine(&a, &c));
        assert!(e.embed("the of and").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
        assert_eq!(to_base64(&[]), "");
    }
}
