//! The events about requests and runs: what each says, and when it is written.
//!
//! - A failed attempt, always: ERROR when it was the sample's last (the failure counts),
//!   WARN when a retry follows; its error class, HTTP status and message (redacted, then
//!   escaped by the format).
//! - A successful attempt, at INFO, only when its traceparent is among the sampled share.
//! - A sample not sent for the budget, at WARN.
//! - With `--log-content`, request events also carry the case's prompt and the output
//!   (redacted as the store keeps them); without it, neither ever appears.
//!
//! The case, sample and traceparent come from the `request` span these are written in;
//! the run and probe from the `run` span around it.

use crate::golden::Case;
use crate::pipeline::RunOutcome;
use crate::runner::{Observation, Redactor, Status};

/// Logs one attempt (call it in the attempt's `request` span), by [`super::policy`].
pub fn attempt(obs: &Observation, traceparent: &str, case: &Case, redactor: &Redactor) {
    let policy = super::policy();
    let prompt = policy.content.then(|| redactor.apply(case.prompt()));
    let output = obs
        .output
        .as_deref()
        .filter(|_| policy.content)
        .map(|t| redactor.apply(t));
    let (prompt, output) = (prompt.as_deref(), output.as_deref());
    match obs.status {
        Status::Ok => {
            if !super::sampled(traceparent, policy.sample_successes) {
                return;
            }
            tracing::info!(
                target: "probity::request",
                http_status = obs.http_status,
                latency_ms = obs.latency_ms.map(to_us),
                ttft_ms = obs.ttft_ms.map(to_us),
                input_tokens = obs.input_tokens,
                output_tokens = obs.output_tokens,
                cost_usd = to_nano(obs.cost_usd),
                model = obs.model.as_deref(),
                finish_reason = obs.finish_reason.as_deref(),
                request_id = obs.request_id.as_deref(),
                prompt,
                output,
                "request answered"
            );
        }
        Status::Error(class) => {
            let error = obs.error.as_deref().map(|e| redactor.apply(e));
            let error = error.as_deref();
            if obs.final_attempt {
                tracing::error!(
                    target: "probity::request",
                    error_class = class.as_str(),
                    http_status = obs.http_status,
                    latency_ms = obs.latency_ms.map(to_us),
                    request_id = obs.request_id.as_deref(),
                    error,
                    prompt,
                    output,
                    "request failed"
                );
            } else {
                tracing::warn!(
                    target: "probity::request",
                    error_class = class.as_str(),
                    http_status = obs.http_status,
                    latency_ms = obs.latency_ms.map(to_us),
                    request_id = obs.request_id.as_deref(),
                    error,
                    prompt,
                    output,
                    "request failed; retrying"
                );
            }
        }
        Status::SkippedBudget => not_sent(obs),
    }
}

/// Logs a sample the budget kept from being sent (no request, so no traceparent).
pub fn not_sent(obs: &Observation) {
    tracing::warn!(
        target: "probity::request",
        target_name = %obs.target,
        set = %obs.set,
        case_id = %obs.case_id,
        sample = obs.sample,
        attempt = obs.attempt,
        "request not sent: the budget could not cover it"
    );
}

/// Logs how a run ended (call it in the run's span).
pub fn run_finished(outcome: &RunOutcome) {
    tracing::info!(
        target: "probity::run",
        status = outcome.status.as_str(),
        verdict = outcome.verdict.as_str(),
        exit_code = outcome.exit_code,
        requests = outcome.runner.sent,
        cost_usd = to_nano(outcome.runner.spent_usd),
        findings = outcome.findings.len(),
        "run finished"
    );
}

/// Milliseconds to the microsecond: finer digits are noise in a log line.
fn to_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Dollars to the billionth: sums of prices carry binary noise (0.00046334999999999996).
fn to_nano(usd: f64) -> f64 {
    (usd * 1e9).round() / 1e9
}
