//! The daemon's shared state: what the scheduler knows about every probe (next run,
//! running, last verdict, last run and last success times, skipped ticks) and about itself
//! (config loaded, reloads that failed, a heartbeat). The scheduler is its only writer;
//! `/metrics`, `/readyz` and the dashboard read it through [`DaemonState::snapshot`].
//!
//! One `Mutex` around plain data, held only to copy in or out: readers never wait on a run,
//! and a snapshot is consistent (a probe is never seen both running and finished).
//! Counters only grow while the process lives, as Prometheus counters must; a probe removed
//! by a reload drops out of the snapshot (its series ends), one kept keeps its counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::compare::Verdict;
use crate::pipeline::RunStatus;

/// Shared between the scheduler (writer) and the HTTP handlers (readers).
pub type SharedState = Arc<DaemonState>;

/// See the module comment.
#[derive(Debug)]
pub struct DaemonState {
    started_at: DateTime<Utc>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    probes: BTreeMap<String, ProbeStatus>,
    config_loaded: bool,
    reloads: u64,
    failed_reloads: u64,
    last_reload_error: Option<String>,
    heartbeat: Option<DateTime<Utc>>,
    shutting_down: bool,
    running: usize,
    max_running: Option<usize>,
}

/// What the scheduler knows about one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeStatus {
    pub name: String,
    /// The schedule as written (`*/15 * * * *`, `@every 30s`).
    pub schedule: String,
    /// The IANA name of the probe's timezone (`UTC` by default).
    pub timezone: String,
    /// The next tick, jitter included; `None` when the schedule never fires again.
    pub next_run: Option<DateTime<Utc>>,
    /// When the run now going started; `None` when the probe is idle.
    pub running_since: Option<DateTime<Utc>>,
    /// The last finished run.
    pub last_run: Option<LastRun>,
    /// When the last run whose verdict passed (`pass` or `warn`: exit code 0) finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Runs finished since the daemon started, by result.
    pub runs: RunCounts,
    /// Ticks not run because the probe's previous run was still going.
    pub skipped_ticks: u64,
    /// Runs that could not start or stopped with an error (config, store, alert routing);
    /// the error is in the log and in `last_error`.
    pub errors: u64,
    pub last_error: Option<String>,
}

impl ProbeStatus {
    pub fn running(&self) -> bool {
        self.running_since.is_some()
    }
}

/// The last finished run of a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: RunStatus,
    pub verdict: Verdict,
}

/// Finished runs by verdict; `cancelled` counts runs stopped by shutdown whatever their
/// verdict, as the store marks them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub pass: u64,
    pub warn: u64,
    pub fail: u64,
    pub insufficient_data: u64,
    pub cancelled: u64,
}

impl RunCounts {
    /// `(result label, count)` for every result, always in this order.
    pub fn by_result(&self) -> [(&'static str, u64); 5] {
        [
            ("pass", self.pass),
            ("warn", self.warn),
            ("fail", self.fail),
            ("insufficient_data", self.insufficient_data),
            ("cancelled", self.cancelled),
        ]
    }

    pub fn total(&self) -> u64 {
        self.by_result().iter().map(|(_, n)| n).sum()
    }
}

/// A probe as the scheduler (re)loads it.
#[derive(Debug, Clone)]
pub struct ProbeSchedule {
    pub name: String,
    pub schedule: String,
    pub timezone: String,
}

/// A consistent copy of the state, for one request.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub started_at: DateTime<Utc>,
    /// In name order.
    pub probes: Vec<ProbeStatus>,
    /// A configuration has been loaded and validated (the first load, or any reload since).
    pub config_loaded: bool,
    /// Successful reloads (SIGHUP) since start.
    pub reloads: u64,
    /// Reloads rejected since start (the old config stayed in force).
    pub failed_reloads: u64,
    /// Why the last reload was rejected (file:line and the message); cleared by a good one.
    pub last_reload_error: Option<String>,
    /// The scheduler's last turn of its loop.
    pub heartbeat: Option<DateTime<Utc>>,
    /// SIGTERM/SIGINT came: no new runs start.
    pub shutting_down: bool,
    /// Runs going now, and the `--max-running` bound.
    pub running: usize,
    pub max_running: Option<usize>,
}

impl Snapshot {
    /// Skipped ticks over every probe.
    pub fn skipped_ticks(&self) -> u64 {
        self.probes.iter().map(|p| p.skipped_ticks).sum()
    }

    /// The scheduler turned its loop within `max_age` of `now`.
    pub fn scheduler_alive(&self, now: DateTime<Utc>, max_age: chrono::Duration) -> bool {
        self.heartbeat.is_some_and(|h| now - h <= max_age)
    }

    pub fn probe(&self, name: &str) -> Option<&ProbeStatus> {
        self.probes.iter().find(|p| p.name == name)
    }
}

impl Default for DaemonState {
    fn default() -> Self {
        DaemonState::new(Utc::now())
    }
}

impl DaemonState {
    pub fn new(started_at: DateTime<Utc>) -> DaemonState {
        DaemonState {
            started_at,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn shared(started_at: DateTime<Utc>) -> SharedState {
        Arc::new(DaemonState::new(started_at))
    }

    // A panic while the lock is held leaves plain data behind, still worth reading:
    // take it rather than poison every later request.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock().clone();
        Snapshot {
            started_at: self.started_at,
            probes: inner.probes.into_values().collect(),
            config_loaded: inner.config_loaded,
            reloads: inner.reloads,
            failed_reloads: inner.failed_reloads,
            last_reload_error: inner.last_reload_error,
            heartbeat: inner.heartbeat,
            shutting_down: inner.shutting_down,
            running: inner.running,
            max_running: inner.max_running,
        }
    }

    /// A configuration was loaded (at start, `reload = false`) or reloaded: these probes are
    /// now scheduled. Probes kept keep their history and counters; gone ones drop out.
    pub fn loaded(&self, probes: &[ProbeSchedule], reload: bool) {
        let mut inner = self.lock();
        let mut old = std::mem::take(&mut inner.probes);
        for p in probes {
            let mut status = old.remove(&p.name).unwrap_or_else(|| ProbeStatus {
                name: p.name.clone(),
                schedule: String::new(),
                timezone: String::new(),
                next_run: None,
                running_since: None,
                last_run: None,
                last_success_at: None,
                runs: RunCounts::default(),
                skipped_ticks: 0,
                errors: 0,
                last_error: None,
            });
            status.schedule = p.schedule.clone();
            status.timezone = p.timezone.clone();
            inner.probes.insert(p.name.clone(), status);
        }
        // A probe removed while its run goes on still counts as running until it ends.
        for (name, status) in old {
            if status.running() {
                inner.probes.insert(name, status);
            }
        }
        inner.config_loaded = true;
        if reload {
            inner.reloads += 1;
            inner.last_reload_error = None;
        }
    }

    /// A reload was rejected: `why` names the file and line.
    pub fn reload_failed(&self, why: &str) {
        let mut inner = self.lock();
        inner.failed_reloads += 1;
        inner.last_reload_error = Some(why.to_string());
    }

    pub fn set_max_running(&self, max: Option<usize>) {
        self.lock().max_running = max;
    }

    pub fn heartbeat(&self, now: DateTime<Utc>) {
        self.lock().heartbeat = Some(now);
    }

    pub fn shutting_down(&self) {
        self.lock().shutting_down = true;
    }

    pub fn next_run(&self, probe: &str, at: Option<DateTime<Utc>>) {
        if let Some(p) = self.lock().probes.get_mut(probe) {
            p.next_run = at;
        }
    }

    pub fn started(&self, probe: &str, at: DateTime<Utc>) {
        let mut inner = self.lock();
        if let Some(p) = inner.probes.get_mut(probe) {
            p.running_since = Some(at);
            inner.running += 1;
        }
    }

    /// A tick came while the probe's previous run was still going.
    pub fn skipped(&self, probe: &str) {
        if let Some(p) = self.lock().probes.get_mut(probe) {
            p.skipped_ticks += 1;
        }
    }

    /// A run finished with a verdict (stored; `status` says whether it was cancelled).
    pub fn finished(&self, probe: &str, run: LastRun) {
        let mut inner = self.lock();
        let Some(p) = inner.probes.get_mut(probe) else {
            return;
        };
        let was_running = p.running_since.take().is_some();
        if run.status == RunStatus::Interrupted {
            p.runs.cancelled += 1;
        } else {
            match run.verdict {
                Verdict::Pass => p.runs.pass += 1,
                Verdict::Warn => p.runs.warn += 1,
                Verdict::Fail => p.runs.fail += 1,
                Verdict::InsufficientData => p.runs.insufficient_data += 1,
            }
            if matches!(run.verdict, Verdict::Pass | Verdict::Warn) {
                p.last_success_at = Some(run.finished_at);
            }
        }
        p.last_run = Some(run);
        if was_running {
            inner.running = inner.running.saturating_sub(1);
        }
    }

    /// A run ended in an error instead of a verdict.
    pub fn failed(&self, probe: &str, error: &str) {
        let mut inner = self.lock();
        let Some(p) = inner.probes.get_mut(probe) else {
            return;
        };
        let was_running = p.running_since.take().is_some();
        p.errors += 1;
        p.last_error = Some(error.to_string());
        if was_running {
            inner.running = inner.running.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, s).unwrap()
    }

    fn probe(name: &str) -> ProbeSchedule {
        ProbeSchedule {
            name: name.into(),
            schedule: "@every 1s".into(),
            timezone: "UTC".into(),
        }
    }

    fn run(verdict: Verdict, status: RunStatus, end: u32) -> LastRun {
        LastRun {
            run_id: format!("r{end}"),
            started_at: at(0),
            finished_at: at(end),
            status,
            verdict,
        }
    }

    #[test]
    fn runs_are_counted_by_result_and_success_is_a_passing_verdict() {
        let state = DaemonState::new(at(0));
        state.loaded(&[probe("a")], false);
        state.started("a", at(1));
        assert_eq!(state.snapshot().running, 1);
        assert!(state.snapshot().probes[0].running());
        state.finished("a", run(Verdict::Warn, RunStatus::Complete, 2));
        state.started("a", at(3));
        state.finished("a", run(Verdict::Fail, RunStatus::Complete, 4));
        state.started("a", at(5));
        state.finished("a", run(Verdict::Pass, RunStatus::Interrupted, 6));
        let snap = state.snapshot();
        let a = snap.probe("a").unwrap();
        assert_eq!(snap.running, 0);
        assert!(!a.running());
        assert_eq!((a.runs.warn, a.runs.fail, a.runs.cancelled), (1, 1, 1));
        assert_eq!(a.runs.total(), 3);
        assert_eq!(
            a.last_success_at,
            Some(at(2)),
            "a cancelled run is no success"
        );
        assert_eq!(a.last_run.as_ref().unwrap().run_id, "r6");
    }

    #[test]
    fn a_reload_keeps_counters_of_kept_probes_and_drops_gone_ones() {
        let state = DaemonState::new(at(0));
        state.loaded(&[probe("a"), probe("b")], false);
        state.skipped("a");
        state.skipped("a");
        state.reload_failed("probes/a.yaml:3:11: bad schedule");
        let snap = state.snapshot();
        assert_eq!(snap.failed_reloads, 1);
        assert_eq!(snap.skipped_ticks(), 2);
        assert!(
            snap.last_reload_error
                .as_deref()
                .unwrap()
                .contains("a.yaml:3")
        );
        state.loaded(&[probe("a"), probe("c")], true);
        let snap = state.snapshot();
        let names: Vec<&str> = snap.probes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(snap.probe("a").unwrap().skipped_ticks, 2);
        assert_eq!((snap.reloads, snap.failed_reloads), (1, 1));
        assert_eq!(snap.last_reload_error, None);
    }

    #[test]
    fn heartbeat_says_whether_the_scheduler_is_alive() {
        let state = DaemonState::new(at(0));
        assert!(
            !state
                .snapshot()
                .scheduler_alive(at(1), chrono::Duration::seconds(5))
        );
        state.heartbeat(at(1));
        assert!(
            state
                .snapshot()
                .scheduler_alive(at(5), chrono::Duration::seconds(5))
        );
        assert!(
            !state
                .snapshot()
                .scheduler_alive(at(7), chrono::Duration::seconds(5))
        );
    }
}
