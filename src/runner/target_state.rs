//! What the runner learns about one target while a run goes, shared by its samples: a
//! pause its server asked for (`Retry-After` on a 429 or 503), the time spent paused, and
//! whether it has answered at all — a target whose first attempts all fail to connect is
//! given up on rather than retried for the whole run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Connect failures in a row, before any answer, after which a target is unreachable.
pub const UNREACHABLE_AFTER: u32 = 5;

#[derive(Debug, Default)]
pub struct TargetState(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    paused_until: Option<Instant>,
    /// Union of the pause windows so far (a window may still be running).
    paused: Duration,
    answered: bool,
    connect_failures: u32,
    unreachable: Option<String>,
    /// Samples not sent because the target was given up on.
    skipped: u64,
}

impl TargetState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The server asked at `now` for `wait` without new requests. Overlapping pauses
    /// extend one another and are counted once.
    pub fn pause(&self, now: Instant, wait: Duration) {
        let Some(until) = now.checked_add(wait) else {
            return;
        };
        let mut s = self.lock();
        let from = match s.paused_until {
            Some(current) if current > now => current,
            _ => now,
        };
        if until > from {
            s.paused = s.paused.saturating_add(until - from);
            s.paused_until = Some(until);
        }
    }

    /// The end of the pause, when it is later than `at`.
    pub fn paused_until(&self, at: Instant) -> Option<Instant> {
        self.lock().paused_until.filter(|until| *until > at)
    }

    /// Time paused up to `now` (a pause still running counts up to `now`).
    pub fn paused_total(&self, now: Instant) -> Duration {
        let s = self.lock();
        let unused = s
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        s.paused.saturating_sub(unused)
    }

    /// Something came back from the server (any status): it is reachable.
    pub fn answered(&self) {
        let mut s = self.lock();
        s.answered = true;
        s.connect_failures = 0;
    }

    /// An attempt could not connect; `message` says why ("could not reach URL: ...").
    pub fn connect_failed(&self, message: &str) {
        let mut s = self.lock();
        if s.answered || s.unreachable.is_some() {
            return;
        }
        s.connect_failures += 1;
        if s.connect_failures >= UNREACHABLE_AFTER {
            s.unreachable = Some(message.to_owned());
        }
    }

    /// A sample was not sent: the target was given up on.
    pub fn skip(&self) {
        self.lock().skipped += 1;
    }

    pub fn skipped(&self) -> u64 {
        self.lock().skipped
    }

    pub fn is_unreachable(&self) -> bool {
        self.lock().unreachable.is_some()
    }

    /// Why the target was given up on, if it was.
    pub fn unreachable(&self) -> Option<String> {
        self.lock().unreachable.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_pauses_count_once() {
        let s = TargetState::default();
        let t0 = Instant::now();
        s.pause(t0, Duration::from_secs(2));
        s.pause(t0 + Duration::from_secs(1), Duration::from_secs(2));
        s.pause(t0 + Duration::from_secs(1), Duration::from_millis(500));
        assert_eq!(s.paused_until(t0), Some(t0 + Duration::from_secs(3)));
        assert_eq!(s.paused_until(t0 + Duration::from_secs(3)), None);
        assert_eq!(
            s.paused_total(t0 + Duration::from_secs(10)),
            Duration::from_secs(3)
        );
        // A run that ends mid-pause counts only the part it waited.
        assert_eq!(
            s.paused_total(t0 + Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        s.pause(t0, Duration::MAX);
        assert_eq!(s.paused_until(t0), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn unreachable_only_before_any_answer() {
        let s = TargetState::default();
        for _ in 0..UNREACHABLE_AFTER - 1 {
            s.connect_failed("could not reach u: refused");
        }
        assert!(!s.is_unreachable());
        s.connect_failed("could not reach u: refused");
        assert_eq!(
            s.unreachable().as_deref(),
            Some("could not reach u: refused")
        );

        let s = TargetState::default();
        s.answered();
        for _ in 0..UNREACHABLE_AFTER * 2 {
            s.connect_failed("x");
        }
        assert!(
            !s.is_unreachable(),
            "it answered once: a blip, not a closed port"
        );
    }
}
