//! The runner: sends cases × samples × targets with bounded concurrency, absolute-time
//! pacing, per-request timeouts, bounded retries and a cost budget, and emits one
//! `Observation` per attempt as it happens.

mod observation;

pub use observation::{Observation, Status};
