//! The label sets of probity's metrics, each a small closed set of keys, and the two rules
//! every label obeys: values are escaped for the text formats (`prometheus-client` writes
//! them as given, and probe, target and model names come from files), and label names made
//! from user keys (`labels:` of a target) are valid Prometheus names.

use prometheus_client::encoding::EncodeLabelSet;

/// A label value as the text formats need it: backslash, double quote and line feed
/// escaped (both the Prometheus text format and OpenMetrics define exactly these three).
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A valid Prometheus label name from a user's key: `[a-zA-Z_][a-zA-Z0-9_]*`, anything else
/// replaced by `_`, and never the reserved `__` prefix.
pub fn label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    while out.starts_with("__") {
        out.remove(0);
    }
    if out.is_empty() { "_".into() } else { out }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    pub probe: String,
}

impl ProbeLabels {
    pub fn new(probe: &str) -> Self {
        ProbeLabels {
            probe: label_value(probe),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub probe: String,
    pub target: String,
}

impl TargetLabels {
    pub fn new(probe: &str, target: &str) -> Self {
        TargetLabels {
            probe: label_value(probe),
            target: label_value(target),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub probe: String,
    /// pass, warn, fail, insufficient_data, could_not_probe, cancelled.
    pub result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub probe: String,
    pub target: String,
    /// ok or error.
    pub outcome: String,
    /// The provider's error class (timeout, rate_limited, server_error, ...), `none` for ok.
    pub error_class: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub probe: String,
    pub target: String,
    /// input or output.
    pub direction: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub probe: String,
    pub target: String,
    /// threshold, drift, trend, case, insufficient_data, inconclusive, could_not_probe.
    pub kind: String,
    pub severity: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabels {
    pub probe: String,
    pub severity: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// pending or failed.
    pub status: String,
}

/// Per case, only for probes with `metrics: { per_case: true }`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CaseLabels {
    pub probe: String,
    pub target: String,
    pub golden_set: String,
    pub case: String,
}

// issue 13, latency by component
/// `probity_component_latency_seconds`: one series per component and statistic.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub probe: String,
    pub target: String,
    /// `ttfb`, `connect`, `network_overhead`, or a server's name (`retrieval`).
    pub component: String,
    /// `p50` or `p95`.
    pub stat: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_escape_the_three_characters_the_formats_define() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label_value("plain-name"), "plain-name");
    }

    #[test]
    fn names_are_made_valid() {
        assert_eq!(label_name("model_version"), "model_version");
        assert_eq!(label_name("model-version"), "model_version");
        assert_eq!(label_name("2x"), "_2x");
        assert_eq!(label_name("__reserved"), "_reserved");
        assert_eq!(label_name(""), "_");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn any_key_becomes_a_valid_label_name(key in ".{0,20}") {
            let name = label_name(&key);
            prop_assert!(!name.is_empty());
            prop_assert!(!name.starts_with("__"));
            let mut chars = name.chars();
            let first = chars.next().unwrap_or('_');
            prop_assert!(first.is_ascii_alphabetic() || first == '_');
            prop_assert!(chars.all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }

        #[test]
        fn escaped_values_hold_no_raw_newline_or_lone_quote(value in ".{0,30}") {
            let escaped = label_value(&value);
            prop_assert!(!escaped.contains('\n'));
            // Every quote is preceded by an odd run of backslashes.
            let bytes = escaped.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'"' {
                    let run = bytes[..i].iter().rev().take_while(|c| **c == b'\\').count();
                    prop_assert!(run % 2 == 1, "{escaped}");
                }
            }
        }
    }
}
