//! `Timings`: where one request's time went — the network phases probity measured itself
//! (DNS, connect, time to first byte, the gaps between streamed tokens) and the components
//! the server reported (`Server-Timing`, or an `http` target's `response.timings`).
//! Filled by the provider transport and the runner; summarised as `summary.components`.
//!
//! How a phase reaches the right attempt: the runner runs each attempt's `chat` inside
//! [`Recorder::scope`], a `tokio::task_local!` scope that is set around every poll of that
//! attempt's future (not around a whole task). The transport's DNS resolver and connector
//! layer (`provider::phases`), its `send` and the stream readers write into the recorder
//! of the scope they are polled in. hyper-util's pool races a pool checkout against a new
//! connect; when the checkout wins, the started connect is *spawned* to finish in the
//! background, outside every attempt's scope, so it is charged to nobody (the attempt that
//! rode the pooled connection says `reused_connection` and has no DNS or connect phase).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The phases of one attempt, in milliseconds. A phase that did not happen is `None`: a
/// request on a pooled connection has no DNS or connect phase (and says so with
/// `reused_connection`), so summaries never average real phases with zeros.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// DNS resolution, when this attempt opened a new connection to a host name (an IP
    /// address in the URL needs none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    /// TCP connect and TLS handshake together, when this attempt opened a new connection:
    /// reqwest's connector does both in one step that a `connector_layer` sees whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// From the request being ready to go (sent, or its new connection ready) to the
    /// response's headers: the upload, the server's work before its first byte, the way back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    /// The attempt rode a connection opened by an earlier request.
    pub reused_connection: bool,
    /// Median gap between streamed tokens (content chunks) of this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_p50_ms: Option<f64>,
    /// 95th percentile of those gaps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_p95_ms: Option<f64>,
    /// Components the server reported, by name (`retrieval`, `generation`), in ms.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub server: BTreeMap<String, f64>,
    /// What is left of the attempt's time (send to complete answer) after the server's
    /// components: the network and everything the server did not report. Only when the
    /// server reported components; never below 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_overhead_ms: Option<f64>,
}

/// The most components kept from one response: a server cannot grow the summaries (and
/// `/metrics`) without bound.
pub const MAX_SERVER_COMPONENTS: usize = 16;

tokio::task_local! {
    static ATTEMPT: Recorder;
}

/// A connect charged to an attempt.
#[derive(Debug, Clone, Copy)]
struct Connect {
    dns_ms: Option<f64>,
    connect_ms: f64,
    ready_at: Instant,
}

#[derive(Debug, Default)]
struct Marks {
    connect: Option<Connect>,
    headers_at: Option<Instant>,
    server: BTreeMap<String, f64>,
    tokens: Vec<Instant>,
}

/// What one attempt's transport saw; shared by the attempt's future and the hooks.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Marks>>);

impl Recorder {
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Runs `future` as this recorder's attempt: hooks polled inside it write here.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        ATTEMPT.scope(self.clone(), future).await
    }

    /// The recorder of the attempt being polled, if any.
    pub fn current() -> Option<Recorder> {
        ATTEMPT.try_with(Clone::clone).ok()
    }

    /// This recorder's attempt is the one being polled right now.
    pub fn is_current(&self) -> bool {
        ATTEMPT
            .try_with(|r| Arc::ptr_eq(&r.0, &self.0))
            .unwrap_or(false)
    }

    fn marks(&self) -> MutexGuard<'_, Marks> {
        // The marks are plain data: a panic elsewhere cannot leave them half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection this attempt opened and will use; the last one counts (hyper
    /// retries a request whose pooled connection closed under it on a new one).
    pub fn connected(&self, dns_ms: Option<f64>, connect_ms: f64, ready_at: Instant) {
        self.marks().connect = Some(Connect {
            dns_ms,
            connect_ms,
            ready_at,
        });
    }

    /// The attempt's figures: `sent_at` is when it was handed to the client, `done_at`
    /// when its answer was complete. `None` when nothing was seen (no scope, no response).
    pub fn finish(&self, sent_at: Instant, done_at: Instant) -> Option<Timings> {
        let marks = self.marks();
        let headers_at = marks.headers_at?;
        let ready = marks.connect.map_or(sent_at, |c| c.ready_at.max(sent_at));
        let mut gaps: Vec<f64> = marks.tokens.windows(2).map(|w| ms(w[0], w[1])).collect();
        gaps.sort_by(f64::total_cmp);
        let network_overhead_ms = (!marks.server.is_empty()).then(|| {
            let server: f64 = marks.server.values().sum();
            (ms(sent_at, done_at) - server).max(0.0)
        });
        Some(Timings {
            dns_ms: marks.connect.and_then(|c| c.dns_ms),
            connect_ms: marks.connect.map(|c| c.connect_ms),
            ttfb_ms: Some(ms(ready, headers_at)),
            reused_connection: marks.connect.is_none(),
            gap_p50_ms: crate::stats::quantile(&gaps, 0.50),
            gap_p95_ms: crate::stats::quantile(&gaps, 0.95),
            server: marks.server.clone(),
            network_overhead_ms,
        })
    }
}

/// The current attempt's response headers arrived at `at`, with these server components.
pub fn headers_arrived(at: Instant, server: BTreeMap<String, f64>) {
    if let Some(r) = Recorder::current() {
        let mut marks = r.marks();
        marks.headers_at = Some(at);
        marks.server = server;
    }
}

/// A component read from the body (an `http` target's `response.timings`): it replaces
/// the header's figure of the same name, since the body is the more specific source.
pub fn server_component(name: &str, ms: f64) {
    if !ms.is_finite() || ms < 0.0 {
        return;
    }
    if let Some(r) = Recorder::current() {
        let mut marks = r.marks();
        if marks.server.len() < MAX_SERVER_COMPONENTS || marks.server.contains_key(name) {
            marks.server.insert(name.to_owned(), ms);
        }
    }
}

/// A streamed chunk with content arrived for the current attempt.
pub fn token_arrived() {
    if let Some(r) = Recorder::current() {
        r.marks().tokens.push(Instant::now());
    }
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn hooks_write_only_into_the_attempt_being_polled() {
        let (a, b) = (Recorder::new(), Recorder::new());
        let t0 = Instant::now();
        a.scope(async {
            assert!(a.is_current() && !b.is_current());
            headers_arrived(t0 + Duration::from_millis(30), BTreeMap::new());
            token_arrived();
        })
        .await;
        // Outside every scope nothing is recorded, and nothing panics.
        assert!(!a.is_current());
        token_arrived();
        server_component("x", 1.0);
        let t = a.finish(t0, t0 + Duration::from_millis(50)).unwrap();
        assert!(t.reused_connection && t.dns_ms.is_none() && t.connect_ms.is_none());
        assert!((t.ttfb_ms.unwrap() - 30.0).abs() < 1e-6);
        // One token makes no gap; no component makes no overhead.
        assert_eq!((t.gap_p50_ms, t.network_overhead_ms), (None, None));
        assert_eq!(b.finish(t0, t0), None, "no response seen");
    }

    #[tokio::test]
    async fn a_new_connection_moves_ttfb_after_it_and_overhead_is_what_is_left() {
        let r = Recorder::new();
        let t0 = Instant::now();
        r.connected(Some(2.0), 8.0, t0 + Duration::from_millis(10));
        r.scope(async {
            let mut server = BTreeMap::new();
            server.insert("retrieval".to_owned(), 20.0);
            headers_arrived(t0 + Duration::from_millis(40), server);
            server_component("generation", 50.0);
            server_component("bogus", f64::NAN);
        })
        .await;
        let t = r.finish(t0, t0 + Duration::from_millis(100)).unwrap();
        assert!(!t.reused_connection);
        assert_eq!((t.dns_ms, t.connect_ms), (Some(2.0), Some(8.0)));
        assert!((t.ttfb_ms.unwrap() - 30.0).abs() < 1e-6);
        assert_eq!(t.server.len(), 2);
        assert!((t.network_overhead_ms.unwrap() - 30.0).abs() < 1e-6);
    }
}
