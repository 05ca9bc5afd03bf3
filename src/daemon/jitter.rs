//! A probe's jitter: a fixed share of its `jitter:` window, taken from a hash of its name,
//! so probes on the same schedule start spread out, and each starts at the same offset
//! after every tick and every restart (a run's timing stays comparable with the last).

use std::time::Duration;

use sha2::{Digest, Sha256};

/// The offset of probe `name` within `[0, window)`, to the millisecond.
pub fn offset(name: &str, window: Duration) -> Duration {
    let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Duration::from_millis(u64::from_be_bytes(first) % millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_fixed_per_name_within_the_window_and_spread() {
        let window = Duration::from_secs(30);
        assert_eq!(offset("support-bot", window), offset("support-bot", window));
        assert_eq!(offset("support-bot", Duration::ZERO), Duration::ZERO);
        let offsets: Vec<Duration> = (0..50)
            .map(|i| offset(&format!("probe-{i}"), window))
            .collect();
        assert!(offsets.iter().all(|o| *o < window));
        let distinct: std::collections::BTreeSet<_> = offsets.iter().collect();
        assert!(distinct.len() > 45, "{distinct:?}");
    }
}
