//! `labels:` of probes, golden sets and cases (`feature: document-analysis`): what the
//! traffic of a case is for, carried by every observation it makes and summed per key and
//! value (`summary.by_label`). The keys follow Prometheus' label-name rule, so the ones a
//! probe lists under `metrics.labels` become `/metrics` labels exactly as written.
//!
//! Not to be confused with a *target's* `labels:` (`model_version`), which describe the
//! deployment answering: those go with the run, its baseline and its incidents.

use std::collections::BTreeMap;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::locate::escape;

/// Longest label key: Prometheus sets no limit, dashboards do.
pub const MAX_KEY_CHARS: usize = 64;
/// Longest label value: a feature name, not a sentence (each value is a series).
pub const MAX_VALUE_CHARS: usize = 128;

/// Why a label key is not a Prometheus label name, or `None` when it is one:
/// `[a-zA-Z_][a-zA-Z0-9_]*`, without the reserved `__` prefix.
pub fn key_problem(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let Some(first) = chars.next() else {
        return Some("a label key is empty".into());
    };
    if key.chars().count() > MAX_KEY_CHARS {
        return Some(format!(
            "label key `{}` is longer than {MAX_KEY_CHARS} characters",
            key.escape_debug()
        ));
    }
    let ok_first = first.is_ascii_alphabetic() || first == '_';
    if !ok_first || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "label key `{}` is not a Prometheus label name",
            key.escape_debug()
        ));
    }
    key.starts_with("__").then(|| {
        format!(
            "label key `{}` starts with `__`, which Prometheus reserves",
            key.escape_debug()
        )
    })
}

/// Checks the `labels` mapping at `pointer` (e.g. `/labels`, `/cases/3/labels`): keys are
/// label names, values non-empty and short. Every problem is pushed, each at its key.
pub fn check(
    doc: &Document,
    pointer: &str,
    labels: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) {
    for (key, value) in labels {
        let at = format!("{pointer}/{}", escape(key));
        if let Some(message) = key_problem(key) {
            problems.push(doc.error(&at, message).with_hint(
                "letters, digits and `_`, not starting with a digit, e.g. `feature` or `customer_segment`",
            ));
        }
        if value.trim().is_empty() {
            problems.push(
                doc.error(&at, format!("label `{key}` has an empty value"))
                    .with_hint("e.g. `feature: document-analysis`; leave the key out instead"),
            );
        } else if value.chars().count() > MAX_VALUE_CHARS {
            problems.push(
                doc.error(
                    &at,
                    format!("the value of label `{key}` is longer than {MAX_VALUE_CHARS} characters"),
                )
                .with_hint("a label names a group of cases (a feature, a segment), each value is a series of its own"),
            );
        }
    }
}

/// `over` laid on `base`, key by key (the more specific level's value wins).
pub fn merged(
    base: &BTreeMap<String, String>,
    over: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = base.clone();
    out.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prometheus_label_names() {
        assert_eq!(key_problem("feature"), None);
        assert_eq!(key_problem("_x9"), None);
        assert!(key_problem("").is_some());
        assert!(key_problem("9x").is_some());
        assert!(key_problem("model-version").is_some());
        assert!(key_problem("__name").is_some());
        assert!(key_problem(&"k".repeat(65)).is_some());
    }

    #[test]
    fn the_more_specific_level_wins() {
        let base = BTreeMap::from([("feature".into(), "a".into()), ("tier".into(), "x".into())]);
        let over = BTreeMap::from([("feature".to_string(), "b".to_string())]);
        let m = merged(&base, &over);
        assert_eq!(m["feature"], "b");
        assert_eq!(m["tier"], "x");
    }
}
