//! W3C trace context: every request carries `traceparent` (the run's trace id, a fresh span
//! id per attempt) and `x-probity-run-id`, so an endpoint's own logs and traces can be joined
//! with probity's observations.

use rand::RngExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// A random 32-hex-digit trace id for a run.
pub fn new_trace_id() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// A random 16-hex-digit span id, never all zeros (which W3C forbids).
pub fn new_span_id() -> String {
    format!("{:016x}", rand::rng().random_range(1..=u64::MAX))
}

/// The `traceparent` of one attempt (version 00, sampled), as sent and as logged.
pub fn traceparent(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

/// The headers of one attempt.
pub fn headers(run_id: &str, trace_id: &str, span_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&traceparent(trace_id, span_id)) {
        headers.insert(HeaderName::from_static("traceparent"), v);
    }
    if let Ok(v) = HeaderValue::from_str(run_id) {
        headers.insert(HeaderName::from_static("x-probity-run-id"), v);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_well_formed() {
        let h = headers("run-1", &new_trace_id(), &new_span_id());
        let tp = h["traceparent"].to_str().unwrap();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01")
        );
        assert_eq!(h["x-probity-run-id"], "run-1");
    }
}
