//! The cost budget: every request reserves its worst-case cost *before* it is sent (an
//! upper bound of its prompt's tokens, see `tokens::prompt_bound`, plus the most output
//! tokens it may produce), and settles at its real cost when it returns. A request whose
//! reservation does not fit is not sent, and a chat request carries the output bound it
//! reserved for (`bounded`), so a run never spends past `max_cost_usd`, however many
//! requests are in flight. An `http` target's body is the user's template, so its output
//! bound is the configured `budget.output_reservation_tokens`, which only the template can
//! enforce.

use std::sync::Mutex;

use super::tokens::prompt_bound;
use crate::config::{Pricing, ProviderKind, Target};
use crate::golden::Message;

/// The output bound of a chat request whose target's params set none: what the Anthropic
/// API is sent anyway, and what an OpenAI-compatible one is sent when a budget is set.
pub const DEFAULT_OUTPUT_BOUND: u64 = 1024;

/// Shared by every request of a run (and the judge's).
#[derive(Debug)]
pub struct Budget {
    limit: Option<f64>,
    state: Mutex<Spend>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Spend {
    spent: f64,
    reserved: f64,
}

/// A reservation; settle it with the real cost.
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "a reservation must be settled"]
pub struct Reservation(f64);

impl Reservation {
    /// The worst case this reservation holds, in USD.
    pub fn worst_case(&self) -> f64 {
        self.0
    }
}

impl Budget {
    pub fn new(limit: Option<f64>) -> Self {
        Budget {
            limit,
            state: Mutex::new(Spend::default()),
        }
    }

    /// Reserves `estimate` USD, or `None` when it could overspend the limit.
    pub fn reserve(&self, estimate: f64) -> Option<Reservation> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(limit) = self.limit {
            if s.spent + s.reserved + estimate > limit + f64::EPSILON {
                return None;
            }
        }
        s.reserved += estimate;
        Some(Reservation(estimate))
    }

    /// Replaces a reservation with what the request really cost.
    pub fn settle(&self, reservation: Reservation, cost: f64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.reserved = (s.reserved - reservation.0).max(0.0);
        s.spent += cost;
    }

    pub fn spent(&self) -> f64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).spent
    }
}

/// Worst-case cost of one request: the prompt's token bound plus the output bound.
pub fn estimate_cost(messages: &[Message], max_output: u64, pricing: &Pricing) -> f64 {
    pricing.cost(prompt_bound(messages), max_output)
}

/// The most output tokens a request to `target` may produce: its `max_tokens` (or
/// `max_completion_tokens`), else `default`. A case's `expect.max_tokens` is a check on the
/// answer, not a bound the endpoint is sent, so it plays no part.
pub fn output_bound(target: &Target, default: u64) -> u64 {
    target.max_tokens().unwrap_or(default)
}

/// `target` with `max_tokens: default` in its params when they set no bound, so that a chat
/// request cannot produce more than was reserved for it. An `http` target's body is the
/// user's template: its reservation assumes `default` output tokens, and an answer longer
/// than that can go past the budget by the difference (set a bound in the template).
pub fn bounded(target: &Target, default: u64) -> Target {
    let mut target = target.clone();
    if target.max_tokens().is_none() && target.provider != ProviderKind::Http {
        target.params.insert("max_tokens".into(), default.into());
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reserves_past_the_limit() {
        let b = Budget::new(Some(1.0));
        let r1 = b.reserve(0.6).unwrap();
        assert!(b.reserve(0.6).is_none(), "0.6 + 0.6 would overspend");
        b.settle(r1, 0.1);
        let r2 = b.reserve(0.6).unwrap();
        b.settle(r2, 0.6);
        assert!((b.spent() - 0.7).abs() < 1e-12);
        assert!(b.reserve(0.31).is_none());
        assert!(b.reserve(0.3).is_some());
    }

    fn target_of(provider: ProviderKind) -> Target {
        Target {
            provider,
            ..crate::config::probe::placeholder_target()
        }
    }

    #[test]
    fn a_bounded_chat_target_is_sent_the_bound_it_reserves_for() {
        let mut target = target_of(ProviderKind::OpenAi);
        assert_eq!(output_bound(&target, 300), 300);
        let b = bounded(&target, 300);
        assert_eq!(b.params["max_tokens"], 300);
        assert_eq!(output_bound(&b, 1024), 300);
        target
            .params
            .insert("max_completion_tokens".into(), 50.into());
        let b = bounded(&target, 300);
        assert!(
            !b.params.contains_key("max_tokens"),
            "the target's own bound stays"
        );
        assert_eq!(output_bound(&b, 300), 50);
        let http = bounded(&target_of(ProviderKind::Http), 300);
        assert!(
            http.params.is_empty(),
            "an http body is the user's template"
        );
    }

    #[test]
    fn unlimited_budget_always_reserves() {
        let b = Budget::new(None);
        assert!(b.reserve(1e9).is_some());
    }
}
