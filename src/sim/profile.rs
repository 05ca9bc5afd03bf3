//! The simulator's behaviour profile: latency, time to first token, streaming pace, injected
//! faults and answer distortions, as a YAML file (`probity sim --profile FILE`) or flags.
//! Owns parsing (with file:line:col in errors), validation and the delay distributions.

use std::path::Path;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SimError;

/// z of the 99th percentile of the standard normal: p99 = median · e^(σ·z).
const Z_P99: f64 = 2.3263;

/// How the simulated endpoint behaves. Every field has a default; the default profile
/// answers instantly, never fails and never distorts an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// Total delay of an answer, log-normally distributed; a stream then ends no sooner
    /// than this (its pieces spread out between the first token and the end).
    pub latency: Latency,
    /// Streaming only: delay before the first content chunk (the role / message_start
    /// frames go out at once, as real endpoints send them).
    pub ttft: Latency,
    /// Streaming only: pace of the tokens after the first one; 0 sends them all at once.
    pub tokens_per_second: f64,
    /// Injected faults.
    pub errors: Errors,
    /// Probability (0..1) that an answer is replaced by a refusal.
    pub refusal: f64,
    /// Probability (0..1) that a JSON answer is broken: wrapped in a ```json fence or
    /// truncated mid-object.
    pub json_break: f64,
    /// Multiplies the length of text answers: above 1 adds filler sentences, below 1
    /// truncates at a word boundary. JSON answers keep their length (see `json_break`).
    pub length_scale: f64,
    /// Probability (0..1) that a judge verdict is flipped (tests of the LLM judge path).
    pub judge_fail: f64,
    /// Answer 401 to a chat or embeddings request whose key (`Authorization: Bearer` or
    /// `x-api-key`) is not this one; unset, any key (or none) is accepted.
    pub require_key: Option<String>,
    /// The `system_fingerprint` sent with every OpenAI chat answer (the id of the backend
    /// configuration that served it); unset, none is sent. A new one is a "model update"
    /// behind the same model name.
    pub system_fingerprint: Option<String>,
    /// The admin key the organisation usage and cost reports accept; unset, any key of the
    /// provider's admin form (`sk-admin-…`, `sk-ant-admin…`). Others are answered 401.
    pub admin_key: Option<String>,
    /// Seed of every random choice; with the same seed, the n-th request for a given prompt
    /// gets the same answer, however concurrent requests interleave.
    pub seed: u64,
    /// Retrieval faults of the RAG endpoint (`POST /v1/rag/ask`).
    pub retrieval: RetrievalFaults,
}

/// Retrieval faults of the simulated RAG service, each a probability (0..1) per question
/// asked; exclusive (one draw decides), so their sum must be at most 1. Drawn from the
/// seed, the question and how often it was asked, like every other choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalFaults {
    /// No passage is returned.
    pub empty: f64,
    /// The passages of another golden case are returned (an irrelevant retrieval).
    pub irrelevant: f64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            latency: Latency::default(),
            ttft: Latency::default(),
            tokens_per_second: 0.0,
            errors: Errors::default(),
            refusal: 0.0,
            json_break: 0.0,
            length_scale: 1.0,
            judge_fail: 0.0,
            require_key: None,
            system_fingerprint: None,
            admin_key: None,
            seed: 0,
            retrieval: RetrievalFaults::default(),
        }
    }
}

/// A delay distribution given by its median and 99th percentile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawLatency")]
pub struct Latency {
    /// Median delay, e.g. `50ms`; 0 means no delay.
    #[serde(serialize_with = "ser_duration")]
    pub median: Duration,
    /// 99th percentile, e.g. `1.2s`; at least the median. Omitted or equal to the median:
    /// every delay is exactly the median.
    #[serde(serialize_with = "ser_opt_duration")]
    pub p99: Option<Duration>,
}

/// `Latency` as written, checked by `TryFrom` so a bad pair is reported with its line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    #[serde(default, deserialize_with = "de_duration")]
    median: Duration,
    #[serde(default, deserialize_with = "de_opt_duration")]
    p99: Option<Duration>,
}

impl TryFrom<RawLatency> for Latency {
    type Error = String;

    fn try_from(raw: RawLatency) -> Result<Self, String> {
        let latency = Latency {
            median: raw.median,
            p99: raw.p99,
        };
        latency.check()?;
        Ok(latency)
    }
}

impl Latency {
    /// A fixed delay.
    pub fn fixed(d: Duration) -> Self {
        Latency {
            median: d,
            p99: None,
        }
    }

    fn check(&self) -> Result<(), String> {
        match self.p99 {
            Some(p99) if p99 < self.median => Err(format!(
                "p99 ({}) is below the median ({}); p99 must be at least the median",
                humantime::format_duration(p99),
                humantime::format_duration(self.median)
            )),
            _ => Ok(()),
        }
    }

    /// The distribution to draw from, built once at start-up.
    pub(crate) fn delay(&self) -> Delay {
        let median = self.median.as_secs_f64();
        let p99 = self.p99.map_or(median, |d| d.as_secs_f64());
        if median <= 0.0 {
            return Delay::None;
        }
        if p99 <= median {
            return Delay::Fixed(self.median);
        }
        let sigma = (p99 / median).ln() / Z_P99;
        // LogNormal::new only fails on a non-finite or negative sigma, excluded above.
        match LogNormal::new(median.ln(), sigma) {
            Ok(d) => Delay::LogNormal(d),
            Err(_) => Delay::Fixed(self.median),
        }
    }
}

/// Longest delay drawn: caps the log-normal tail and absurd settings, so no deadline
/// computed from a delay can overflow (`errors.rate_hang` is the way to never answer).
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// A delay distribution, ready to sample.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Delay {
    None,
    Fixed(Duration),
    LogNormal(LogNormal<f64>),
}

impl Delay {
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match self {
            Delay::None => Duration::ZERO,
            Delay::Fixed(d) => (*d).min(MAX_DELAY),
            Delay::LogNormal(d) => {
                Duration::try_from_secs_f64(d.sample(rng).clamp(0.0, MAX_DELAY.as_secs_f64()))
                    .unwrap_or(MAX_DELAY)
            }
        }
    }
}

/// Faults injected into answers, each a probability (0..1) per request. They are exclusive
/// (one draw decides), so their sum must be at most 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Errors {
    /// `429 Too Many Requests` with a `Retry-After` header, answered at once.
    pub rate_429: f64,
    /// The `Retry-After` of a 429 or 503, rounded up to whole seconds (`retry-after-ms`
    /// carries it to the millisecond).
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub retry_after: Duration,
    /// `500 Internal Server Error`, after the usual latency.
    pub rate_500: f64,
    /// `503 Service Unavailable` with `Retry-After` and `retry-after-ms`, answered at once
    /// (an overloaded server asking for room).
    pub rate_503: f64,
    /// Accept the request and never answer (until the simulator shuts down).
    pub rate_hang: f64,
    /// `200 OK` whose body is not valid JSON (a truncated object).
    pub rate_malformed: f64,
    /// Streaming only: the answer stops mid-way, without its terminator, and the
    /// connection is closed.
    pub rate_cut_stream: f64,
    /// Streaming only: the stream ends right after its role chunk with `data: [DONE]`
    /// (Anthropic: `message_start` then `message_stop`), with no content and no finish
    /// reason, as llama-cpp-python ends a running stream when another request arrives.
    pub rate_interrupt: f64,
}

impl Default for Errors {
    fn default() -> Self {
        Errors {
            rate_429: 0.0,
            retry_after: Duration::from_secs(1),
            rate_500: 0.0,
            rate_503: 0.0,
            rate_hang: 0.0,
            rate_malformed: 0.0,
            rate_cut_stream: 0.0,
            rate_interrupt: 0.0,
        }
    }
}

impl Errors {
    fn total(&self) -> f64 {
        self.rate_429
            + self.rate_500
            + self.rate_503
            + self.rate_hang
            + self.rate_malformed
            + self.rate_cut_stream
            + self.rate_interrupt
    }
}

impl Profile {
    /// Reads a profile from a YAML file; errors name the file, the line and the key.
    pub fn from_file(path: &Path) -> Result<Profile, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadProfile {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::from_yaml(&text, path)
    }

    /// Parses a profile from YAML text; `path` only names the source in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Profile, SimError> {
        // An empty file is the default profile, not an error.
        if text.trim().is_empty() {
            return Ok(Profile::default());
        }
        let profile: Profile = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let message = e.to_string();
            // The location is in the error prefix already; drop serde_norway's suffix.
            let suffix = format!(" at line {line} column {column}");
            SimError::ParseProfile {
                path: path.to_path_buf(),
                line,
                column,
                message: message
                    .strip_suffix(&suffix)
                    .unwrap_or(&message)
                    .to_string(),
            }
        })?;
        profile
            .validate(&path.display().to_string())
            .map_err(|e| match e {
                // Point at the offending key's line.
                SimError::InvalidProfile {
                    origin,
                    key,
                    message,
                } => {
                    let origin = match locate(text, &key) {
                        Some((line, column)) => format!("{origin}:{line}:{column}"),
                        None => origin,
                    };
                    SimError::InvalidProfile {
                        origin,
                        key,
                        message,
                    }
                }
                other => other,
            })?;
        Ok(profile)
    }

    /// Cross-field checks that per-field parsing cannot make; `origin` names where the
    /// profile came from (a file, or `flags`).
    pub fn validate(&self, origin: &str) -> Result<(), SimError> {
        let invalid = |key: &str, message: String| SimError::InvalidProfile {
            origin: origin.to_string(),
            key: key.to_string(),
            message,
        };
        for (key, value) in [
            ("errors.rate_429", self.errors.rate_429),
            ("errors.rate_500", self.errors.rate_500),
            ("errors.rate_503", self.errors.rate_503),
            ("errors.rate_interrupt", self.errors.rate_interrupt),
            ("errors.rate_hang", self.errors.rate_hang),
            ("errors.rate_malformed", self.errors.rate_malformed),
            ("errors.rate_cut_stream", self.errors.rate_cut_stream),
            ("refusal", self.refusal),
            ("json_break", self.json_break),
            ("judge_fail", self.judge_fail),
            ("retrieval.empty", self.retrieval.empty),
            ("retrieval.irrelevant", self.retrieval.irrelevant),
        ] {
            check_probability(value).map_err(|m| invalid(key, m))?;
        }
        let total = self.errors.total();
        if total > 1.0 + 1e-9 {
            return Err(invalid(
                "errors",
                format!(
                    "the fault rates add up to {total}; one draw picks at most one fault per request, so their sum must be at most 1"
                ),
            ));
        }
        let retrieval = self.retrieval.empty + self.retrieval.irrelevant;
        if retrieval > 1.0 + 1e-9 {
            return Err(invalid(
                "retrieval",
                format!(
                    "`empty` and `irrelevant` add up to {retrieval}; one draw picks at most one, so their sum must be at most 1"
                ),
            ));
        }
        self.latency.check().map_err(|m| invalid("latency", m))?;
        self.ttft.check().map_err(|m| invalid("ttft", m))?;
        check_non_negative(self.length_scale).map_err(|m| invalid("length_scale", m))?;
        check_non_negative(self.tokens_per_second).map_err(|m| invalid("tokens_per_second", m))?;
        Ok(())
    }
}

/// Line and column (1-based) of a dotted key like `errors.rate_500` in YAML text: the
/// first segment at the start of a line, each next one after it (block or flow style).
fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    let mut found = None;
    for (i, segment) in key.split('.').enumerate() {
        let anchor = if i == 0 { "(?m)^[ \t]*" } else { "[\\s{,]" };
        let re = regex::Regex::new(&format!("{anchor}({})[ \t]*:", regex::escape(segment))).ok()?;
        let m = re.captures(&text[from..])?.get(1)?;
        let at = from + m.start();
        found = Some(at);
        from += m.end();
    }
    let at = found?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count() + 1;
    Some((line, text[line_start..at].chars().count() + 1))
}

pub(crate) fn check_probability(v: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{v} is not a probability; write a number from 0 to 1"
        ))
    }
}

pub(crate) fn check_non_negative(v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{v} must be a finite number of at least 0"))
    }
}

/// Parses `50ms`, `1.2s`, `2m`; a bare `0` is allowed (no delay).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s)
        .or_else(|e| parse_fractional(s).ok_or(e))
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `50ms` or `1.2s`"))
}

/// humantime takes no fractions (`1.2s`); accept a decimal number with one unit.
fn parse_fractional(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(n * scale).ok()
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a duration like `50ms` or `1.2s`")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
            parse_duration(s).map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
            if n == 0 {
                Ok(Duration::ZERO)
            } else {
                Err(E::custom(format!(
                    "`{n}` has no unit; write e.g. `{n}ms` or `{n}s`"
                )))
            }
        }
    }
    d.deserialize_any(V)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn parse(text: &str) -> Result<Profile, SimError> {
        Profile::from_yaml(text, Path::new("drill.yaml"))
    }

    #[test]
    fn parses_a_full_profile() {
        let p = parse(
            "latency: { median: 50ms, p99: 1.2s }\nttft: { median: 200ms }\ntokens_per_second: 40\n\
             errors: { rate_429: 0.1, retry_after: 2s, rate_cut_stream: 0.05 }\n\
             refusal: 0.1\njson_break: 0.2\nlength_scale: 1.5\nseed: 7\n",
        )
        .unwrap();
        assert_eq!(p.latency.median, Duration::from_millis(50));
        assert_eq!(p.latency.p99, Some(Duration::from_millis(1200)));
        assert_eq!(p.ttft.p99, None);
        assert_eq!(p.errors.retry_after, Duration::from_secs(2));
        assert_eq!(p.length_scale, 1.5);
        assert_eq!(p.seed, 7);
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), Profile::default());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("refusal: 0.1\nerrors:\n  rate_428: 0.2\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("drill.yaml:3:"), "{text}");
        assert!(text.contains("rate_428"), "{text}");
    }

    #[test]
    fn bad_probability_names_the_key_and_line() {
        let text = parse("seed: 1\nerrors: { rate_500: 1.5 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("drill.yaml:2:11: `errors.rate_500`"),
            "{text}"
        );
        let text = parse("seed: 1\nerrors:\n  rate_429: 0.5\n  rate_hang: 0.6\n")
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("drill.yaml:2:1: `errors`"), "{text}");
        let text = parse("refusal: -1\n").unwrap_err().to_string();
        assert!(text.starts_with("drill.yaml:1:1: `refusal`"), "{text}");
        assert!(text.contains("not a probability"), "{text}");
    }

    #[test]
    fn bad_duration_and_inverted_percentiles_are_errors() {
        let text = parse("latency: { median: fast }\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("latency.median"), "{text}");
        let text = parse("latency: { median: 2s, p99: 1s }\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("p99"), "{text}");
        let text = parse("errors: { rate_429: 0.6, rate_500: 0.6 }\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("at most 1"), "{text}");
    }

    #[test]
    fn delays_follow_median_and_p99() {
        assert!(matches!(Latency::default().delay(), Delay::None));
        let fixed = Latency::fixed(Duration::from_millis(50)).delay();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(fixed.sample(&mut rng), Duration::from_millis(50));
        let d = Latency {
            median: Duration::from_millis(100),
            p99: Some(Duration::from_millis(1000)),
        }
        .delay();
        let mut v: Vec<f64> = (0..20_000)
            .map(|_| d.sample(&mut rng).as_secs_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 0.1).abs() < 0.01, "median {median}");
        assert!((p99 - 1.0).abs() < 0.15, "p99 {p99}");
    }

    #[test]
    fn fractional_durations_parse() {
        assert_eq!(parse_duration("1.2s"), Ok(Duration::from_millis(1200)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
    }
}
