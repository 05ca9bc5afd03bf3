//! Comparison: a run held against absolute limits (`thresholds`), against its baseline
//! (statistical drift) and against its own history (trend). Each problem is a `Finding`; the
//! findings make the `Verdict`, and the verdict makes the exit code.

pub mod baseline;
mod cases;
mod drift;
mod thresholds;
pub mod trend;
// Issue 15: the sequential gate's decisions.
pub mod sequential;

use serde::{Deserialize, Serialize};

pub use baseline::{Baseline, BaselineError};
pub use cases::check_cases;
pub use drift::{
    Comparison, Decision, EffectKind, MIN_ANSWERED, TestRecord, Undecided, compare,
    insufficient_finding,
};
pub use thresholds::check_thresholds;
pub use trend::check_trend;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, never alarming (alert routes send it to e.g. email).
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An absolute limit from `thresholds:`.
    Threshold,
    /// A significant, large enough change from the baseline.
    Drift,
    /// Far outside the probe's own recent history.
    Trend,
    /// Too little data to tell.
    InsufficientData,
    /// A case below its `min_pass_rate` (the finding's `case` names it).
    Case,
    /// A metric that moved beyond its minimum effect without being significant: could not
    /// tell (informational in a run; a gate cannot pass on it). The comparison's
    /// `undecided` entry for the metric has its numbers and the samples needed.
    Inconclusive,
    /// The run could not probe (unreachable, every request failed, too few answered
    /// samples): critical, whatever else the run shows.
    CouldNotProbe,
}

/// A metric's value with its interval, where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// Observations behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
}

impl Estimate {
    pub fn value(value: f64) -> Self {
        Estimate {
            value,
            ci: None,
            n: None,
        }
    }
}

/// One structured finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Metric name, e.g. `latency_p95`, `error_rate`, `over_refusal`.
    pub metric: String,
    pub kind: FindingKind,
    /// The target the finding is about.
    pub target: String,
    pub baseline: Option<Estimate>,
    pub current: Option<Estimate>,
    /// The test used (`fisher_exact`, `mann_whitney_u`, ...), for drift findings.
    pub test: Option<String>,
    pub statistic: Option<f64>,
    pub p: Option<f64>,
    /// After Benjamini–Hochberg over the comparison's tests.
    pub p_adjusted: Option<f64>,
    /// The change: a ratio for latency/length/cost, a difference for rates and scores.
    pub effect: Option<f64>,
    /// The smallest effect that counts (the threshold level for threshold findings).
    pub min_effect: Option<f64>,
    pub severity: Severity,
    /// One sentence a person understands.
    pub message: String,
    /// The case (`set/id`) a `case` finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
}

impl Finding {
    /// The critical finding of a run that could not probe, with the reason it gives.
    pub fn could_not_probe(target: &str, reason: &str) -> Finding {
        Finding::plain(
            "could_not_probe",
            FindingKind::CouldNotProbe,
            target,
            Severity::Critical,
            format!("could not probe: {reason}"),
        )
    }

    /// A finding that is only a sentence: no estimates, no test.
    pub fn plain(
        metric: &str,
        kind: FindingKind,
        target: &str,
        severity: Severity,
        message: String,
    ) -> Finding {
        Finding {
            metric: metric.into(),
            kind,
            target: target.into(),
            baseline: None,
            current: None,
            test: None,
            statistic: None,
            p: None,
            p_adjusted: None,
            effect: None,
            min_effect: None,
            severity,
            message,
            case: None,
        }
    }
}

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    InsufficientData,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::InsufficientData => "insufficient_data",
        }
    }

    /// The verdict of a set of findings: a critical one fails; otherwise too little data is
    /// its own verdict — never a pass, and not a mere warning either — and then warnings warn.
    pub fn of(findings: &[Finding], insufficient: bool) -> Verdict {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Critical) => Verdict::Fail,
            _ if insufficient => Verdict::InsufficientData,
            Some(Severity::Warning) => Verdict::Warn,
            _ => Verdict::Pass,
        }
    }

    /// The verdict of a gate: as a run's, except that a gate passes only when every metric of
    /// its comparison is decided (see [`Comparison::undecided`]); a pass or a warning with
    /// any metric undecided is `insufficient_data`, never a pass. A failure stays a failure.
    pub fn for_gate(self, comparison: Option<&Comparison>) -> Verdict {
        let undecided = comparison.is_some_and(|c| !c.undecided.is_empty());
        match self {
            Verdict::Pass | Verdict::Warn if undecided => Verdict::InsufficientData,
            v => v,
        }
    }

    /// Whether this verdict fails a gate set to fail on `level`.
    pub fn fails_at(self, level: Severity) -> bool {
        match self {
            Verdict::Fail | Verdict::InsufficientData => true,
            Verdict::Warn => level == Severity::Warning,
            Verdict::Pass => false,
        }
    }
}

/// Milliseconds as people read them: `850 ms`, `6.1 s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// A ratio current / baseline: `×N` above 2, `÷N` below 0.5, a signed percentage between.
pub fn format_ratio(ratio: f64) -> String {
    if !ratio.is_finite() {
        return if ratio > 0.0 {
            "×∞".into()
        } else {
            "—".into()
        };
    }
    if ratio > 2.0 {
        format!("×{}", short(ratio))
    } else if ratio > 0.0 && ratio < 0.5 {
        format!("÷{}", short(1.0 / ratio))
    } else if ratio <= 0.0 {
        "-100%".into()
    } else {
        format!("{:+.0}%", (ratio - 1.0) * 100.0)
    }
}

/// A multiplier with as many digits as it needs: `2.4`, `12`, `454`.
fn short(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// Dollars with three significant digits below a cent (`$0.0000200`), cents above.
pub fn format_usd(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("${x:.2}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).clamp(2, 12) as usize;
    format!("${x:.decimals$}")
}

/// A value in its unit, as people read it (the one `Unit` is config's).
pub fn show(unit: crate::config::Unit, x: f64) -> String {
    use crate::config::Unit;
    match unit {
        Unit::Rate => format_rate(x),
        Unit::Millis => format_ms(x),
        Unit::Usd => format_usd(x),
        Unit::Count => format!("{x:.0}"),
        Unit::Score => format!("{x:.3}"),
        // Tone and output character (issue 13).
        Unit::Sentiment => format!("{:.2}", 2.0 * x - 1.0),
        Unit::Grade => format!("{x:.1}"),
    }
}

/// A rate as a percentage with one decimal.
pub fn format_rate(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}
