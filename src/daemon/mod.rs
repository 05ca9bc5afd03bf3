//! `probity serve`: the scheduler daemon. It decides only *when* a probe runs; each run
//! goes through the same pipeline as `probity run`. `state` is what the scheduler shares
//! with the HTTP endpoints (`/metrics`, `/readyz`, the dashboard).

pub mod dashboard;
pub mod http;
pub mod jitter;
pub mod scheduler;
pub mod state;
pub mod usage;
pub mod usage_panel;

pub use scheduler::{DaemonError, Event, Loaded, Loader, Settings, Stopped, serve};
pub use state::{
    DaemonState, LastRun, ProbeSchedule, ProbeStatus, RunCounts, SharedState, Snapshot,
};
