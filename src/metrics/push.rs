//! Pushing a one-shot run's metrics to a Prometheus Pushgateway, as Prometheus recommends
//! for batch jobs: `PUT <url>/metrics/job/probity/probe/<name>` replaces the probe's group
//! with this run's metrics (the Pushgateway adds `push_time_seconds`).
//!
//! The body is the Prometheus text format 0.0.4, not OpenMetrics: the Pushgateway (1.x)
//! parses pushes with the classic text parser, which rejects OpenMetrics' `info` and
//! `unknown` types and reads a counter's `# TYPE x` as naming a family without `_total`.
//! [`to_prometheus_text`] converts the registry's OpenMetrics exposition line by line.

use std::collections::HashMap;
use std::time::Duration;

/// How long a push may take: the run is over, a stuck gateway must not hold the job.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("--pushgateway `{url}` is not an http(s) URL")]
    BadUrl { url: String },
    #[error("could not reach the Pushgateway at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Pushgateway at {url} answered {status}: {body}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
}

/// The Pushgateway's grouping key path for `probe`: plain names as they are, any other
/// name in the `@base64` form the Pushgateway defines (URL-safe base64), so a `/` or a
/// space in a probe name cannot change the path.
pub fn push_url(base: &str, probe: &str) -> String {
    let base = base.trim_end_matches('/');
    let plain = !probe.is_empty()
        && probe
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && probe != "."
        && probe != "..";
    if plain {
        format!("{base}/metrics/job/probity/probe/{probe}")
    } else {
        // An empty value is `=` in the base64 form.
        let encoded = if probe.is_empty() {
            "=".to_string()
        } else {
            base64_url(probe.as_bytes())
        };
        format!("{base}/metrics/job/probity/probe@base64/{encoded}")
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// The OpenMetrics exposition `open` in the Prometheus text format 0.0.4: `# EOF` and
/// `# UNIT` lines dropped, a counter's `# HELP`/`# TYPE` named with its `_total` samples,
/// `info` and `unknown` families typed as gauge and untyped. Sample lines are the same in
/// both formats (probity writes no exemplars, timestamps or `_created` samples).
pub fn to_prometheus_text(open: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in open.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            types.insert(name, kind);
        }
    }
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("HELP", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("TYPE", r)));
        match meta {
            Some((what, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let kind = types.get(name).copied().unwrap_or("untyped");
                let name = if kind == "counter" {
                    format!("{name}_total")
                } else {
                    name.to_string()
                };
                let tail = if what == "TYPE" {
                    match kind {
                        "info" | "stateset" => "gauge",
                        "unknown" => "untyped",
                        "gaugehistogram" => "histogram",
                        other => other,
                    }
                } else {
                    tail
                };
                out.push_str(&format!("# {what} {name} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// PUTs `open_metrics` (the registry's exposition, converted) as the group of `probe`.
pub async fn push(base: &str, probe: &str, open_metrics: &str) -> Result<(), PushError> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(PushError::BadUrl { url: base.into() });
    }
    let url = push_url(base, probe);
    let client = reqwest::Client::builder()
        .timeout(PUSH_TIMEOUT)
        .build()
        .map_err(|e| PushError::Unreachable {
            url: base.into(),
            reason: e.to_string(),
        })?;
    let response = client
        .put(&url)
        .header(reqwest::header::CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE)
        .body(to_prometheus_text(open_metrics))
        .send()
        .await
        .map_err(|e| PushError::Unreachable {
            url: base.into(),
            reason: with_causes(&e),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(PushError::Rejected {
        url: base.into(),
        status: status.as_u16(),
        // The gateway's own words, bounded and on one line.
        body: one_line(&body, 300),
    })
}

/// An error with its causes ("error sending request: connection refused").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Untrusted text (a server's error body) on one line, at most `max` characters, control
/// and hidden characters escaped.
fn one_line(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .take(max)
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\t' {
                " ".to_string()
            } else if c.is_control() || crate::inert::is_hidden(c) {
                crate::inert::escaped(c)
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_and_eof_and_units_go() {
        let open = "# HELP probity_runs Finished runs.\n# TYPE probity_runs counter\n\
                    probity_runs_total{probe=\"bot\",result=\"pass\"} 1\n\
                    # HELP probity_last_run_timestamp_seconds When.\n\
                    # TYPE probity_last_run_timestamp_seconds gauge\n\
                    # UNIT probity_last_run_timestamp_seconds seconds\n\
                    probity_last_run_timestamp_seconds{probe=\"bot\"} 1.5\n# EOF\n";
        let text = to_prometheus_text(open);
        assert_eq!(
            text,
            "# HELP probity_runs_total Finished runs.\n# TYPE probity_runs_total counter\n\
             probity_runs_total{probe=\"bot\",result=\"pass\"} 1\n\
             # HELP probity_last_run_timestamp_seconds When.\n\
             # TYPE probity_last_run_timestamp_seconds gauge\n\
             probity_last_run_timestamp_seconds{probe=\"bot\"} 1.5\n"
        );
    }

    #[test]
    fn info_and_unknown_get_classic_types() {
        let text = to_prometheus_text("# TYPE a info\na_info 1\n# TYPE b unknown\nb 2\n");
        assert_eq!(text, "# TYPE a gauge\na_info 1\n# TYPE b untyped\nb 2\n");
    }

    #[test]
    fn grouping_keys_encode_what_a_path_cannot_hold() {
        assert_eq!(
            push_url("http://127.0.0.1:9091/", "support-bot"),
            "http://127.0.0.1:9091/metrics/job/probity/probe/support-bot"
        );
        // base64url("a/b c") = "YS9iIGM="
        assert_eq!(
            push_url("http://gw", "a/b c"),
            "http://gw/metrics/job/probity/probe@base64/YS9iIGM="
        );
        assert_eq!(base64_url(b"ab"), "YWI=");
        assert_eq!(base64_url(b"abc"), "YWJj");
        assert_eq!(base64_url(b"\xfb\xff"), "-_8=");
    }
}
