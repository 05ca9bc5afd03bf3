//! A Markdown summary of a run, fit for `$GITHUB_STEP_SUMMARY` or a merge-request comment:
//! the verdict, the findings, the headline figures and the cases that did not pass. Model
//! output is escaped so an answer cannot inject Markdown or HTML into the page.

use std::fmt::Write;

use crate::compare::{Verdict, format_ms, format_rate};
use crate::pipeline::RunOutcome;
use crate::summary::CaseStatus;

/// Escapes text for a Markdown table cell or paragraph.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn markdown(outcome: &RunOutcome) -> String {
    let mut md = String::new();
    let icon = match outcome.verdict {
        Verdict::Pass => "✅",
        Verdict::Warn => "⚠️",
        Verdict::Fail => "❌",
        Verdict::InsufficientData => "❔",
    };
    let _ = writeln!(
        md,
        "## {icon} probity · {} · {}\n",
        escape(&outcome.probe),
        outcome.verdict.as_str()
    );
    let _ = writeln!(
        md,
        "Run `{}`, status **{}**.",
        outcome.run_id,
        outcome.status.as_str()
    );
    if let Some(reason) = &outcome.status_reason {
        let _ = writeln!(md, "\n> {}", escape(reason));
    }
    if let Some(c) = &outcome.comparison {
        let labels: Vec<String> = c
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        let _ = writeln!(
            md,
            "\nCompared with {}{}{}: {} tests.",
            escape(&c.source),
            c.run_id
                .as_deref()
                .map(|r| format!(" `{r}`"))
                .unwrap_or_default(),
            if labels.is_empty() {
                String::new()
            } else {
                format!(" ({})", labels.join(", "))
            },
            c.comparison.tests.len()
        );
    }
    if !outcome.findings.is_empty() {
        let _ = writeln!(md, "\n| severity | metric | finding |\n|---|---|---|");
        for f in &outcome.findings {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                f.severity.as_str(),
                escape(&f.metric),
                escape(&f.message)
            );
        }
    }
    let _ = writeln!(
        md,
        "\n| target | samples | errors | p50 | p95 | pass rate | cost |\n|---|---|---|---|---|---|---|"
    );
    for t in &outcome.targets {
        let f = &t.summary.figures;
        let ms = |v: Option<f64>| v.map(format_ms).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | ${:.4} |",
            escape(&t.summary.target),
            f.samples,
            format_rate(f.error_rate),
            ms(f.latency_ms.p50),
            ms(f.latency_ms.p95),
            format_rate(f.pass_rate),
            f.cost_usd
        );
    }
    if let Some(primary) = outcome.primary() {
        let failing: Vec<_> = primary
            .cases
            .iter()
            .filter(|c| c.status != CaseStatus::Pass)
            .collect();
        if !failing.is_empty() {
            let _ = writeln!(
                md,
                "\n<details><summary>{} case(s) not passing</summary>\n\n| case | status | passed | reason |\n|---|---|---|---|",
                failing.len()
            );
            for c in failing {
                let passed = c.figures.passes;
                let _ = writeln!(
                    md,
                    "| {}/{} | {} | {passed}/{} | {} |",
                    escape(&c.set),
                    escape(&c.id),
                    c.status.as_str(),
                    c.figures.samples,
                    escape(c.failing_reason.as_deref().unwrap_or(""))
                );
            }
            let _ = writeln!(md, "\n</details>");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_output_cannot_inject_markup() {
        assert_eq!(
            escape("a|b <script>x</script> **bold**\nnext"),
            r"a\|b &lt;script\>x&lt;/script\> \*\*bold\*\* next"
        );
    }
}
