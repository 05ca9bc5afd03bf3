//! An `Observation`: what one attempt at one sample of one case did. The runner emits them
//! as they happen; the store writes them, the scorers read them, the summary counts them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::timings::Timings;
use crate::provider::ErrorClass;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    Error(ErrorClass),
    /// Not sent: the budget could not cover it.
    SkippedBudget,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error(class) => class.as_str(),
            Status::SkippedBudget => "skipped_budget",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "ok" => Some(Status::Ok),
            "skipped_budget" => Some(Status::SkippedBudget),
            other => ErrorClass::parse(other).map(Status::Error),
        }
    }

    pub fn error_class(self) -> Option<ErrorClass> {
        match self {
            Status::Error(class) => Some(class),
            _ => None,
        }
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Status::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown status `{s}`")))
    }
}

/// One attempt. Text fields have already been redacted (secrets, `store.redact`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Order of emission within the run; with `run_id`, the observation's key.
    pub seq: u64,
    /// Target name (`default`, or a key of `targets`).
    pub target: String,
    /// Golden set of the case.
    pub set: String,
    pub case_id: String,
    /// 0-based sample index within the case.
    pub sample: u32,
    /// 1-based attempt number (retries add attempts).
    pub attempt: u32,
    /// The sample's last attempt: the one whose outcome counts.
    pub final_attempt: bool,
    /// Wall-clock time the attempt was sent.
    pub started_at: DateTime<Utc>,
    /// When the sample should have started, in ms since the run started (the pacing schedule).
    pub scheduled_ms: f64,
    /// Held back by a pause its target's server asked for (`Retry-After`): `scheduled_ms`
    /// and the latency then count from the end of the pause.
    #[serde(default)]
    pub delayed: bool,
    /// From the sample's intended start to the answer's last byte: queueing, earlier
    /// attempts and backoff included, so a slow endpoint cannot hide behind the pacing.
    pub latency_ms: Option<f64>,
    /// From the sample's intended start to the first content.
    pub ttft_ms: Option<f64>,
    pub status: Status,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: f64,
    pub finish_reason: Option<String>,
    /// The model the endpoint said answered.
    pub model: Option<String>,
    /// The endpoint's `system_fingerprint` (OpenAI), when it sent one.
    #[serde(default)]
    pub system_fingerprint: Option<String>,
    pub request_id: Option<String>,
    /// The W3C span id sent in `traceparent` (the trace id is the run's).
    pub span_id: String,
    pub output: Option<String>,
    /// Context passages: the case's, or those the `http` provider extracted.
    pub context: Vec<String>,
    /// The labels of the probe, golden set and case, merged (the case's win): what cost,
    /// tokens, latency and quality are broken down by (`summary.by_label`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Where the request's time went; `None` when nothing was measured (not sent, or made
    /// before probity measured phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

impl Observation {
    /// An answer arrived (whatever its quality).
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}
