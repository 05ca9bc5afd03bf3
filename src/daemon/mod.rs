//! `probity serve`: the scheduler daemon. It decides only *when* a probe runs; each run
//! goes through the same pipeline as `probity run`. `state` is what the scheduler shares
//! with the HTTP endpoints (`/metrics`, `/readyz`, the dashboard).

pub mod http;
pub mod state;

pub use state::{
    DaemonState, LastRun, ProbeSchedule, ProbeStatus, RunCounts, SharedState, Snapshot,
};
