//! Seeded determinism: a stable hash of prompts, per-prompt request counters (lock-free)
//! and the RNG of one request, derived from (seed, prompt hash, counter). Because the RNG
//! depends on nothing else, the n-th request for a prompt gets the same answer however
//! concurrent requests interleave.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// The RNG of one request. Xoshiro256++ named explicitly (not `SmallRng`) so the same seed
/// gives the same answers on every platform.
pub(crate) type SimRng = Xoshiro256PlusPlus;

/// Incremental FNV-1a, 64 bit: stable across Rust versions and processes (unlike
/// `DefaultHasher`), which seeded answers need.
#[derive(Clone, Copy)]
pub(crate) struct StableHasher(u64);

impl StableHasher {
    pub(crate) fn new() -> Self {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A separator no UTF-8 text contains, so ("ab","c") and ("a","bc") hash apart.
    pub(crate) fn separate(&mut self) {
        self.write(&[0xff]);
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// splitmix64's finaliser: spreads a combination of inputs over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RNG for the `counter`-th request of the prompt hashed to `prompt`.
pub(crate) fn request_rng(seed: u64, prompt: u64, counter: u64) -> SimRng {
    let s = mix(mix(mix(seed) ^ prompt) ^ counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    SimRng::seed_from_u64(s)
}

/// Request counters of prompts no golden case knows, in a fixed open-addressed table of
/// atomics: no lock on the hot path, bounded memory. Once full, further new prompts share
/// one overflow counter (still seeded, no longer independent of interleaving).
pub(crate) struct PromptCounters {
    keys: Box<[AtomicU64]>,
    counts: Box<[AtomicU64]>,
    overflow: AtomicU64,
}

const SLOTS: usize = 1 << 16;
/// Probes before giving up on a slot; keeps a full table from turning into a scan.
const MAX_PROBES: usize = 64;

impl PromptCounters {
    pub(crate) fn new() -> Self {
        PromptCounters {
            keys: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            counts: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            overflow: AtomicU64::new(0),
        }
    }

    /// Returns the prompt's counter value before this request (0 for its first request).
    pub(crate) fn next(&self, prompt: u64) -> u64 {
        // 0 marks an empty slot, so no key may be 0.
        let key = prompt.max(1);
        let start = (mix(key) as usize) & (SLOTS - 1);
        for i in 0..MAX_PROBES {
            let slot = (start + i) & (SLOTS - 1);
            let current = self.keys[slot].load(Ordering::Acquire);
            let owned = current == key
                || (current == 0
                    && match self.keys[slot].compare_exchange(
                        0,
                        key,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => true,
                        Err(actual) => actual == key,
                    });
            if owned {
                return self.counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.overflow.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn counters_are_per_prompt() {
        let c = PromptCounters::new();
        assert_eq!(c.next(42), 0);
        assert_eq!(c.next(7), 0);
        assert_eq!(c.next(42), 1);
        assert_eq!(c.next(0), 0);
        assert_eq!(c.next(0), 1);
    }

    #[test]
    fn rng_depends_on_every_input() {
        let a: u64 = request_rng(1, 2, 3).random();
        assert_eq!(a, request_rng(1, 2, 3).random::<u64>());
        assert_ne!(a, request_rng(0, 2, 3).random::<u64>());
        assert_ne!(a, request_rng(1, 0, 3).random::<u64>());
        assert_ne!(a, request_rng(1, 2, 4).random::<u64>());
    }

    #[test]
    fn hash_separates_fields() {
        let h = |parts: &[&str]| {
            let mut h = StableHasher::new();
            for p in parts {
                h.write(p.as_bytes());
                h.separate();
            }
            h.finish()
        };
        assert_ne!(h(&["ab", "c"]), h(&["a", "bc"]));
    }
}
