//! `quality.tone` of a run: the tone descriptors of its answers folded into means (with a
//! normal-approximation 95% interval, mean ± 1.96·sd/√n, `null` below two answers) and
//! rates (with Wilson intervals). Read off each answer's `tone` score (`ToneFacts`), so a
//! stored run summarises the same way again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::score::{Score, names};
use crate::summary::{CONFIDENCE, Count, Rate};

/// Share of an answer's words in ALL CAPS from which the answer counts as "all-caps"
/// in the per-answer rate: beyond the odd acronym ("API", "HTTP"), that is emphasis.
pub const CAPS_ANSWER_SHARE: f64 = 0.05;

/// The tone of one answer, read off its `tone` score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToneFacts {
    pub sentiment: f64,
    pub hedging: f64,
    pub exclamation: f64,
    pub caps: f64,
    pub reading_grade: Option<f64>,
    pub language: Option<String>,
    /// `Some` when the case expects a language.
    pub language_mismatch: Option<bool>,
    pub markdown: bool,
    pub list: bool,
    pub code_fence: bool,
    /// `Some(true)` when the case sets `expect.tone` and the answer is outside it.
    pub expect_failed: Option<bool>,
}

impl ToneFacts {
    /// From a `tone` score; `None` for any other score or one without descriptors.
    pub fn of(score: &Score) -> Option<ToneFacts> {
        if score.scorer != names::TONE {
            return None;
        }
        let d = score.detail.as_ref()?;
        let num = |k: &str| d.get(k).and_then(|v| v.as_f64()).filter(|v| v.is_finite());
        let flag = |k: &str| d.get(k).and_then(|v| v.as_bool());
        Some(ToneFacts {
            sentiment: num("sentiment")?,
            hedging: num("hedging").unwrap_or(0.0),
            exclamation: num("exclamation").unwrap_or(0.0),
            caps: num("caps").unwrap_or(0.0),
            reading_grade: num("reading_grade"),
            // An unsure guess (whatlang on a short answer) counts as `unknown`.
            language: d
                .get("language")
                .and_then(|v| v.as_str())
                .filter(|_| flag("language_reliable") == Some(true))
                .map(str::to_string),
            language_mismatch: flag("language_mismatch"),
            markdown: flag("markdown").unwrap_or(false),
            list: flag("list").unwrap_or(false),
            code_fence: flag("code_fence").unwrap_or(false),
            expect_failed: (!score.informational).then_some(!score.passed),
        })
    }

    /// The answer hedges at least once.
    pub fn hedges(&self) -> bool {
        self.hedging > 0.0
    }

    /// The answer exclaims at least once.
    pub fn exclaims(&self) -> bool {
        self.exclamation > 0.0
    }

    /// The answer's ALL-CAPS share reaches `CAPS_ANSWER_SHARE`.
    pub fn shouts(&self) -> bool {
        self.caps >= CAPS_ANSWER_SHARE
    }
}

/// A running mean and variance (Welford).
#[derive(Debug, Clone, Copy, Default)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    pub fn summary(&self) -> Option<MeanCi> {
        if self.n == 0 {
            return None;
        }
        let sd = (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).sqrt());
        // The two-sided normal quantile of `CONFIDENCE` (0.95).
        const Z: f64 = 1.959_963_984_540_054;
        debug_assert!((CONFIDENCE - 0.95).abs() < 1e-12);
        let z = Z;
        Some(MeanCi {
            value: self.mean,
            ci: sd.map(|sd| {
                let half = z * sd / (self.n as f64).sqrt();
                [self.mean - half, self.mean + half]
            }),
            sd,
            n: self.n,
        })
    }
}

/// A mean with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub value: f64,
    /// Normal approximation; `null` below two values.
    pub ci: Option<[f64; 2]>,
    /// Sample standard deviation; `null` below two values.
    pub sd: Option<f64>,
    pub n: u64,
}

/// Tone tallies of one scope (a run's target, or a case).
#[derive(Debug, Clone, Default)]
pub struct ToneTally {
    pub answers: u64,
    pub sentiment: Moments,
    pub hedging: Moments,
    pub exclamation: Moments,
    pub caps: Moments,
    pub reading_grade: Moments,
    pub hedged: Count,
    pub exclaimed: Count,
    pub shouted: Count,
    pub languages: BTreeMap<String, u64>,
    pub language_mismatch: Count,
    pub markdown: Count,
    pub list: Count,
    pub code_fence: Count,
    pub expect_fail: Count,
}

impl ToneTally {
    pub fn add(&mut self, t: Option<&ToneFacts>) {
        let Some(t) = t else { return };
        self.answers += 1;
        self.sentiment.add(t.sentiment);
        self.hedging.add(t.hedging);
        self.exclamation.add(t.exclamation);
        self.caps.add(t.caps);
        if let Some(g) = t.reading_grade {
            self.reading_grade.add(g);
        }
        self.hedged.add(t.hedges());
        self.exclaimed.add(t.exclaims());
        self.shouted.add(t.shouts());
        let lang = t.language.clone().unwrap_or_else(|| "unknown".into());
        *self.languages.entry(lang).or_default() += 1;
        self.language_mismatch.add_opt(t.language_mismatch);
        self.markdown.add(t.markdown);
        self.list.add(t.list);
        self.code_fence.add(t.code_fence);
        self.expect_fail.add_opt(t.expect_failed);
    }

    /// `None` when no answer was described.
    pub fn summary(&self) -> Option<ToneSummary> {
        let rate = |c: Count| Rate::of(c.events, c.n);
        (self.answers > 0).then(|| ToneSummary {
            answers: self.answers,
            sentiment: self.sentiment.summary(),
            hedging: self.hedging.summary(),
            hedged_answers: rate(self.hedged),
            exclamation: self.exclamation.summary(),
            exclaiming_answers: rate(self.exclaimed),
            caps: self.caps.summary(),
            all_caps_answers: rate(self.shouted),
            reading_grade: self.reading_grade.summary(),
            languages: self.languages.clone(),
            language_mismatch: rate(self.language_mismatch),
            markdown: rate(self.markdown),
            list: rate(self.list),
            code_fence: rate(self.code_fence),
            expect_fail: rate(self.expect_fail),
        })
    }
}

/// `quality.tone` in the JSON document (see docs/json.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneSummary {
    /// Answers described.
    pub answers: u64,
    /// Mean VADER compound (-1..1) of the answers (each the mean over its sentences).
    pub sentiment: Option<MeanCi>,
    /// Mean share of an answer's sentences that hedge.
    pub hedging: Option<MeanCi>,
    /// Answers with at least one hedging sentence.
    pub hedged_answers: Option<Rate>,
    /// Mean share of an answer's sentences ending in "!".
    pub exclamation: Option<MeanCi>,
    pub exclaiming_answers: Option<Rate>,
    /// Mean share of an answer's words in ALL CAPS.
    pub caps: Option<MeanCi>,
    /// Answers with at least `CAPS_ANSWER_SHARE` of their words in ALL CAPS.
    pub all_caps_answers: Option<Rate>,
    /// Mean Flesch–Kincaid grade.
    pub reading_grade: Option<MeanCi>,
    /// Answers per detected language (ISO 639-1; `unknown` when not detected, or not
    /// reliably: whatlang is often unsure of a sentence or two).
    pub languages: BTreeMap<String, u64>,
    /// Answers not in the language their case expects (reliable detections only).
    pub language_mismatch: Option<Rate>,
    /// Answers using Markdown formatting, lists, code fences.
    pub markdown: Option<Rate>,
    pub list: Option<Rate>,
    pub code_fence: Option<Rate>,
    /// Answers outside their case's `expect.tone`.
    pub expect_fail: Option<Rate>,
}

impl ToneSummary {
    /// One line for the terminal and Markdown summaries: "sentiment 0.52 · hedging 12% ·
    /// exclaiming 67% · caps 0% · grade 8.2 · en 30 · markdown 0% · lists 0% · fences 0%",
    /// plus the wrong-language and expectation-failure rates where cases ask for them.
    pub fn line(&self) -> String {
        use crate::compare::format_rate;
        let mut parts = Vec::new();
        if let Some(m) = self.sentiment {
            parts.push(format!("sentiment {:.2}", m.value));
        }
        let mut share = |label: &str, m: Option<MeanCi>| {
            if let Some(m) = m {
                parts.push(format!("{label} {}", format_rate(m.value)));
            }
        };
        share("hedging", self.hedging);
        share("exclaiming", self.exclamation);
        share("caps", self.caps);
        if let Some(g) = self.reading_grade {
            parts.push(format!("grade {:.1}", g.value));
        }
        let mut langs: Vec<(&String, &u64)> = self.languages.iter().collect();
        langs.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        if !langs.is_empty() {
            let shown: Vec<String> = langs
                .iter()
                .take(3)
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            parts.push(shown.join(", "));
        }
        for (label, r) in [
            ("markdown", self.markdown),
            ("lists", self.list),
            ("fences", self.code_fence),
            ("wrong language", self.language_mismatch),
            ("outside expect.tone", self.expect_fail),
        ] {
            if let Some(r) = r {
                parts.push(format!("{label} {}", format_rate(r.value)));
            }
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_the_textbook() {
        let mut m = Moments::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.add(x);
        }
        let s = m.summary().expect("summary");
        assert!((s.value - 5.0).abs() < 1e-12);
        // sample sd of that set: sqrt(32/7)
        assert!((s.sd.unwrap_or(0.0) - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let ci = s.ci.unwrap_or([0.0, 0.0]);
        let half = 1.959964 * (32.0f64 / 7.0).sqrt() / 8f64.sqrt();
        assert!((ci[1] - 5.0 - half).abs() < 1e-5, "{ci:?}");
        let mut one = Moments::default();
        one.add(0.3);
        assert_eq!(one.summary().and_then(|s| s.ci), None);
    }

    #[test]
    fn tally_folds_scores() {
        let mut t = ToneTally::default();
        let a = crate::score::tone::score(
            None,
            "Great! I love how well this works for everyone who tried it today.",
        );
        let b = crate::score::tone::score(None, "Yes. I think it may be broken.");
        for s in [&a, &b] {
            t.add(ToneFacts::of(s).as_ref());
        }
        let s = t.summary().expect("tone");
        assert_eq!(s.answers, 2);
        assert_eq!(s.hedged_answers.map(|r| r.count), Some(1));
        assert_eq!(s.exclaiming_answers.map(|r| r.count), Some(1));
        assert_eq!(s.expect_fail, None);
        assert_eq!(s.language_mismatch, None);
        let line = s.line();
        assert!(line.starts_with("sentiment 0."), "{line}");
        // Per answer 0 and 1/2 of the sentences hedge: a mean share of 25%.
        assert!(line.contains("hedging 25.0%"), "{line}");
        assert!(
            line.contains("en 1") && line.contains("unknown 1"),
            "{line}"
        );
        assert!(!line.contains("wrong language"), "{line}");
    }
}
