//! `similar:` — cosine similarity of the answer's and the reference's embeddings, from the
//! target's OpenAI-compatible embeddings endpoint.

use super::Score;

pub const SIMILAR: &str = "similar";

/// Cosine of two vectors, within [-1, 1]; 0 when either is all zeros. Vectors of
/// different lengths, empty ones, or values too large to square (an endpoint can send
/// `1e39`, which is infinite as f32) cannot be compared: an error of the embeddings, not a
/// low similarity held against the answer.
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f64, String> {
    if a.is_empty() || b.is_empty() {
        return Err("the endpoint returned an empty embedding".to_string());
    }
    if a.len() != b.len() {
        return Err(format!(
            "the embeddings have different lengths ({} and {})",
            a.len(),
            b.len()
        ));
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if !(dot.is_finite() && na.is_finite() && nb.is_finite()) {
        return Err("the embeddings hold values that are not finite".to_string());
    }
    if na == 0.0 || nb == 0.0 {
        return Ok(0.0);
    }
    // Rounding can put the cosine of (nearly) equal vectors a hair above 1.
    Ok((dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0))
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
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap().abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), Ok(0.0));
        let v = [0.1f32, 0.7, 0.3, 1e-30];
        assert!(cosine(&v, &v).unwrap() <= 1.0);
    }

    #[test]
    fn embeddings_that_cannot_be_compared_are_errors() {
        assert_eq!(
            cosine(&[], &[]),
            Err("the endpoint returned an empty embedding".to_string())
        );
        assert_eq!(
            cosine(&[1.0], &[1.0, 2.0]),
            Err("the embeddings have different lengths (1 and 2)".to_string())
        );
        // 1e39 parses as an infinite f32; f32::MAX squared still fits an f64.
        assert!(cosine(&[f32::INFINITY, 1.0], &[1.0, 1.0]).is_err());
        assert!(cosine(&[f32::NAN, 1.0], &[1.0, 1.0]).is_err());
        assert_eq!(cosine(&[f32::MAX], &[f32::MAX]), Ok(1.0));
        let s = score(0.5, 0.8, serde_json::Value::Null);
        assert!(!s.passed);
        assert_eq!(
            s.reason.as_deref(),
            Some("embedding similarity 0.50 is below 0.80")
        );
    }
}
