//! Redaction: secrets resolved from the environment and the probe's `store.redact` patterns
//! are replaced by `[REDACTED]` in every text an observation carries, before it leaves the
//! runner — so the store, reports, logs and terminal never see them.

use std::borrow::Cow;

use regex::Regex;

use crate::config::{Probe, Secret};

pub const REDACTED: &str = "[REDACTED]";

/// What to scrub.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    patterns: Vec<Regex>,
}

impl Redactor {
    pub fn new(secrets: &[Secret], patterns: &[Regex]) -> Self {
        let mut secrets: Vec<String> = secrets
            .iter()
            .map(|s| s.expose().to_string())
            // Very short values would shred ordinary text; they are not credentials anyway.
            .filter(|s| s.len() >= 4)
            .collect();
        // Longest first, so a secret that contains another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor {
            secrets,
            patterns: patterns.to_vec(),
        }
    }

    /// For a probe: its secrets (API keys, header values) and its patterns.
    pub fn for_probe(probe: &Probe) -> Self {
        let mut secrets = probe.secrets.clone();
        let targets = std::iter::once(&probe.target)
            .chain(probe.targets.values())
            .chain(probe.judge.iter());
        for t in targets {
            secrets.extend(t.api_key.iter().cloned());
            secrets.extend(t.headers.values().cloned());
        }
        Redactor::new(&secrets, &probe.store.redact)
    }

    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        for pattern in &self.patterns {
            if pattern.is_match(&out) {
                out = Cow::Owned(pattern.replace_all(&out, REDACTED).into_owned());
            }
        }
        out
    }

    pub fn apply_owned(&self, text: String) -> String {
        match self.apply(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_secrets_and_patterns() {
        let r = Redactor::new(
            &[Secret::new("sk-abc123"), Secret::new("sk-abc123-long")],
            &[Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").unwrap()],
        );
        assert_eq!(
            r.apply("key sk-abc123-long and sk-abc123, ssn 123-45-6789"),
            "key [REDACTED] and [REDACTED], ssn [REDACTED]"
        );
        assert!(matches!(r.apply("nothing here"), Cow::Borrowed(_)));
    }
}
