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
        serde_json::from_str(text).map_err(parse)
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

    #[test]
    fn round_trips_and_refuses_foreign_or_newer_files() {
        let b = Baseline::new(
            "bot",
            "r1",
            "default",
            BTreeMap::from([("model_version".into(), "1".into())]),
            Utc::now(),
            Evidence::default(),
        );
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
