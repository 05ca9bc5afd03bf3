//! `retrieval`: how relevant the context passages of a RAG case are to its question, and
//! what that says about the retrieval — passages returned, context precision, empty
//! retrieval (no passage) and irrelevant retrieval (no passage at or above the relevance
//! floor). Informational: it measures the retriever, not the answer, so it never fails a
//! sample; the run's `empty_retrieval` / `irrelevant_retrieval` rates and mean
//! `context_precision` are what a comparison and an alert look at.
//!
//! Relevance of a passage to the question is BM25 (Robertson & Zaragoza, "The Probabilistic
//! Relevance Framework: BM25 and Beyond", 2009) over content words — the tokeniser, English
//! stop words and Snowball stemmer of `text.rs`, the ones `grounded` uses — normalised to
//! [0, 1] like this:
//!
//! - each question term t contributes `idf(t) · min(1, tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)))`,
//!   the usual BM25 term weight with its saturation capped at 1, so repeating a word many
//!   times cannot lift a passage above one that states it once;
//! - `idf(t) = ln(1 + (N − n + 0.5) / (n + 0.5))` (Lucene's always-positive form) over the N
//!   passages retrieved for the question, with n = max(n_t, 1): a term no passage holds is
//!   weighted like a term one passage holds, so a question word the retrieval missed counts
//!   as a specific word, not as an infinitely important one;
//! - a generic word of support questions (time units, "request", "download", "app", …:
//!   `is_generic`) has its idf multiplied by 0.25, as a domain stop list would, so that
//!   "How many days…" is not answered by any passage that mentions days;
//! - the sum is divided by `Σ idf(t)` over all question terms, i.e. by the score of a
//!   passage of average length holding every question term: 1 means "every question word,
//!   weighted by specificity, is in the passage", 0 means "none is".
//!
//! With a single passage every idf is equal and the score is the share of the question's
//! content words the passage holds (length-discounted). k1 = 1.2 and b = 0.75 are BM25's
//! customary values.
//!
//! Context precision is RAGAS' (Es et al., "RAGAS: Automated Evaluation of Retrieval
//! Augmented Generation", 2023; `ragas.metrics.context_precision`): with v_k = 1 when the
//! passage at rank k is relevant, `CP@K = Σ_k (precision@k · v_k) / (relevant passages in
//! the top K)` — average precision over the ranks, so relevant passages ranked first score
//! higher than the same passages ranked last; 0 when none is relevant, undefined (null)
//! when nothing was retrieved.

use std::collections::HashMap;

use rust_stemmers::Stemmer;

use super::{Score, text};

/// Scorer name, stored with every score.
pub const RETRIEVAL: &str = "retrieval";

/// A passage is relevant from this normalised BM25 score on. Chosen on the labelled set
/// `tests/data/retrieval_relevance.json` (`tests/retrieval_eval.rs` prints the sweep; see
/// BENCHMARKS.md, "Retrieval relevance"): at 0.15, F1 0.833 (precision 0.821, recall
/// 0.844), within 0.005 of the best floor swept (0.10: 0.838, at lower precision), and no
/// question whose own passages are relevant is called an irrelevant retrieval; 0.2 gains
/// precision (0.912) but loses a tenth of recall and raises such false alarms to 3%.
/// Roughly: one specific word of a three-word question makes a passage relevant.
pub const DEFAULT_MIN_RELEVANCE: f64 = 0.15;

/// BM25's term-frequency saturation.
const K1: f64 = 1.2;
/// BM25's length normalisation.
const B: f64 = 0.75;
/// Passages scored per observation: a retriever that returns thousands is scored on its
/// first ones (and says so in `detail.passages`, which counts them all).
const MAX_PASSAGES: usize = 200;

/// Question words that ask rather than say what about ("How do I…", "Can you tell me…"):
/// on top of the stop words, which already hold "how", "what", "can", "please".
fn is_question_filler(w: &str) -> bool {
    matches!(
        w,
        "tell"
            | "know"
            | "need"
            | "want"
            | "wondering"
            | "like"
            | "help"
            | "hi"
            | "hello"
            | "thanks"
            | "thank"
            | "get"
            | "possible"
    )
}

/// Words of nearly every support question and document — time units, the verbs of asking
/// for something, the app's own furniture — which say little about what a passage is
/// about ("How many *days* …" shares "days" with any passage that mentions a delay).
/// They still count, at `GENERIC_WEIGHT` of a word's BM25 weight, as a domain stop list
/// would have them, instead of not at all: "within 30 days" still answers "how many days".
fn is_generic(stem: &str) -> bool {
    matches!(
        stem,
        "day"
            | "hour"
            | "minut"
            | "week"
            | "month"
            | "year"
            | "time"
            | "long"
            | "take"
            | "request"
            | "download"
            | "use"
            | "make"
            | "find"
            | "see"
            | "app"
            | "account"
            | "link"
            | "page"
            | "email"
            | "option"
            | "way"
            | "expir"
            | "new"
            | "open"
    )
}

/// The weight of a generic word, relative to its BM25 weight.
const GENERIC_WEIGHT: f64 = 0.25;

/// Content-word stems of `s`, with their counts.
fn terms(stemmer: &Stemmer, s: &str, question: bool) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for tok in text::tokens(s) {
        let w = tok.text.as_str();
        let term = if tok.number {
            tok.text.clone()
        } else if let Some(n) = text::number_word(w) {
            n.to_string()
        } else {
            if text::is_stop_word(w) || text::is_negation(w) || (question && is_question_filler(w))
            {
                continue;
            }
            text::stem(stemmer, w)
        };
        *out.entry(term).or_insert(0) += 1;
    }
    out
}

/// Normalised BM25 relevance of each passage to the question, in [0, 1] (see the module
/// docs), in the passages' order. A question with no content word gives 0 everywhere.
pub fn bm25(stemmer: &Stemmer, question: &str, passages: &[&str]) -> Vec<f64> {
    let query: Vec<String> = {
        let mut q: Vec<String> = terms(stemmer, question, true).into_keys().collect();
        q.sort(); // sums in a fixed order: the same input gives the same bits
        q
    };
    let docs: Vec<(HashMap<String, usize>, usize)> = passages
        .iter()
        .map(|p| {
            let t = terms(stemmer, p, false);
            let len = t.values().sum();
            (t, len)
        })
        .collect();
    let n = docs.len() as f64;
    if query.is_empty() || docs.is_empty() {
        return vec![0.0; docs.len()];
    }
    let avgdl = (docs.iter().map(|(_, l)| *l).sum::<usize>() as f64 / n).max(1.0);
    let idf: Vec<f64> = query
        .iter()
        .map(|t| {
            let holding = docs
                .iter()
                .filter(|(d, _)| d.contains_key(t))
                .count()
                .max(1) as f64;
            let generic = if is_generic(t) { GENERIC_WEIGHT } else { 1.0 };
            generic * (1.0 + (n - holding + 0.5) / (holding + 0.5)).ln()
        })
        .collect();
    let total: f64 = idf.iter().sum();
    docs.iter()
        .map(|(d, len)| {
            let norm = K1 * (1.0 - B + B * *len as f64 / avgdl);
            let got: f64 = query
                .iter()
                .zip(&idf)
                .map(|(t, w)| {
                    let tf = d.get(t).copied().unwrap_or(0) as f64;
                    w * (tf * (K1 + 1.0) / (tf + norm)).min(1.0)
                })
                .sum();
            (got / total).clamp(0.0, 1.0)
        })
        .collect()
}

/// `bm25` with a stemmer of its own, for callers outside scoring (the labelled-set test).
pub fn relevance(question: &str, passages: &[&str]) -> Vec<f64> {
    bm25(
        &Stemmer::create(rust_stemmers::Algorithm::English),
        question,
        passages,
    )
}

/// RAGAS context precision of a ranked list (see the module docs); `None` for an empty one.
pub fn context_precision(relevant: &[bool]) -> Option<f64> {
    if relevant.is_empty() {
        return None;
    }
    let (mut hits, mut sum) = (0usize, 0.0);
    for (k, &r) in relevant.iter().enumerate() {
        if r {
            hits += 1;
            sum += hits as f64 / (k + 1) as f64;
        }
    }
    Some(if hits == 0 { 0.0 } else { sum / hits as f64 })
}

/// The `retrieval` score of one observation's passages. (With an embeddings target the
/// remote scorer adds `retrieval_cosine` beside it; the decision here stays lexical, hence
/// deterministic and free.)
pub fn score(stemmer: &Stemmer, question: &str, passages: &[String], floor: f64) -> Score {
    let kept: Vec<&str> = passages
        .iter()
        .map(String::as_str)
        .filter(|p| !p.trim().is_empty())
        .take(MAX_PASSAGES)
        .collect();
    let count = passages.iter().filter(|p| !p.trim().is_empty()).count();
    let relevance = bm25(stemmer, question, &kept);
    let relevant: Vec<bool> = relevance.iter().map(|r| *r >= floor).collect();
    let precision = context_precision(&relevant);
    let empty = kept.is_empty();
    let irrelevant = !empty && !relevant.iter().any(|r| *r);
    let round = |x: f64| (x * 1e4).round() / 1e4;
    let detail = serde_json::json!({
        "passages": count,
        "relevance": relevance.iter().map(|r| round(*r)).collect::<Vec<_>>(),
        "relevant": relevant,
        "min_relevance": floor,
        "context_precision": precision.map(round),
        "empty_retrieval": empty,
        "irrelevant_retrieval": irrelevant,
    });
    let reason = if empty {
        Some("empty retrieval: no context passages".to_string())
    } else if irrelevant {
        let best = relevance.iter().copied().fold(0.0, f64::max);
        Some(format!(
            "irrelevant retrieval: no passage reaches relevance {floor:.2} (best {best:.2})"
        ))
    } else {
        None
    };
    Score {
        scorer: RETRIEVAL.to_string(),
        passed: !empty && !irrelevant,
        informational: true,
        value: precision,
        threshold: Some(floor),
        reason,
        detail: Some(detail),
    }
}

/// What a `retrieval` score says, read back by the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalFacts {
    pub empty: bool,
    pub irrelevant: bool,
    pub context_precision: Option<f64>,
    pub passages: f64,
}

impl RetrievalFacts {
    pub fn of(score: &Score) -> Option<RetrievalFacts> {
        let d = score.detail.as_ref()?;
        Some(RetrievalFacts {
            empty: d.get("empty_retrieval")?.as_bool()?,
            irrelevant: d.get("irrelevant_retrieval")?.as_bool()?,
            context_precision: d.get("context_precision").and_then(|v| v.as_f64()),
            passages: d.get("passages")?.as_f64()?,
        })
    }
}

/// How many distinct scores, for the unit tests.
#[cfg(test)]
fn distinct(relevance: &[f64]) -> usize {
    relevance
        .iter()
        .map(|r| r.to_bits())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stemmer() -> Stemmer {
        Stemmer::create(rust_stemmers::Algorithm::English)
    }

    #[test]
    fn one_passage_scores_the_share_of_question_words_it_holds() {
        // Question terms after stop words and stemming: {refund, window, 30, day}. With
        // one passage every idf is ln(1 + 0.5/1.5) and dl = avgdl, so a held term's
        // saturation is 2.2 / (1 + 1.2) = 1: the score is the weighted share held, with
        // "day" a generic word at weight 0.25: (1 + 1 + 0.25) / (1 + 1 + 1 + 0.25).
        let r = bm25(
            &stemmer(),
            "Is the refund window 30 days?",
            &["Refunds are accepted within 30 days."],
        );
        assert!((r[0] - 2.25 / 3.25).abs() < 1e-12, "{r:?}");
        let r = bm25(&stemmer(), "refund window", &["Shipping takes five days."]);
        assert_eq!(r, vec![0.0]);
        let r = bm25(&stemmer(), "What is it?", &["Anything at all."]);
        assert_eq!(r, vec![0.0], "no content word in the question");
    }

    #[test]
    fn bm25_weights_specific_words_over_shared_ones() {
        // Two passages, equal length (3 content terms each, so dl = avgdl and a held
        // term's saturation is 1). Question terms {workspac, delet, export}.
        // idf(workspac) (in both) = ln(1 + 0.5/2.5) = ln 1.2; idf(delet) (in one) =
        // idf(export) (in one) = ln(1 + 1.5/1.5) = ln 2.
        let q = "workspace delete export";
        let p = ["workspace delete forever", "workspace export csv"];
        let r = bm25(&stemmer(), q, &p);
        let (shared, specific) = (1.2f64.ln(), 2f64.ln());
        let want = (shared + specific) / (shared + 2.0 * specific);
        assert!((r[0] - want).abs() < 1e-12, "{r:?} vs {want}");
        assert!((r[1] - want).abs() < 1e-12, "{r:?} vs {want}");
        // A term held by no passage weighs like one held by one passage (n = max(n_t, 1)).
        let r = bm25(&stemmer(), "workspace delete invoice", &p);
        let want0 = (shared + specific) / (shared + 2.0 * specific);
        let want1 = shared / (shared + 2.0 * specific);
        assert!(
            (r[0] - want0).abs() < 1e-12 && (r[1] - want1).abs() < 1e-12,
            "{r:?}"
        );
        assert_eq!(distinct(&r), 2);
    }

    #[test]
    fn saturation_is_capped_and_long_passages_discounted() {
        // Repeating the word does not lift a passage above one that states it once.
        let r = bm25(
            &stemmer(),
            "invoice",
            &["invoice invoice invoice invoice", "invoice"],
        );
        assert!(r.iter().all(|x| (*x - 1.0).abs() < 1e-12), "{r:?}");
        // One mention in a passage four times the average length: dl/avgdl = 8/5 for the
        // long one (lengths 8 and 2), saturation 2.2 / (1 + 1.2 (0.25 + 0.75·1.6)) < 1.
        let long = "invoice alpha beta gamma delta epsilon zeta eta";
        let r = bm25(&stemmer(), "invoice", &[long, "invoice theta"]);
        let sat = 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 1.6));
        assert!((r[0] - sat).abs() < 1e-12, "{r:?} vs {sat}");
        assert!((r[1] - 1.0).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn context_precision_is_average_precision_over_ranks() {
        assert_eq!(context_precision(&[]), None);
        assert_eq!(context_precision(&[false, false]), Some(0.0));
        assert_eq!(context_precision(&[true]), Some(1.0));
        // Relevant at ranks 1 and 3: (1/1 + 2/3) / 2 = 5/6.
        let cp = context_precision(&[true, false, true]).unwrap();
        assert!((cp - 5.0 / 6.0).abs() < 1e-12);
        // The same passages, relevant one last: (1/3) / 1.
        let cp = context_precision(&[false, false, true]).unwrap();
        assert!((cp - 1.0 / 3.0).abs() < 1e-12);
        // RAGAS' own worked example: [1, 0, 1, 1] → (1 + 2/3 + 3/4) / 3.
        let cp = context_precision(&[true, false, true, true]).unwrap();
        assert!((cp - (1.0 + 2.0 / 3.0 + 0.75) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_score_says_empty_irrelevant_or_neither() {
        let st = stemmer();
        let q = "How long is the warranty on the blender?";
        let s = score(&st, q, &[], 0.3);
        assert_eq!(
            s.reason.as_deref(),
            Some("empty retrieval: no context passages")
        );
        assert!(s.informational && !s.passed && s.value.is_none());
        let f = RetrievalFacts::of(&s).unwrap();
        assert!(f.empty && !f.irrelevant && f.passages == 0.0);
        assert!(
            score(&st, q, &["  ".into()], 0.3)
                .reason
                .unwrap()
                .starts_with("empty")
        );

        let off = vec!["Our office is closed on public holidays.".to_string()];
        let s = score(&st, q, &off, 0.3);
        let f = RetrievalFacts::of(&s).unwrap();
        assert!(f.irrelevant && !f.empty, "{s:?}");
        assert_eq!(f.context_precision, Some(0.0));
        assert!(s.reason.unwrap().starts_with("irrelevant retrieval"));

        let on = vec![
            off[0].clone(),
            "The blender comes with a two-year warranty.".to_string(),
        ];
        let s = score(&st, q, &on, 0.3);
        let f = RetrievalFacts::of(&s).unwrap();
        assert!(!f.irrelevant && !f.empty && f.passages == 2.0, "{s:?}");
        // Relevant at rank 2 only: 1/2.
        assert_eq!(f.context_precision, Some(0.5));
        assert!(s.passed && s.reason.is_none());
    }

    #[test]
    fn odd_input_never_panics() {
        let st = stemmer();
        let big = "warranty ".repeat(50_000);
        let passages: Vec<String> = (0..500).map(|i| format!("passage {i} 🎉 東京")).collect();
        let s = score(&st, &big, &passages, 0.3);
        assert_eq!(RetrievalFacts::of(&s).unwrap().passages, 500.0);
        let r = bm25(&st, "東京", &["東京 tower", "\u{202e}"]);
        assert!(r.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}
