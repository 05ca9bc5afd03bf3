//! Structured logs (issue 12): `tracing` events on stderr, as text for people or as one JSON
//! object a line for log pipelines (`--log-format`). Every event of a run carries the run's
//! `run_id` and `probe` (the `run` span, opened by the pipeline), and every event about one
//! request its `case_id`, `sample`, `attempt`, `target_name` and `traceparent` (the `request`
//! span, one per attempt, opened by the runner), so a line can be joined with the stored
//! observation and with the endpoint's own logs.
//!
//! What is logged about requests (see [`request`]): every failed attempt, always; a
//! successful one only when chosen by `--log-sample-successes` (deterministically, by its
//! traceparent); prompts and outputs only with `--log-content`. Untrusted text (model
//! output, error bodies, case ids from files) is escaped in both formats, and secrets are
//! redacted before anything is logged.

mod json;
pub mod request;
mod text;
mod writer;

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

pub use request::{attempt, not_sent, run_finished};
pub use writer::hold_bar;

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, spans' fields in front (`run{run_id=… probe=…}`).
    #[default]
    Text,
    /// One JSON object per line, spans' fields merged in (`"run_id"`, `"traceparent"`…).
    Json,
}

/// What request events may say, set once by the binary from its flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Prompts and outputs go into request events (`--log-content`). Off by default: they
    /// may hold personal data, and the store already keeps them.
    pub content: bool,
    /// Share of successful attempts logged (`--log-sample-successes`), 0 to 1.
    pub sample_successes: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            content: false,
            sample_successes: 0.0,
        }
    }
}

static POLICY: OnceLock<Policy> = OnceLock::new();
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The policy the binary set, or the default (tests in-process, the library used alone).
/// Process-wide, like the subscriber it goes with.
pub fn policy() -> Policy {
    POLICY.get().copied().unwrap_or_default()
}

/// A command's own line on stderr for the person at the terminal (where a report went,
/// what alerting did, "interrupted"): as written in the text format, and as a JSON object
/// (`target` `probity::note`) in the JSON format, so that with `--log-format json` every
/// stderr line parses. Not filtered by level: it is output, not a diagnostic.
pub fn note(level: tracing::Level, text: &str) {
    let line = match FORMAT.get() {
        Some(LogFormat::Json) => json::note_line(level, text),
        _ => format!("{text}\n"),
    };
    let _ = std::io::Write::write_all(&mut writer::Stderr, line.as_bytes());
}

/// The filter when `RUST_LOG` is unset: probity's own events at info (`-v` debug), other
/// crates' at warn, so an HTTP library's chatter stays out of the way.
pub fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn,probity=info",
        1 => "info,probity=debug",
        _ => "debug",
    }
}

/// The demo's filter without `-v`: its faults are simulated and its summaries count them,
/// so a line per failed request would only bury the walk-through; warnings of anything
/// else still show.
pub const DEMO_FILTER: &str = "warn,probity::request=off,probity::run=warn";

/// Installs the process's subscriber: `format` on stderr (through the progress bar, when
/// one is drawn), filtered by `RUST_LOG` or else by `default` (see [`default_filter`]).
/// Called once, first thing.
pub fn init(format: LogFormat, default: &str, policy: Policy) {
    let _ = POLICY.set(policy);
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| writer::Stderr);
    // A second call (only tests could make one) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .fmt_fields(text::InertFields)
            .with_ansi(writer::colour())
            .try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(json::FlatJson)
            .try_init(),
    };
}

/// The span every event of one run happens in. At level ERROR so that no filter that lets
/// any event through drops it (a dropped span would drop `run_id` from its events).
pub fn run_span(run_id: &str, probe: &str) -> tracing::Span {
    tracing::error_span!("run", run_id = %run_id, probe = %probe)
}

/// The span of one attempt at one sample (a fresh traceparent each), inside its run's.
pub fn request_span(
    set: &str,
    case_id: &str,
    sample: u32,
    attempt: u32,
    target: &str,
    traceparent: &str,
) -> tracing::Span {
    tracing::error_span!(
        "request",
        set = %set,
        case_id = %case_id,
        sample,
        attempt,
        target_name = %target,
        traceparent = %traceparent,
    )
}

/// Whether the attempt with `traceparent` is among the `rate` share logged: a hash of the
/// traceparent against the rate, so the choice is the same on every replay of the same
/// request, and independent of the order requests finish in. 0 never, 1 always.
pub fn sampled(traceparent: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    // FNV-1a, then splitmix64's finaliser: FNV alone leaves the high bits poorly mixed
    // for short hex strings.
    let mut h = traceparent.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    // The top 53 bits as a fraction in [0, 1).
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}

/// Parses `--log-sample-successes`: a share from 0 to 1.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number; give a share from 0 to 1, e.g. 0.1"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_about_its_share_and_is_repeatable() {
        let tps: Vec<String> = (0..20_000u64)
            .map(|i| format!("00-{:032x}-{:016x}-01", i * 7919, i + 1))
            .collect();
        for rate in [0.01, 0.1, 0.5, 0.9] {
            let kept = tps.iter().filter(|tp| sampled(tp, rate)).count() as f64;
            let share = kept / tps.len() as f64;
            assert!((share - rate).abs() < 0.02, "rate {rate}: kept {share}");
        }
        assert!(tps.iter().all(|tp| !sampled(tp, 0.0)));
        assert!(tps.iter().all(|tp| sampled(tp, 1.0)));
        assert_eq!(sampled(&tps[3], 0.5), sampled(&tps[3], 0.5));
        // A request kept at a rate is kept at every higher rate.
        for tp in &tps[..500] {
            assert!(!sampled(tp, 0.2) || sampled(tp, 0.6));
        }
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert_eq!(parse_rate("0.1"), Ok(0.1));
        assert_eq!(parse_rate("1"), Ok(1.0));
        assert!(parse_rate("1.5").unwrap_err().contains("between 0 and 1"));
        assert!(parse_rate("-0.1").is_err());
        assert!(parse_rate("NaN").is_err());
        assert!(parse_rate("ten percent").unwrap_err().contains("e.g. 0.1"));
    }
}
