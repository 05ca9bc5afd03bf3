//! The terminal summary: verdict first, then the figures, quality, failing cases (with the
//! reason of one failing sample) and findings. Colour only on a terminal and never with
//! `NO_COLOR`; model output is stripped of control characters so an answer cannot rewrite the
//! operator's terminal.

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use super::numbers::{format_effect, format_usd, is_difference, plural, without_severity};
use crate::compare::{Finding, FindingKind, Severity, Verdict, format_ms, format_rate};
use crate::inert;
use crate::pipeline::{Progress, RunOutcome, RunStatus};
use crate::runner::Observation;
use crate::summary::{CaseStatus, CaseSummary, Percentiles, Rate, RunSummary};

/// ANSI styling that can be switched off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset (https://no-color.org).
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && io::stdout().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("1;33", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("1;32", t)
    }
}

/// Untrusted text made safe to print: control characters (ANSI escapes included) and hidden
/// ones (bidi overrides, zero-width marks) shown as `\u{..}`, newlines flattened, and cut to
/// `max` characters. Model output, and anything read from a committed file (baseline labels
/// and sources, golden case ids, notes quoting them), is printed only through this.
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || inert::is_hidden(c) => out.push_str(&inert::escaped(c)),
            c => out.push(c),
        }
    }
    out
}

/// Longest name, label or note printed whole.
const NAME_MAX: usize = 200;

/// `sanitize` for names and labels from configuration or a committed file.
fn clean(text: &str) -> String {
    sanitize(text, NAME_MAX)
}

fn verdict_label(style: &Style, verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass => style.green("PASS"),
        Verdict::Warn => style.yellow("WARN"),
        Verdict::Fail => style.red("FAIL"),
        Verdict::InsufficientData => style.yellow("INSUFFICIENT DATA"),
    }
}

fn severity_label(style: &Style, s: Severity) -> String {
    match s {
        Severity::Critical => style.red("CRITICAL"),
        Severity::Warning => style.yellow("WARNING "),
        Severity::Info => style.dim("INFO    "),
    }
}

/// A finding's label: its severity, or — for a metric that moved but could not be told
/// from noise — `INCONCLUSIVE`, so "0 drift" is never read as health.
fn finding_label(style: &Style, f: &Finding) -> String {
    if f.kind == FindingKind::Inconclusive {
        style.yellow("INCONCLUSIVE")
    } else {
        severity_label(style, f.severity)
    }
}

fn percentiles(p: &Percentiles) -> String {
    match (p.p50, p.p95, p.p99, p.mean, p.max) {
        (Some(p50), Some(p95), Some(p99), Some(mean), Some(max)) => format!(
            "p50 {}  p95 {}  p99 {}  mean {}  max {}",
            format_ms(p50),
            format_ms(p95),
            format_ms(p99),
            format_ms(mean),
            format_ms(max)
        ),
        _ => "—".to_string(),
    }
}

fn rate(r: &Option<Rate>) -> Option<String> {
    r.map(|r| format!("{} ({}/{})", format_rate(r.value), r.count, r.n))
}

/// Writes the whole summary of a run.
pub fn write_outcome(out: &mut dyn Write, outcome: &RunOutcome, style: &Style) -> io::Result<()> {
    writeln!(
        out,
        "{} {} · run {}",
        style.bold("probity"),
        style.bold(&clean(&outcome.probe)),
        clean(&outcome.run_id)
    )?;
    let status = match outcome.status {
        RunStatus::Complete => "complete".to_string(),
        other => style.yellow(other.as_str()),
    };
    writeln!(
        out,
        "  verdict {}   status {}",
        verdict_label(style, outcome.verdict),
        status
    )?;
    if let Some(reason) = &outcome.status_reason {
        writeln!(out, "  {}", style.yellow(&clean(reason)))?;
    }
    for target in &outcome.targets {
        write_target(out, &target.summary, &target.cases, outcome, style)?;
    }
    if let Some(c) = &outcome.comparison {
        // A baseline file comes with a pull request: its labels and source are untrusted.
        let labels: Vec<String> = c
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), clean(v)))
            .collect();
        writeln!(out)?;
        let drifted = c
            .comparison
            .tests
            .iter()
            .filter(|t| t.severity.is_some())
            .count();
        let (moved, open): (Vec<_>, Vec<_>) = c.comparison.undecided.iter().partition(|u| u.moved);
        let mut undecided = String::new();
        if !moved.is_empty() {
            undecided.push_str(&format!(", {} inconclusive", moved.len()));
        }
        if !open.is_empty() {
            undecided.push_str(&format!(", {} undecided", open.len()));
        }
        writeln!(
            out,
            "  {} {}{}{} · {} tests, {drifted} drift{undecided}",
            style.bold("baseline"),
            clean(&c.source),
            c.run_id
                .as_deref()
                .map(|r| format!(" {}", clean(r)))
                .unwrap_or_default(),
            if labels.is_empty() {
                String::new()
            } else {
                format!(" ({})", labels.join(", "))
            },
            c.comparison.tests.len(),
        )?;
        // When the verdict waits on them (a gate), say what would decide the metrics that
        // did not move but whose interval still reaches their minimum effect.
        if outcome.verdict == Verdict::InsufficientData {
            for u in open {
                writeln!(
                    out,
                    "    {} {}",
                    style.yellow("UNDECIDED   "),
                    sanitize(&u.message, 300)
                )?;
            }
        }
    }
    write_findings(out, &outcome.findings, style)?;
    for note in &outcome.notes {
        writeln!(out, "  {} {}", style.dim("note:"), clean(note))?;
    }
    Ok(())
}

fn write_target(
    out: &mut dyn Write,
    s: &RunSummary,
    cases: &[CaseSummary],
    outcome: &RunOutcome,
    style: &Style,
) -> io::Result<()> {
    let f = &s.figures;
    // An `http` target has no model: it is known by its URL (secrets already redacted).
    let model = outcome
        .info_of(&s.target)
        .map(|t| {
            let known_by = if !t.model.is_empty() {
                t.model.as_str()
            } else {
                t.base_url
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .unwrap_or("-")
            };
            format!("{} {}", clean(&t.provider), clean(known_by))
        })
        .unwrap_or_default();
    writeln!(out)?;
    writeln!(
        out,
        "  {} {}",
        style.bold(&format!("target {}", clean(&s.target))),
        style.dim(&model)
    )?;
    let seconds = (outcome.finished_at - outcome.started_at).num_milliseconds() as f64 / 1000.0;
    writeln!(
        out,
        "  samples   {} sent, {} answered{} in {:.1} s ({:.1} req/s)",
        f.samples,
        f.answered,
        if f.skipped_budget > 0 {
            format!(", {} skipped for budget", f.skipped_budget)
        } else {
            String::new()
        },
        seconds,
        s.requests_per_second
    )?;
    let errors: Vec<String> = f.errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
    writeln!(
        out,
        "  errors    {} ({}, 95% CI {}–{}){}{}",
        f.errors.values().sum::<u64>(),
        format_rate(f.error_rate),
        format_rate(f.error_rate_ci[0]),
        format_rate(f.error_rate_ci[1]),
        if errors.is_empty() {
            String::new()
        } else {
            format!("  [{}]", errors.join(", "))
        },
        if f.retries > 0 {
            format!(
                "  {}",
                plural(f.retries, "retried attempt", "retried attempts")
            )
        } else {
            String::new()
        },
    )?;
    writeln!(out, "  latency   {}", percentiles(&f.latency_ms))?;
    if f.ttft_ms.p50.is_some() {
        writeln!(out, "  ttft      {}", percentiles(&f.ttft_ms))?;
    }
    writeln!(
        out,
        "  tokens    in {}  out {}   cost {}",
        f.tokens.input,
        f.tokens.output,
        format_usd(f.cost_usd)
    )?;
    writeln!(
        out,
        "  pass      {} (95% CI {}–{}){}{}",
        format_rate(f.pass_rate),
        format_rate(f.pass_rate_ci[0]),
        format_rate(f.pass_rate_ci[1]),
        s.pass_at_1
            .map(|p| format!("  pass@1 {p:.2}"))
            .unwrap_or_default(),
        s.pass_pow_n
            .map(|p| format!("  pass^n {p:.2}"))
            .unwrap_or_default(),
    )?;
    let q = &s.quality;
    let mut quality = Vec::new();
    for (label, value) in [
        ("format", rate(&q.format_compliance)),
        ("over-refusal", rate(&q.over_refusal)),
        ("under-refusal", rate(&q.under_refusal)),
        ("hallucination", rate(&q.hallucination)),
        ("judge pass", rate(&q.judge_pass)),
        ("truncated", rate(&q.truncation)),
        ("empty", rate(&q.empty_answer)),
        ("safety flags", rate(&q.safety_flags)),
        (
            "grounding",
            q.grounding_support.map(|m| format!("{:.2}", m.value)),
        ),
        (
            "similarity",
            q.similarity.map(|m| format!("{:.2}", m.value)),
        ),
        ("cosine", q.cosine.map(|m| format!("{:.2}", m.value))),
    ] {
        if let Some(v) = value {
            quality.push(format!("{label} {v}"));
        }
    }
    if !quality.is_empty() {
        writeln!(out, "  quality   {}", quality.join(" · "))?;
    }
    // Tone and output character (issue 13).
    if let Some(tone) = &q.tone {
        writeln!(out, "  tone      {}", tone.line())?;
    }
    if let (Some(p50), Some(p95)) = (q.length.tokens.p50, q.length.tokens.p95) {
        writeln!(out, "  length    p50 {p50:.0} tokens, p95 {p95:.0} tokens")?;
    }
    for (set, c) in &q.classification {
        if let Some(acc) = c.accuracy {
            writeln!(
                out,
                "  accuracy  {set}: {} ({}/{})",
                format_rate(acc.value),
                acc.count,
                acc.n
            )?;
        }
    }
    write_by_label(out, s)?;
    write_cases(out, cases, style)
}

/// Cost by feature (issue 13): one line per label key and value, when the probe, its
/// golden sets or cases have `labels:`.
fn write_by_label(out: &mut dyn Write, s: &RunSummary) -> io::Result<()> {
    let mut head = "  by label ";
    for (key, values) in &s.by_label {
        for (value, f) in values {
            let p95 = f
                .latency_ms
                .p95
                .map(|ms| format!(" · p95 {}", format_ms(ms)))
                .unwrap_or_default();
            let pass = f
                .pass_rate
                .map(|r| format!(" · pass {}", format_rate(r.value)))
                .unwrap_or_default();
            let per_request = f
                .cost_per_request_usd
                .map(|c| format!(" ({}/request)", format_usd(c)))
                .unwrap_or_default();
            writeln!(
                out,
                "{head} {}={}  {} · errors {}{p95}{pass} · cost {}{per_request}",
                clean(key),
                clean(value),
                plural(f.samples, "sample", "samples"),
                format_rate(f.error_rate),
                format_usd(f.cost_usd),
            )?;
            head = "           ";
        }
    }
    Ok(())
}

fn write_cases(out: &mut dyn Write, cases: &[CaseSummary], style: &Style) -> io::Result<()> {
    let mut ordered: Vec<&CaseSummary> = cases.iter().collect();
    let rank = |s: CaseStatus| match s {
        CaseStatus::Error => 0,
        CaseStatus::Fail => 1,
        CaseStatus::Flaky => 2,
        CaseStatus::Skipped => 3,
        CaseStatus::Pass => 4,
    };
    ordered.sort_by_key(|c| rank(c.status));
    writeln!(out, "  cases     {}", style.dim("(failing first)"))?;
    let width = ordered
        .iter()
        .map(|c| clean(&c.set).chars().count() + clean(&c.id).chars().count() + 1)
        .max()
        .unwrap_or(0);
    for c in ordered {
        let label = match c.status {
            CaseStatus::Pass => style.green("pass "),
            CaseStatus::Flaky => style.yellow("FLAKY"),
            CaseStatus::Fail => style.red("FAIL "),
            CaseStatus::Error => style.red("ERROR"),
            CaseStatus::Skipped => style.dim("skip "),
        };
        let f = &c.figures;
        let passes = f.passes;
        let mut reason = c
            .failing_reason
            .as_deref()
            .map(|r| sanitize(r, 100))
            .unwrap_or_default();
        if c.status == CaseStatus::Error {
            // Every sample erred: the classes alone ("http_4xx 10") do not say what to fix;
            // the first error's message (already scrubbed of secrets) usually does.
            let classes: Vec<String> = f.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
            reason = format!("no answer ({})", classes.join(", "));
            if let Some(first) = c.failing_reason.as_deref() {
                reason = format!("{reason}: {}", sanitize(first, 160));
            }
        }
        if c.too_few_samples && c.status != CaseStatus::Skipped {
            reason = format!("{reason} [only {} answered]", f.answered)
                .trim()
                .to_string();
        }
        writeln!(
            out,
            "    {label} {:width$}  {passes}/{}  {}",
            format!("{}/{}", clean(&c.set), clean(&c.id)),
            f.samples,
            style.dim(&reason),
        )?;
    }
    Ok(())
}

fn write_findings(out: &mut dyn Write, findings: &[Finding], style: &Style) -> io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "  {}", style.bold("findings"))?;
    for f in findings {
        writeln!(
            out,
            "    {} {}",
            finding_label(style, f),
            sanitize(without_severity(&f.message, f.severity), 300)
        )?;
    }
    Ok(())
}

/// How a compared metric's values read: rates as percentages, latency in ms, cost in
/// dollars, anything else as a number.
fn show_value(metric: &str, kind: crate::compare::EffectKind, x: f64) -> String {
    if is_difference(kind) {
        format_rate(x)
    } else if metric.contains("latency") || metric.contains("ttft") {
        format_ms(x)
    } else if metric.contains("cost") {
        format_usd(x)
    } else {
        format!("{x:.3}")
    }
}

/// The table of every compared metric (`probity compare`): values in their units, and each
/// effect marked as a difference (`pts`) or a ratio (`×`, `÷`, `%`).
pub fn comparison_table(comparison: &crate::compare::Comparison) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<28} {:<28} {:>12} {:>12} {:>10} {:>10} {:>9}  drift",
        "metric", "test", "baseline", "current", "effect", "as", "p adj"
    );
    for t in &comparison.tests {
        let kind = if is_difference(t.effect_kind) {
            "difference"
        } else if t.effect_kind == crate::compare::EffectKind::Divergence {
            "divergence"
        } else {
            "ratio"
        };
        let _ = writeln!(
            out,
            "  {:<28} {:<28} {:>12} {:>12} {:>10} {:>10} {:>9.4}  {}",
            clean(&t.metric),
            clean(&t.test),
            show_value(&t.metric, t.effect_kind, t.baseline.value),
            show_value(&t.metric, t.effect_kind, t.current.value),
            format_effect(t.effect_kind, t.effect),
            kind,
            t.p_adjusted,
            t.severity.map(|s| s.as_str()).unwrap_or("-")
        );
    }
    let _ = writeln!(
        out,
        "  effect: rates as a difference in points (current − baseline); latency, length, cost and scores as a ratio current / baseline (×N above 2, ÷N below 0.5)"
    );
    out
}

/// A progress bar on stderr when it is a terminal; invisible otherwise.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new() -> Self {
        let bar = if io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            // Log lines are written around the bar, not across it.
            crate::logs::hold_bar(&bar);
            bar
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) =
            ProgressStyle::with_template("  {bar:30} {pos}/{len} samples · {per_sec} · {msg}")
        {
            bar.set_style(style);
        }
        Bar(bar)
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn observed(&self, obs: &Observation) {
        if obs.final_attempt {
            self.0.inc(1);
        }
        if let Some(class) = obs.status.error_class() {
            self.0
                .set_message(format!("last error: {}", class.as_str()));
        }
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
