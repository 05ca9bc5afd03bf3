//! Baseline files: a self-contained, versioned JSON document — which run, which probe and
//! target, its labels (e.g. `model_version`), and the run's `Evidence` — so a CI job can
//! commit one and gate without any database. The same document is what `baseline promote`
//! keeps in the store. Format: docs/baseline-format.md.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::display_path;
use crate::summary::Evidence;

mod validate;

/// The `format` field of every baseline file.
pub const FORMAT: &str = "probity-baseline";
/// The newest format version this binary reads and the one it writes.
pub const VERSION: u32 = 1;

/// A baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always `probity-baseline`.
    pub format: String,
    /// Format version; readers refuse newer ones.
    pub version: u32,
    pub probe: String,
    /// The run it was made from.
    pub run_id: String,
    /// The target of that run it describes.
    pub target: String,
    /// The target's labels in that run.
    pub labels: BTreeMap<String, String>,
    /// When the run started.
    pub run_started_at: DateTime<Utc>,
    /// When the baseline was made.
    pub created_at: DateTime<Utc>,
    pub evidence: Evidence,
}

/// A baseline that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the baseline file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the baseline file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a baseline file: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: `format` is `{found}`, not `{FORMAT}`; make baseline files with `probity baseline export`"
    )]
    Format { path: String, found: String },
    #[error(
        "{path}: baseline format version {found} is newer than this probity reads ({VERSION}); upgrade probity"
    )]
    Version { path: String, found: u32 },
    /// Parses, but what it says cannot be true of any run (hand-edited or corrupt): a
    /// comparison with it would be meaningless, so it is refused, naming the field.
    #[error(
        "{path}: `{field}` {problem}; the file was edited or is corrupt: export it again with `probity baseline export`"
    )]
    Invalid {
        path: String,
        field: String,
        problem: String,
    },
}

impl Baseline {
    pub fn new(
        probe: &str,
        run_id: &str,
        target: &str,
        labels: BTreeMap<String, String>,
        run_started_at: DateTime<Utc>,
        evidence: Evidence,
    ) -> Self {
        Baseline {
            format: FORMAT.to_string(),
            version: VERSION,
            probe: probe.to_string(),
            run_id: run_id.to_string(),
            target: target.to_string(),
            labels,
            run_started_at,
            created_at: Utc::now(),
            evidence,
        }
    }

    /// Reads a document (from a file or the store), checking format and version.
    pub fn from_json(text: &str, origin: &str) -> Result<Baseline, BaselineError> {
        // Check the envelope first, so an old or foreign file gets the right message.
        #[derive(Deserialize)]
        struct Envelope {
            format: Option<String>,
            version: Option<u32>,
        }
        let parse = |e: serde_json::Error| BaselineError::Parse {
            path: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let envelope: Envelope = serde_json::from_str(text).map_err(parse)?;
        match envelope.format.as_deref() {
            Some(FORMAT) => {}
            other => {
                return Err(BaselineError::Format {
                    path: origin.to_string(),
                    found: other.unwrap_or("(missing)").to_string(),
                });
            }
        }
        if let Some(v) = envelope.version.filter(|v| *v > VERSION) {
            return Err(BaselineError::Version {
                path: origin.to_string(),
                found: v,
            });
        }
        let baseline: Baseline = serde_json::from_str(text).map_err(parse)?;
        validate::evidence(&baseline.evidence).map_err(|(field, problem)| {
            BaselineError::Invalid {
                path: origin.to_string(),
                field,
                problem,
            }
        })?;
        Ok(baseline)
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: display_path(path),
            source,
        })?;
        Baseline::from_json(&text, &display_path(path))
    }

    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let err = |source| BaselineError::Write {
            path: display_path(path),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        std::fs::write(path, text + "\n").map_err(err)
    }

    /// Answered samples behind it.
    pub fn answered(&self) -> u64 {
        self.evidence.rates.get("sample_fail").map_or(0, |c| c.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::summary::{CaseOutcome, Count, EvidenceBuilder};

    /// Evidence of 10 samples (1 error, 9 answered), consistent in every count.
    fn evidence() -> Evidence {
        let mut e = EvidenceBuilder::new(0).finish();
        for (name, c) in e.rates.iter_mut() {
            *c = match name.as_str() {
                "error" => Count { events: 1, n: 10 },
                "under_refusal" => Count { events: 0, n: 2 },
                "over_refusal" => Count { events: 1, n: 7 },
                _ => Count { events: 0, n: 9 },
            };
        }
        for (name, r) in e.continuous.iter_mut() {
            r.seen = 9;
            r.values = vec![if name == "cosine" { -0.5 } else { 0.5 }; 9];
        }
        e.finish_reasons.insert("stop".into(), 8);
        e.finish_reasons.insert("length".into(), 1);
        e.vocabulary.answers = 9;
        e.vocabulary.top.insert("refund".into(), 5);
        e.vocabulary.top.insert("days".into(), 3);
        e.vocabulary.other = 2;
        e.vocabulary.words = 10;
        e.cases.insert(
            "s/a".into(),
            CaseOutcome {
                samples: 10,
                passes: 9,
                min_pass_rate: 0.8,
            },
        );
        e
    }

    fn baseline(e: Evidence) -> Baseline {
        Baseline::new("bot", "r1", "default", BTreeMap::new(), Utc::now(), e)
    }

    fn load(e: Evidence) -> Result<Baseline, BaselineError> {
        let text = serde_json::to_string(&baseline(e)).unwrap();
        Baseline::from_json(&text, "b.json")
    }

    /// The error message of loading `e`, which must be refused.
    fn refused(e: Evidence) -> String {
        match load(e) {
            Err(err @ BaselineError::Invalid { .. }) => err.to_string(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn consistent_evidence_is_accepted() {
        load(evidence()).unwrap();
        load(EvidenceBuilder::new(0).finish()).unwrap();
    }

    #[test]
    fn counts_no_run_records_are_refused_before_they_can_overflow() {
        // Every count at u64::MAX: the refusal sum overflowed (a panic in debug, a wrap
        // that accepted the file in release).
        let mut e = evidence();
        for c in e.rates.values_mut() {
            *c = Count {
                events: 0,
                n: u64::MAX,
            };
        }
        assert!(
            refused(e).contains("more than any run records"),
            "huge counts are refused"
        );
    }

    #[test]
    fn counts_that_do_not_add_up_are_refused_by_field() {
        let mut e = evidence();
        e.rates.get_mut("error").unwrap().events = 11;
        assert_eq!(
            refused(e),
            "b.json: `evidence.rates.error.events` is 11, more than its n (10); the file was edited or is corrupt: export it again with `probity baseline export`"
        );
        let mut e = evidence();
        e.rates.get_mut("truncation").unwrap().n = 10;
        assert!(
            refused(e).contains(
                "`evidence.rates.truncation.n` is 10, more than the answered samples (9)"
            )
        );
        let mut e = evidence();
        e.rates.get_mut("under_refusal").unwrap().n = 3;
        assert!(refused(e).contains("`evidence.rates.under_refusal.n` plus over_refusal.n is 10"));
        let mut e = evidence();
        e.rates.remove("judge_fail");
        assert!(refused(e).contains("`evidence.rates.judge_fail` is missing"));
        let mut e = evidence();
        e.cases.get_mut("s/a").unwrap().passes = 11;
        assert!(
            refused(e).contains("`evidence.cases.s/a.passes` is 11, more than its samples (10)")
        );
        let mut e = evidence();
        e.cases.get_mut("s/a").unwrap().samples = 12;
        e.cases.get_mut("s/a").unwrap().passes = 1;
        assert!(
            refused(e).contains("`evidence.cases` hold 12 samples in all, more than error.n (10)")
        );
        let mut e = evidence();
        e.finish_reasons.insert("stop".into(), 9);
        assert!(
            refused(e).contains("`evidence.finish_reasons` add up to 10, but vocabulary.answers")
        );
    }

    #[test]
    fn a_vocabulary_whose_parts_exceed_its_words_is_refused() {
        let mut e = evidence();
        e.vocabulary.top.insert("refund".into(), 500);
        assert!(
            refused(e).contains(
                "`evidence.vocabulary.top.refund` is 500, more than vocabulary.words (10)"
            )
        );
        let mut e = evidence();
        e.vocabulary.other = 3;
        assert!(
            refused(e)
                .contains("`evidence.vocabulary.words` is 10, but top and other add up to 11")
        );
        let mut e = evidence();
        e.vocabulary.other = u64::MAX;
        assert!(refused(e).contains("add up to more than 2^64"));
        // A word from the file is shown escaped.
        let mut e = evidence();
        e.vocabulary.top.insert("\u{1b}[31m\u{202e}x".into(), 11);
        let msg = refused(e);
        assert!(msg.contains("top.\\u{1b}[31m\\u{202e}x` is 11"), "{msg}");
    }

    #[test]
    fn values_outside_their_metric_or_a_reservoir_off_its_count_are_refused() {
        let mut e = evidence();
        e.continuous.get_mut("latency_ms").unwrap().values[3] = -4.0;
        assert!(refused(e).contains("`evidence.continuous.latency_ms.values[3]` is -4, outside the metric's range (at least 0)"));
        let mut e = evidence();
        e.continuous.get_mut("similarity").unwrap().values[0] = 1.5;
        assert!(
            refused(e)
                .contains("similarity.values[0]` is 1.5, outside the metric's range (0 to 1)")
        );
        let mut e = evidence();
        e.continuous.get_mut("cost_usd").unwrap().values.pop();
        assert!(refused(e).contains("`evidence.continuous.cost_usd.values` holds 8 values; with seen 9 and cap 5000 it must hold 9"));
        let mut e = evidence();
        e.continuous.get_mut("ttft_ms").unwrap().seen = 10;
        assert!(refused(e).contains(
            "`evidence.continuous.ttft_ms.seen` is 10, more than the answered samples (9)"
        ));
        let mut e = evidence();
        e.cases.get_mut("s/a").unwrap().min_pass_rate = 1.5;
        assert!(refused(e).contains("min_pass_rate` is 1.5, not between 0 and 1"));
    }

    #[test]
    fn non_finite_and_negative_numbers_in_the_text_are_refused() {
        let text = serde_json::to_string(&baseline(evidence())).unwrap();
        // serde_json writes NaN as null, and reads neither null nor 1e999 as a number.
        for (from, to) in [
            ("\"min_pass_rate\":0.8", "\"min_pass_rate\":null"),
            ("\"min_pass_rate\":0.8", "\"min_pass_rate\":1e999"),
            ("\"passes\":9", "\"passes\":-9"),
            ("\"seen\":9", "\"seen\":9.5"),
        ] {
            assert!(text.contains(from));
            let err = Baseline::from_json(&text.replacen(from, to, 1), "b.json").unwrap_err();
            assert!(matches!(err, BaselineError::Parse { .. }), "{to}: {err}");
            assert!(err.to_string().starts_with("b.json:1:"), "{err}");
        }
        let mut e = evidence();
        e.cases.get_mut("s/a").unwrap().min_pass_rate = f64::NAN;
        assert!(load(e).is_err());
    }

    #[test]
    fn round_trips_and_refuses_foreign_or_newer_files() {
        let b = baseline(evidence());
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(Baseline::from_json(&text, "b.json").unwrap(), b);
        let foreign = text.replace(FORMAT, "something-else");
        assert!(matches!(
            Baseline::from_json(&foreign, "b.json"),
            Err(BaselineError::Format { .. })
        ));
        let newer = text.replace("\"version\":1", "\"version\":99");
        assert!(matches!(
            Baseline::from_json(&newer, "b.json"),
            Err(BaselineError::Version { found: 99, .. })
        ));
        let broken = Baseline::from_json("{\"format\": ", "b.json")
            .unwrap_err()
            .to_string();
        assert!(broken.starts_with("b.json:1:"), "{broken}");
    }
}
