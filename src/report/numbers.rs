//! Numbers as people read them: a large ratio as `×454` rather than `+45357%`, a small one
//! as `÷3`, a rate change in points, a small cost with its significant digits, and counts
//! with the right plural.

// Ratios and dollars are formatted where finding messages are written (compare), and read
// the same way in every report.
use crate::compare::{EffectKind, Severity};
pub use crate::compare::{format_ratio, format_usd};

/// An effect of a comparison, with what kind it is: rates differ (`+3.0 pts`), latency,
/// length, cost and scores are ratios (`×2.4`, `÷3.1`, `+12%`), distributions diverge.
pub fn format_effect(kind: EffectKind, effect: f64) -> String {
    match kind {
        EffectKind::RateIncrease => format!("{:+.1} pts", effect * 100.0),
        EffectKind::RatioIncrease | EffectKind::Ratio | EffectKind::RatioDecrease => {
            format_ratio(effect)
        }
        EffectKind::Divergence => format!("JS {effect:.3}"),
    }
}

/// Whether an effect of this kind is a difference (else a ratio or a divergence).
pub fn is_difference(kind: EffectKind) -> bool {
    kind == EffectKind::RateIncrease
}

/// `1 retried attempt`, `2 retried attempts`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A finding's message without its trailing ` — critical` (or warning, info) where the
/// line already shows the severity.
pub fn without_severity(message: &str, severity: Severity) -> &str {
    message
        .strip_suffix(severity.as_str())
        .and_then(|m| m.strip_suffix(" — "))
        .unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_as_multipliers() {
        assert_eq!(format_ratio(454.57), "×455");
        assert_eq!(format_ratio(2.4), "×2.4");
        assert_eq!(format_ratio(1.25), "+25%");
        assert_eq!(format_ratio(0.8), "-20%");
        assert_eq!(format_ratio(0.25), "÷4.0");
        assert_eq!(format_ratio(0.001), "÷1000");
        assert_eq!(format_ratio(f64::INFINITY), "×∞");
        assert_eq!(format_effect(EffectKind::RateIncrease, 0.153), "+15.3 pts");
        assert_eq!(format_effect(EffectKind::RatioIncrease, 3.0), "×3.0");
    }

    #[test]
    fn small_costs_keep_their_digits() {
        assert_eq!(format_usd(0.0), "$0.00");
        assert_eq!(format_usd(0.000_123_4), "$0.000123");
        assert_eq!(format_usd(0.0042), "$0.00420");
        assert_eq!(format_usd(12.345), "$12.35");
        assert_eq!(
            plural(1, "retried attempt", "retried attempts"),
            "1 retried attempt"
        );
        assert_eq!(
            plural(4, "retried attempt", "retried attempts"),
            "4 retried attempts"
        );
    }

    #[test]
    fn the_severity_is_not_said_twice() {
        assert_eq!(
            without_severity(
                "p95 latency 9 ms is above the critical limit 5 ms — critical",
                Severity::Critical
            ),
            "p95 latency 9 ms is above the critical limit 5 ms"
        );
        assert_eq!(
            without_severity("x — warning", Severity::Critical),
            "x — warning"
        );
    }
}
