//! The metrics a custom alert rule (`alerts.rules` of a probe) can test: the numbers of a
//! target's summary in the run's JSON document, named by their key path there
//! (`error_rate`, `latency_ms.p95`, `quality.format_compliance`), plus one derived figure,
//! `cost_per_request_usd`. One table, read by config validation (unknown names, "did you
//! mean") and by the rules (the value, its label and unit), so the two cannot disagree.

use serde_json::Value;

use crate::config::Unit;

/// A metric a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The key path in `summary` of the JSON document (dots between keys).
    pub name: &'static str,
    /// How a message names it, symptom first: "Cost per request".
    pub label: &'static str,
    pub unit: Unit,
}

const fn m(name: &'static str, label: &'static str, unit: Unit) -> Metric {
    Metric { name, label, unit }
}

/// Every metric a rule can name, in the order the docs list them.
pub const METRICS: &[Metric] = &[
    m("error_rate", "Error rate", Unit::Rate),
    m("attempt_error_rate", "Attempt error rate", Unit::Rate),
    m("pass_rate", "Pass rate", Unit::Rate),
    m("pass_at_1", "Case pass rate (pass@1)", Unit::Rate),
    m("pass_pow_n", "Cases passing every sample", Unit::Rate),
    m("latency_ms.p50", "Latency p50", Unit::Millis),
    m("latency_ms.p95", "Latency p95", Unit::Millis),
    m("latency_ms.p99", "Latency p99", Unit::Millis),
    m("latency_ms.mean", "Mean latency", Unit::Millis),
    m("latency_ms.max", "Slowest answer", Unit::Millis),
    m("ttft_ms.p50", "Time to first token p50", Unit::Millis),
    m("ttft_ms.p95", "Time to first token p95", Unit::Millis),
    m("ttft_ms.p99", "Time to first token p99", Unit::Millis),
    m("cost_usd", "Cost of the run", Unit::Usd),
    m("cost_per_request_usd", "Cost per request", Unit::Usd),
    m("tokens.input", "Input tokens", Unit::Count),
    m("tokens.output", "Output tokens", Unit::Count),
    m("requests", "Requests", Unit::Count),
    m("samples", "Samples", Unit::Count),
    m("answered", "Answered samples", Unit::Count),
    m("retries", "Retries", Unit::Count),
    m(
        "skipped_budget",
        "Samples skipped for the budget",
        Unit::Count,
    ),
    m("rate_limited_ms", "Time rate-limited", Unit::Millis),
    m("requests_per_second", "Requests per second", Unit::Count),
    m("quality.format_compliance", "Format compliance", Unit::Rate),
    m("quality.over_refusal", "Over-refusal rate", Unit::Rate),
    m("quality.under_refusal", "Under-refusal rate", Unit::Rate),
    m("quality.hallucination", "Hallucination rate", Unit::Rate),
    m(
        "quality.grounding_support",
        "Grounding support",
        Unit::Score,
    ),
    m(
        "quality.similarity",
        "Similarity to the reference",
        Unit::Score,
    ),
    m("quality.cosine", "Embedding similarity", Unit::Score),
    m("quality.judge_pass", "Judge pass rate", Unit::Rate),
    m("quality.truncation", "Truncation rate", Unit::Rate),
    m("quality.empty_answer", "Empty-answer rate", Unit::Rate),
    m("quality.safety_flags", "Safety-flag rate", Unit::Rate),
    m(
        "quality.length.tokens.p50",
        "Answer length p50 (tokens)",
        Unit::Count,
    ),
    m(
        "quality.length.tokens.p95",
        "Answer length p95 (tokens)",
        Unit::Count,
    ),
    m(
        "quality.length.chars.p50",
        "Answer length p50 (characters)",
        Unit::Count,
    ),
    m(
        "quality.length.chars.p95",
        "Answer length p95 (characters)",
        Unit::Count,
    ),
    // issue 13, latency by component (`summary.components`; any other component, a
    // server's `retrieval` say, is `components.<name>.<stat>`, see `component_metric`)
    m(
        "components.ttfb.p50",
        "Time to first byte p50",
        Unit::Millis,
    ),
    m(
        "components.ttfb.p95",
        "Time to first byte p95",
        Unit::Millis,
    ),
    m(
        "components.ttfb.p99",
        "Time to first byte p99",
        Unit::Millis,
    ),
    m(
        "components.connect.p95",
        "Connect (TCP+TLS) p95",
        Unit::Millis,
    ),
    m(
        "components.network_overhead.p50",
        "Network overhead p50",
        Unit::Millis,
    ),
    m(
        "components.network_overhead.p95",
        "Network overhead p95",
        Unit::Millis,
    ),
    m(
        "components.token_gap_p50.p50",
        "Median gap between tokens",
        Unit::Millis,
    ),
    m(
        "components.token_gap_p95.p95",
        "Gap between tokens p95",
        Unit::Millis,
    ),
    // Tone and output character (issue 13).
    m(
        "quality.tone.sentiment",
        "Mean sentiment (VADER)",
        Unit::Score,
    ),
    m(
        "quality.tone.hedging",
        "Share of hedging sentences",
        Unit::Rate,
    ),
    m(
        "quality.tone.hedged_answers",
        "Hedging answer rate",
        Unit::Rate,
    ),
    m(
        "quality.tone.exclamation",
        "Share of exclaiming sentences",
        Unit::Rate,
    ),
    m(
        "quality.tone.exclaiming_answers",
        "Exclaiming answer rate",
        Unit::Rate,
    ),
    m("quality.tone.caps", "Share of ALL-CAPS words", Unit::Rate),
    m(
        "quality.tone.all_caps_answers",
        "All-caps answer rate",
        Unit::Rate,
    ),
    m(
        "quality.tone.reading_grade",
        "Mean reading grade",
        Unit::Grade,
    ),
    m(
        "quality.tone.language_mismatch",
        "Wrong-language answer rate",
        Unit::Rate,
    ),
    m("quality.tone.markdown", "Markdown use", Unit::Rate),
    m("quality.tone.list", "List use", Unit::Rate),
    m("quality.tone.code_fence", "Code-fence use", Unit::Rate),
    m(
        "quality.tone.expect_fail",
        "Tone expectation failure rate",
        Unit::Rate,
    ),
];

/// issue 13: `components.<name>.<stat>` for a component not listed in `METRICS` (the
/// server's own names, `dns`), one entry per statistic.
const COMPONENT_STATS: [Metric; 5] = [
    m("components.<name>.p50", "Component p50", Unit::Millis),
    m("components.<name>.p95", "Component p95", Unit::Millis),
    m("components.<name>.p99", "Component p99", Unit::Millis),
    m(
        "components.<name>.mean",
        "Mean component time",
        Unit::Millis,
    ),
    m(
        "components.<name>.max",
        "Slowest component time",
        Unit::Millis,
    ),
];

/// The metric of a component rule (`components.retrieval.p95`): any component name (the
/// characters `Server-Timing` and `response.timings` allow) and one of the five statistics.
fn component_metric(name: &str) -> Option<&'static Metric> {
    let (component, stat) = name.strip_prefix("components.")?.rsplit_once('.')?;
    let valid = !component.is_empty()
        && component.len() <= 64
        && component
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'.' | b'"' | b',' | b';' | b'='));
    if !valid {
        return None;
    }
    COMPONENT_STATS
        .iter()
        .find(|m| m.name.rsplit_once('.').is_some_and(|(_, s)| s == stat))
}

/// The metric named `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS
        .iter()
        .find(|m| m.name == name)
        .or_else(|| component_metric(name))
}

/// Every metric name, for "did you mean".
pub fn names() -> Vec<&'static str> {
    METRICS.iter().map(|m| m.name).collect()
}

/// The value of `name` in a summary as the JSON document holds it (`summary`, or an entry
/// of `targets[].summary`). `None` when the run did not measure it (`null`: no case asks
/// for the quality metric, no answer to time): a rule over it then says nothing.
pub fn value_in(summary: &Value, name: &str) -> Option<f64> {
    if name == "cost_per_request_usd" {
        let requests = summary.get("requests")?.as_f64()?;
        let cost = summary.get("cost_usd")?.as_f64()?;
        return (requests > 0.0).then(|| cost / requests);
    }
    let mut v = summary;
    for key in name.split('.') {
        v = v.get(key)?;
    }
    // Rates and mean scores are objects (`{value, ci, n}`); the rule tests their value.
    let v = v.get("value").unwrap_or(v);
    v.as_f64().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_numbers_rates_and_derived_cost() {
        let s = serde_json::json!({
            "error_rate": 0.25, "requests": 4, "cost_usd": 0.01,
            "latency_ms": { "p95": 812.5, "p99": null },
            "quality": { "format_compliance": { "value": 0.5, "ci": [0.1, 0.9], "n": 4 },
                         "hallucination": null },
        });
        assert_eq!(value_in(&s, "error_rate"), Some(0.25));
        assert_eq!(value_in(&s, "latency_ms.p95"), Some(812.5));
        assert_eq!(value_in(&s, "latency_ms.p99"), None);
        assert_eq!(value_in(&s, "quality.format_compliance"), Some(0.5));
        assert_eq!(value_in(&s, "quality.hallucination"), None);
        assert_eq!(value_in(&s, "cost_per_request_usd"), Some(0.0025));
        assert!(METRICS.iter().all(|m| metric(m.name) == Some(m)));
    }

    #[test]
    fn any_component_can_be_named_with_a_statistic() {
        let s = serde_json::json!({
            "components": { "retrieval": { "p95": 140.0, "samples": 3 }, "dns": { "p50": null } }
        });
        let m = metric("components.retrieval.p95").unwrap();
        assert_eq!(m.label, "Component p95");
        // The rule reads the value under the name it was given, not the table's pattern.
        assert_eq!(value_in(&s, "components.retrieval.p95"), Some(140.0));
        assert_eq!(value_in(&s, "components.dns.p50"), None);
        assert_eq!(
            metric("components.ttfb.p95").unwrap().label,
            "Time to first byte p95"
        );
        for bad in [
            "components.retrieval.p90",
            "components..p95",
            "components.a.b.p95",
            "components.x",
        ] {
            assert!(metric(bad).is_none(), "{bad}");
        }
    }
}
