//! A Markdown summary of a run, fit for `$GITHUB_STEP_SUMMARY` or a merge-request comment:
//! the verdict, the findings, the headline figures and the cases that did not pass. Model
//! output is escaped so an answer cannot inject Markdown or HTML into the page.

use std::fmt::Write;

use super::numbers;
use crate::compare::{FindingKind, Verdict, format_ms, format_rate};
use crate::inert;
use crate::pipeline::RunOutcome;
use crate::summary::CaseStatus;

/// Escapes text for a Markdown table cell or paragraph: markup characters are escaped, HTML
/// cannot open, newlines are flattened, hidden characters (bidi overrides, zero-width marks)
/// are shown as `\u{..}`, and a word GitHub would autolink (a URL, `www.` host or e-mail
/// address) is put in a code span, where no link is made.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            escape_word(&word, &mut out);
            word.clear();
            out.push(' ');
        } else {
            word.push(c);
        }
    }
    escape_word(&word, &mut out);
    out
}

fn escape_word(word: &str, out: &mut String) {
    if word.is_empty() {
        return;
    }
    if inert::linkable(word) {
        code_span(word, out);
        return;
    }
    for c in word.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            c if inert::is_hidden(c) => out.push_str(&inert::escaped(c)),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// `word` as a code span: shown as written, never a link. The fence is longer than any run
/// of backticks inside; `|` stays escaped so a table cell does not split.
fn code_span(word: &str, out: &mut String) {
    let mut content = String::new();
    for c in word.chars() {
        match c {
            '|' => content.push_str("\\|"),
            c if inert::is_hidden(c) => content.push_str(&inert::escaped(c)),
            c if c.is_control() => {}
            c => content.push(c),
        }
    }
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if content.starts_with('`') || content.ends_with('`') {
        " "
    } else {
        ""
    };
    out.push_str(&format!("{fence}{pad}{content}{pad}{fence}"));
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
        let drifted = c
            .comparison
            .tests
            .iter()
            .filter(|t| t.severity.is_some())
            .count();
        let moved = c.comparison.undecided.iter().filter(|u| u.moved).count();
        let open = c.comparison.undecided.len() - moved;
        let _ = writeln!(
            md,
            "\nCompared with {}{}{}: {} tests, {drifted} drift, {moved} inconclusive, {open} undecided.",
            escape(&c.source),
            // From a baseline file, so untrusted: escaped, never inside a hand-made span.
            c.run_id
                .as_deref()
                .map(|r| format!(" {}", escape(r)))
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
            let label = if f.kind == FindingKind::Inconclusive {
                "inconclusive"
            } else {
                f.severity.as_str()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                label,
                escape(&f.metric),
                escape(numbers::without_severity(&f.message, f.severity))
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
            "| {} | {} | {} | {} | {} | {} | {} |",
            escape(&t.summary.target),
            f.samples,
            format_rate(f.error_rate),
            ms(f.latency_ms.p50),
            ms(f.latency_ms.p95),
            format_rate(f.pass_rate),
            numbers::format_usd(f.cost_usd)
        );
    }
    // Tone and output character (issue 13).
    for t in &outcome.targets {
        if let Some(tone) = &t.summary.quality.tone {
            let _ = writeln!(
                md,
                "\nTone of {}: {}.",
                escape(&t.summary.target),
                escape(&tone.line())
            );
        }
    }
    if let Some(primary) = outcome.primary() {
        by_label(&mut md, &primary.summary);
    }
    // retrieval relevance (RAG): only for targets that had RAG cases.
    for t in &outcome.targets {
        let q = &t.summary.quality;
        let (Some(empty), Some(irrelevant)) = (q.empty_retrieval, q.irrelevant_retrieval) else {
            continue;
        };
        let _ = writeln!(
            md,
            "\nRetrieval on {}: empty {}, irrelevant {}, context precision {}, {} passages per answer.",
            escape(&t.summary.target),
            format_rate(empty.value),
            format_rate(irrelevant.value),
            q.context_precision
                .map_or_else(|| "—".to_string(), |m| format!("{:.2}", m.value)),
            q.passages
                .map_or_else(|| "—".to_string(), |m| format!("{:.1}", m.value)),
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
    // Issue 15: the sequential gate's stop and sequences.
    if let Some(seq) = &outcome.sequential {
        md.push_str(&super::sequential::markdown_block(seq));
    }
    md
}

/// Cost by feature (issue 13): the primary target's figures per label key and value,
/// when the probe, its golden sets or cases have `labels:`.
fn by_label(md: &mut String, s: &crate::summary::RunSummary) {
    if s.by_label.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n| label | samples | errors | p95 | pass rate | cost | cost / request |\n|---|---|---|---|---|---|---|"
    );
    for (key, values) in &s.by_label {
        for (value, f) in values {
            let dash = || "—".to_string();
            let _ = writeln!(
                md,
                "| {}={} | {} | {} | {} | {} | {} | {} |",
                escape(key),
                escape(value),
                f.samples,
                format_rate(f.error_rate),
                f.latency_ms.p95.map(format_ms).unwrap_or_else(dash),
                f.pass_rate
                    .map(|r| format_rate(r.value))
                    .unwrap_or_else(dash),
                numbers::format_usd(f.cost_usd),
                f.cost_per_request_usd
                    .map(numbers::format_usd)
                    .unwrap_or_else(dash),
            );
        }
    }
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

    #[test]
    fn links_in_model_output_are_not_clickable() {
        // GitHub autolinks bare URLs, `www.` hosts and e-mail addresses in a step summary:
        // each is put in a code span, where it is shown but never linked.
        assert_eq!(
            escape("see https://evil.example/login?a=1|2 now"),
            r"see `https://evil.example/login?a=1\|2` now"
        );
        assert_eq!(
            escape("go to www.evil.example."),
            "go to `www.evil.example.`"
        );
        assert_eq!(
            escape("mail admin@evil.example"),
            "mail `admin@evil.example`"
        );
        // Backticks inside cannot close the span early.
        assert_eq!(escape("``https://x.y``"), "``` ``https://x.y`` ```");
        // Nothing outside a code span still looks like a link.
        for text in ["https://a.b/c", "WWW.A.B", "x@y.z", "(http://a.b)"] {
            let md = escape(text);
            assert!(md.starts_with('`') && md.ends_with('`'), "{md}");
        }
    }

    #[test]
    fn hidden_characters_are_shown_escaped() {
        assert_eq!(
            escape("ok\u{202e}gnp.exe\u{200b}\u{feff}\u{2066}"),
            r"ok\u{202e}gnp.exe\u{200b}\u{feff}\u{2066}"
        );
        assert_eq!(escape("https://a.b/\u{202e}x"), r"`https://a.b/\u{202e}x`");
    }
}
