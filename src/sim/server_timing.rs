//! The simulator's `Server-Timing` (issue 13): answers say where the simulated server spent
//! its time, so a demo run shows a breakdown (`generation` for the chat endpoints,
//! `retrieval` and `generation` for the RAG endpoint). The figures are what the simulator
//! measured around its own waits, not the profile's plan; a stream's header goes out before
//! the answer, so it announces the planned time of the whole stream.

use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::response::Response;

use super::server::SimState;

/// Adds `Server-Timing: name;dur=ms, ...` to `resp`.
pub(crate) fn with_server_timing(mut resp: Response, parts: &[(&str, f64)]) -> Response {
    let value = parts
        .iter()
        .map(|(name, ms)| format!("{name};dur={ms:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append("server-timing", v);
    }
    resp
}

/// Waits `d` like `SimState::wait`; the milliseconds actually waited, `None` on shutdown.
pub(crate) async fn timed_wait(state: &SimState, d: Duration) -> Option<f64> {
    let start = Instant::now();
    state
        .wait(d)
        .await
        .then(|| start.elapsed().as_secs_f64() * 1000.0)
}

/// A planned duration in ms, for a stream's header.
pub(crate) fn planned_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
