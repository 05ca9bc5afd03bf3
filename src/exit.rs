//! Exit codes, as named constants: what CI scripts branch on. Documented in the README and
//! in `probity --help`.

/// The run passed (warnings allowed).
pub const PASSED: i32 = 0;
/// A verdict failed: a threshold, drift, or the rollout gate.
pub const VERDICT_FAILED: i32 = 1;
/// Usage or configuration error: nothing was probed.
pub const USAGE: i32 = 2;
/// Could not probe: endpoint unreachable, every request failed, or the budget ran out
/// before the minimum samples.
pub const COULD_NOT_PROBE: i32 = 3;
/// Interrupted (Ctrl-C, SIGINT): what was done is stored (status `cancelled`) and printed,
/// and it is never a pass. 128 + SIGINT, as shells report it.
pub const INTERRUPTED: i32 = 130;
