//! `similar:` — cosine similarity of the answer's and the reference's embeddings, from the
//! target's OpenAI-compatible embeddings endpoint.

use super::Score;

pub const SIMILAR: &str = "similar";

/// Cosine of two vectors; 0 when either is empty, of different length, or all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

pub fn score(cos: f64, min_cosine: f64, usage: serde_json::Value) -> Score {
    Score::check(SIMILAR, cos >= min_cosine, || {
        format!("embedding similarity {cos:.2} is below {min_cosine:.2}")
    })
    .with_value(cos)
    .with_threshold(min_cosine)
    .with_detail(serde_json::json!({ "usage": usage }))
}

/// Embeddings could not be had: recorded, not held against the answer.
pub fn embedding_error(why: &str) -> Score {
    Score::fail(SIMILAR, format!("embeddings error: {why}"))
        .informational()
        .with_detail(serde_json::json!({ "error": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        let s = score(0.5, 0.8, serde_json::Value::Null);
        assert!(!s.passed);
        assert_eq!(
            s.reason.as_deref(),
            Some("embedding similarity 0.50 is below 0.80")
        );
    }
}
