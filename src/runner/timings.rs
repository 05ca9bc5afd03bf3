//! `Timings`: where one request's time went — the network phases probity measured itself
//! (DNS, connect, time to first byte, the gaps between streamed tokens) and the components
//! the server reported (`Server-Timing`, or an `http` target's `response.timings`).
//! Filled by the provider transport and the runner; summarised as `summary.components`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The phases of one attempt, in milliseconds. A phase that did not happen is `None`: a
/// request on a pooled connection has no DNS or connect phase (and says so with
/// `reused_connection`), so summaries never average real phases with zeros.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// DNS resolution, when this attempt opened a new connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    /// TCP connect and TLS handshake together, when this attempt opened a new connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// From sending the request to the response's headers.
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
}
