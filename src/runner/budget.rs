//! The cost budget: every request reserves its worst-case cost *before* it is sent (a
//! prompt estimate plus the most output tokens it may produce), and settles at its real cost
//! when it returns. A request whose reservation does not fit is not sent, so a run never
//! spends past `max_cost_usd`, however many requests are in flight.

use std::sync::Mutex;

use crate::config::{Pricing, Target};
use crate::golden::Message;

/// Output tokens assumed when neither the target nor the case bounds them.
pub const DEFAULT_OUTPUT_ESTIMATE: u64 = 1024;

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

/// Rough token count of a text: about four characters a token for English prose, which is
/// what the budget needs (an upper-ish bound, not an exact tokenizer).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Worst-case cost of one request: the prompt estimate plus the output bound.
pub fn estimate_cost(messages: &[Message], max_output: Option<u64>, pricing: &Pricing) -> f64 {
    // A few tokens of per-message framing, as chat formats add.
    let input: u64 = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum();
    pricing.cost(input, max_output.unwrap_or(DEFAULT_OUTPUT_ESTIMATE))
}

/// The output bound for a case on a target: the request's `max_tokens`, else the case's.
pub fn output_bound(target: &Target, case_max: Option<u64>) -> Option<u64> {
    target.max_tokens().or(case_max)
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

    #[test]
    fn unlimited_budget_always_reserves() {
        let b = Budget::new(None);
        assert!(b.reserve(1e9).is_some());
    }
}
