//! `probity sim` command-line arguments: where to listen, a profile file, golden sets, and
//! flags that override single profile fields (the profile file is read first).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::SimError;
use super::profile::{Profile, check_non_negative, check_probability, parse_duration};

/// Run a simulated OpenAI- and Anthropic-compatible endpoint (demo, tests, fire drills).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// A YAML profile (latency, ttft, errors, refusal, ...); flags below override it.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Golden sets to answer from: requests matching a case get its reference answer.
    #[arg(long, value_name = "DIR")]
    pub golden: Option<PathBuf>,
    /// Median latency of answers, e.g. `50ms` (a stream then ends no sooner than that).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency_median: Option<Duration>,
    /// 99th-percentile latency, e.g. `1.2s` (log-normal between the two).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency_p99: Option<Duration>,
    /// Median time to the first streamed token.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttft_median: Option<Duration>,
    /// 99th-percentile time to the first streamed token.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttft_p99: Option<Duration>,
    /// Streaming pace after the first token; 0 sends everything at once.
    #[arg(long, value_name = "N", value_parser = non_negative)]
    pub tokens_per_second: Option<f64>,
    /// Share of requests answered `429 Too Many Requests`.
    #[arg(long = "error-429", value_name = "RATE", value_parser = probability)]
    pub error_429: Option<f64>,
    /// Share of requests answered `503 Service Unavailable` (with `Retry-After`).
    #[arg(long = "error-503", value_name = "RATE", value_parser = probability)]
    pub error_503: Option<f64>,
    /// Share of streams ended after their role chunk (`[DONE]`, no content, no finish
    /// reason), as some servers end a running stream when another request arrives.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub interrupt: Option<f64>,
    /// Answer 401 to any request whose API key (`Authorization: Bearer` or `x-api-key`)
    /// is not KEY, to rehearse a wrong or rotated key.
    #[arg(long, value_name = "KEY")]
    pub require_key: Option<String>,
    /// The only admin key the organisation usage and cost reports accept (default: any
    /// `sk-admin-…` / `sk-ant-admin…` key).
    #[arg(long, value_name = "KEY")]
    pub admin_key: Option<String>,
    /// `Retry-After` of those 429s and 503s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_after: Option<Duration>,
    /// Share of requests answered `500 Internal Server Error`.
    #[arg(long = "error-500", value_name = "RATE", value_parser = probability)]
    pub error_500: Option<f64>,
    /// Share of requests accepted and never answered.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub hang: Option<f64>,
    /// Share of requests answered 200 with a body that is not valid JSON.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub malformed: Option<f64>,
    /// Share of streams cut mid-way, without their terminator.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub cut_stream: Option<f64>,
    /// Share of answers replaced by a refusal.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub refusal: Option<f64>,
    /// Share of JSON answers broken (fenced or truncated).
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub json_break: Option<f64>,
    /// Multiplies the length of text answers (above 1 longer, below 1 truncated).
    #[arg(long, value_name = "FACTOR", value_parser = non_negative)]
    pub length_scale: Option<f64>,
    /// Share of RAG questions (`/v1/rag/ask`) answered with no passage.
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub retrieval_empty: Option<f64>,
    /// Share of RAG questions answered with another case's passages (irrelevant).
    #[arg(long, value_name = "RATE", value_parser = probability)]
    pub retrieval_irrelevant: Option<f64>,
    /// Seed of every random choice (same seed, same answers per prompt).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

fn probability(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    check_probability(v)?;
    Ok(v)
}

fn non_negative(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    check_non_negative(v)?;
    Ok(v)
}

impl SimArgs {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The profile: the file if given (else the default), then each flag given.
    pub fn profile(&self) -> Result<Profile, SimError> {
        let mut p = match &self.profile {
            Some(path) => Profile::from_file(path)?,
            None => Profile::default(),
        };
        let set = |target: &mut Duration, v: Option<Duration>| {
            if let Some(v) = v {
                *target = v;
            }
        };
        set(&mut p.latency.median, self.latency_median);
        if self.latency_p99.is_some() {
            p.latency.p99 = self.latency_p99;
        }
        set(&mut p.ttft.median, self.ttft_median);
        if self.ttft_p99.is_some() {
            p.ttft.p99 = self.ttft_p99;
        }
        set(&mut p.errors.retry_after, self.retry_after);
        let set = |target: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *target = v;
            }
        };
        set(&mut p.tokens_per_second, self.tokens_per_second);
        set(&mut p.errors.rate_429, self.error_429);
        set(&mut p.errors.rate_500, self.error_500);
        set(&mut p.errors.rate_503, self.error_503);
        set(&mut p.errors.rate_interrupt, self.interrupt);
        set(&mut p.errors.rate_hang, self.hang);
        set(&mut p.errors.rate_malformed, self.malformed);
        set(&mut p.errors.rate_cut_stream, self.cut_stream);
        set(&mut p.refusal, self.refusal);
        set(&mut p.json_break, self.json_break);
        set(&mut p.length_scale, self.length_scale);
        set(&mut p.retrieval.empty, self.retrieval_empty);
        set(&mut p.retrieval.irrelevant, self.retrieval_irrelevant);
        if self.require_key.is_some() {
            p.require_key = self.require_key.clone();
        }
        if self.admin_key.is_some() {
            p.admin_key = self.admin_key.clone();
        }
        if let Some(seed) = self.seed {
            p.seed = seed;
        }
        let origin = match &self.profile {
            Some(path) => format!("{} with command-line flags", path.display()),
            None => "command-line flags".to_string(),
        };
        p.validate(&origin)?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, "latency: { median: 10ms }\nrefusal: 0.5\nseed: 3\n").unwrap();
        let cli = Cli::try_parse_from([
            "x",
            "--profile",
            file.to_str().unwrap(),
            "--latency-p99",
            "1.5s",
            "--error-429",
            "0.2",
            "--seed",
            "9",
        ])
        .unwrap();
        let p = cli.sim.profile().unwrap();
        assert_eq!(p.latency.median, Duration::from_millis(10));
        assert_eq!(p.latency.p99, Some(Duration::from_millis(1500)));
        assert_eq!(p.refusal, 0.5);
        assert_eq!(p.errors.rate_429, 0.2);
        assert_eq!(p.seed, 9);
        assert_eq!(cli.sim.addr().to_string(), "127.0.0.1:8089");
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(Cli::try_parse_from(["x", "--refusal", "1.5"]).is_err());
        assert!(Cli::try_parse_from(["x", "--latency-median", "soon"]).is_err());
        let cli = Cli::try_parse_from(["x", "--error-429", "0.7", "--error-500", "0.7"]).unwrap();
        let err = cli.sim.profile().unwrap_err().to_string();
        assert!(err.contains("command-line flags"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let cli = Cli::try_parse_from(["x", "--profile", "/nonexistent/p.yaml"]).unwrap();
        let err = cli.sim.profile().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/p.yaml"), "{err}");
    }
}
