//! The scheduler: one loop that decides *when* each probe runs, and nothing else. A run
//! opens its own store handle and goes through `pipeline::run_probe` then
//! `pipeline::publish`, as `probity run` does.
//!
//! - A tick that comes while the probe's previous run is still going (or still waiting for
//!   a `--max-running` slot) is skipped: logged and counted, never queued.
//! - `jitter:` delays every tick of a probe by a fixed offset (see `jitter`).
//! - On start, a probe with `catch_up: true` whose last stored run is older than its last
//!   tick runs once at once, however many ticks were missed. The last tick is derived from
//!   the stored runs (the newest run's start), so no table is needed: a probe never run
//!   before waits for its first tick.
//! - The alert outbox is retried on a tick (every [`OUTBOX_EVERY`] in `probity serve`).
//!   The `report.digest` e-mails go out on the same tick (`report::digest::send_due`, which
//!   sends only those whose own schedule has a tick since they last went out), for every
//!   loaded probe, scheduled or not.
//! - Shutdown: no new runs; those going get `grace` to finish, then are cancelled (stored
//!   as `cancelled`); the outbox is delivered once more. Reload: the new configuration
//!   replaces the old only when it loads and validates; else the old one stays.
//!
//! Stores are not `Sync`, so a run's future is not `Send`: runs are tasks of a `LocalSet`
//! on the thread that drives the loop; the HTTP side reads only the shared state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::jitter;
use super::state::{LastRun, ProbeSchedule, SharedState};
use crate::alert::after_run::CHANNEL_TIMEOUT;
use crate::alert::outbox::{RetryPolicy, deliver};
use crate::alert::routing::{build_notifiers, route_channels};
use crate::config::{AlertRouting, Probe};
use crate::pipeline::{Outputs, Quiet, RunOptions, publish, run_probe};
use crate::store::{Store, StoreError};

/// How often undelivered notifications are retried.
pub const OUTBOX_EVERY: Duration = Duration::from_secs(30);
/// The loop turns at least this often, so `/readyz` can tell it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// After the grace period, how long cancelled runs get to store what they have.
pub const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// A configuration the daemon runs: what `probity run` would load.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub probes: Vec<Probe>,
    pub routing: Option<AlertRouting>,
    /// The database every run opens its own handle on.
    pub db: PathBuf,
    /// Scheduled imports of the provider's books (issue 13; `daemon/usage.rs`).
    pub usage: Vec<crate::config::usage::UsageImportConfig>,
}

/// Loads and validates the configuration; the error says why (file:line:col).
pub type Loader = Box<dyn Fn() -> Result<Loaded, String>>;

/// What the signal handlers (or a test) ask of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGTERM / SIGINT: finish within the grace period and stop.
    Shutdown,
    /// SIGHUP: reload the configuration.
    Reload,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Runs going at once, over every probe.
    pub max_running: usize,
    /// How long running probes get to finish after a shutdown was asked for.
    pub grace: Duration,
    /// How often undelivered notifications are retried ([`OUTBOX_EVERY`]).
    pub outbox_every: Duration,
    /// The registry `/metrics` serves: every run feeds it (`None`: no metrics).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Where each run's HTML report goes (`reports/`, `--report-dir`); `None`: none.
    pub report_dir: Option<PathBuf>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "no probe has a `schedule:`; add one (e.g. `schedule: \"*/15 * * * *\"`) to the probes \
         `probity serve` should run"
    )]
    NothingScheduled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the daemon did, for its last log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    pub runs: u64,
    pub skipped: u64,
    /// Runs cancelled because they outlived the grace period.
    pub cancelled: usize,
    /// Runs that had not stored their end when the daemon gave up waiting.
    pub abandoned: Vec<String>,
}

/// One scheduled probe.
struct Slot {
    probe: Rc<Probe>,
    /// The next tick, before jitter; `None` when the schedule never fires again.
    tick: Option<DateTime<Utc>>,
    offset: Duration,
    /// A run was started (or is waiting for a slot) and has not ended.
    busy: bool,
}

impl Slot {
    fn new(probe: Probe, now: DateTime<Utc>) -> Option<Slot> {
        let schedule = probe.schedule.as_ref()?;
        let offset = jitter::offset(&probe.name, probe.jitter);
        // The first tick whose jittered start is still ahead.
        let tick = schedule.next_after(now - chrono_duration(offset));
        Some(Slot {
            probe: Rc::new(probe),
            tick,
            offset,
            busy: false,
        })
    }

    fn due(&self) -> Option<DateTime<Utc>> {
        self.tick.map(|t| t + chrono_duration(self.offset))
    }

    /// Whether `other` schedules the same ticks (a reload keeps the pending tick).
    fn same_timing(&self, other: &Probe) -> bool {
        let line = |p: &Probe| p.schedule.as_ref().map(|s| (s.line.clone(), s.timezone));
        line(&self.probe) == line(other) && self.probe.jitter == other.jitter
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// How one run ended.
struct Done {
    probe: String,
    started: bool,
    result: Result<LastRun, String>,
}

/// The daemon: schedules the probes of `first` (the configuration the command loaded and
/// checked) until a shutdown event; `loader` loads it again on every reload.
pub async fn serve(
    settings: Settings,
    first: Loaded,
    loader: Loader,
    state: SharedState,
    events: mpsc::UnboundedReceiver<Event>,
) -> Result<Stopped, DaemonError> {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            // Inside the `LocalSet`: a catch-up run is spawned on it as the scheduler starts.
            Scheduler::start(settings, first, loader, state, events)?
                .run()
                .await
        })
        .await
}

struct Scheduler {
    settings: Settings,
    loader: Loader,
    state: SharedState,
    events: mpsc::UnboundedReceiver<Event>,
    slots: BTreeMap<String, Slot>,
    routing: Rc<Option<AlertRouting>>,
    /// Every loaded probe, scheduled or not: the digests cover them all.
    probes: Rc<Vec<Probe>>,
    db: PathBuf,
    permits: Arc<Semaphore>,
    /// Cancelled when the grace period is over: every run's token is a child.
    cancel: CancellationToken,
    /// Cancelled when shutdown begins: runs waiting for a slot give up.
    no_new_runs: CancellationToken,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    outbox_busy: Rc<std::cell::Cell<bool>>,
    stopped: Stopped,
    /// The usage imports (issue 13), on their own schedules.
    usage: super::usage::UsageJobs,
}

impl Scheduler {
    fn start(
        settings: Settings,
        loaded: Loaded,
        loader: Loader,
        state: SharedState,
        events: mpsc::UnboundedReceiver<Event>,
    ) -> Result<Scheduler, DaemonError> {
        let now = Utc::now();
        // The store must open (and migrate) before anything is scheduled: a daemon that
        // cannot store its runs must not look healthy.
        let store = Store::open(&loaded.db)?;
        let probes = Rc::new(loaded.probes.clone());
        let mut slots = BTreeMap::new();
        for probe in loaded.probes {
            let name = probe.name.clone();
            match Slot::new(probe, now) {
                Some(slot) => {
                    slots.insert(name, slot);
                }
                None => tracing::info!(probe = %name, "no `schedule:`: not run by the daemon"),
            }
        }
        let usage = super::usage::UsageJobs::new(loaded.usage, &loaded.db, now);
        if slots.is_empty() && usage.is_empty() {
            return Err(DaemonError::NothingScheduled);
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut scheduler = Scheduler {
            permits: Arc::new(Semaphore::new(settings.max_running.max(1))),
            settings,
            loader,
            state,
            events,
            slots,
            routing: Rc::new(loaded.routing),
            probes,
            db: loaded.db,
            cancel: CancellationToken::new(),
            no_new_runs: CancellationToken::new(),
            done_tx,
            done_rx,
            outbox_busy: Rc::new(std::cell::Cell::new(false)),
            stopped: Stopped::default(),
            usage,
        };
        scheduler
            .state
            .set_max_running(Some(scheduler.settings.max_running));
        scheduler.publish_config(false);
        scheduler.catch_up(&store, now);
        Ok(scheduler)
    }

    /// Tells the shared state which probes are scheduled, and when each runs next.
    fn publish_config(&self, reload: bool) {
        let probes: Vec<ProbeSchedule> = self
            .slots
            .values()
            .filter_map(|s| {
                let schedule = s.probe.schedule.as_ref()?;
                Some(ProbeSchedule {
                    name: s.probe.name.clone(),
                    schedule: schedule.line.clone(),
                    timezone: schedule.timezone.name().to_string(),
                })
            })
            .collect();
        self.state.loaded(&probes, reload);
        for (name, slot) in &self.slots {
            self.state.next_run(name, slot.due());
        }
    }

    /// Runs once, now, each `catch_up` probe whose last tick came after its newest stored
    /// run started (the daemon was down at that tick).
    fn catch_up(&mut self, store: &Store, now: DateTime<Utc>) {
        let missed: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.probe.catch_up)
            .filter_map(|(name, slot)| {
                let schedule = slot.probe.schedule.as_ref()?;
                let last = match store.runs(Some(name), 1) {
                    Ok(runs) => runs.into_iter().next()?,
                    Err(e) => {
                        tracing::warn!(probe = %name, "cannot tell whether a tick was missed: {e}");
                        return None;
                    }
                };
                // The tick the newest run belonged to, then the one after it.
                let offset = chrono_duration(slot.offset);
                let after = schedule.next_after(last.started_at - offset)?;
                (after + offset <= now).then(|| {
                    tracing::info!(
                        probe = %name,
                        missed_tick = %after,
                        last_run = %last.id,
                        "catching up: a tick was missed while the daemon was down; running once now"
                    );
                    name.clone()
                })
            })
            .collect();
        for name in missed {
            self.launch(&name);
        }
    }

    async fn run(mut self) -> Result<Stopped, DaemonError> {
        let every = self.settings.outbox_every;
        let mut next_outbox = tokio::time::Instant::now() + every;
        loop {
            let now = Utc::now();
            self.state.heartbeat(now);
            self.fire_due(now);
            self.usage.fire_due(now, &self.db);
            if tokio::time::Instant::now() >= next_outbox {
                self.retry_outbox();
                next_outbox = tokio::time::Instant::now() + every;
            }
            let wake = self.next_wake(now).min(next_outbox);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                event = self.events.recv() => match event {
                    Some(Event::Reload) => self.reload(),
                    // No sender left: nobody can ask for anything; stop as if asked.
                    Some(Event::Shutdown) | None => return Ok(self.shutdown().await),
                },
                Some(done) = self.done_rx.recv() => self.finished(done),
            }
        }
    }

    /// The earliest of the next due tick and the next heartbeat.
    fn next_wake(&self, now: DateTime<Utc>) -> tokio::time::Instant {
        let heartbeat = tokio::time::Instant::now() + HEARTBEAT;
        let usage = self.usage.next_due();
        let Some(due) = self.slots.values().filter_map(Slot::due).chain(usage).min() else {
            return heartbeat;
        };
        let wait = (due - now).to_std().unwrap_or(Duration::ZERO);
        (tokio::time::Instant::now() + wait).min(heartbeat)
    }

    /// Starts (or skips) every probe whose tick is due.
    fn fire_due(&mut self, now: DateTime<Utc>) {
        let due: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.due().is_some_and(|d| d <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let Some(slot) = self.slots.get_mut(&name) else {
                continue;
            };
            let tick = slot.tick;
            // The next tick whose start is still ahead: ticks passed while the process
            // was stopped (a suspended VM) are one tick, not a burst.
            let offset = chrono_duration(slot.offset);
            slot.tick = slot
                .probe
                .schedule
                .as_ref()
                .and_then(|s| s.next_after((now - offset).max(tick.unwrap_or(now))));
            let busy = slot.busy;
            self.state.next_run(&name, slot.due());
            if busy {
                self.stopped.skipped += 1;
                self.state.skipped(&name);
                tracing::warn!(
                    probe = %name,
                    tick = ?tick,
                    "tick skipped: the previous run of this probe is still going"
                );
            } else {
                self.launch(&name);
            }
        }
    }

    /// Starts a run of `name` as its own task; it waits for a `--max-running` slot first.
    fn launch(&mut self, name: &str) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        slot.busy = true;
        let probe = Rc::clone(&slot.probe);
        let routing = Rc::clone(&self.routing);
        let db = self.db.clone();
        let report_dir = self.settings.report_dir.clone();
        let permits = Arc::clone(&self.permits);
        let cancel = self.cancel.child_token();
        let no_new_runs = self.no_new_runs.clone();
        let state = Arc::clone(&self.state);
        let done = self.done_tx.clone();
        let metrics = self.settings.metrics.clone();
        tokio::task::spawn_local(async move {
            let permit = tokio::select! {
                permit = permits.acquire_owned() => permit.ok(),
                _ = no_new_runs.cancelled() => None,
            };
            let Some(_permit) = permit else {
                let _ = done.send(Done {
                    probe: probe.name.clone(),
                    started: false,
                    result: Err("shutting down before a slot was free".into()),
                });
                return;
            };
            let started_at = Utc::now();
            state.started(&probe.name, started_at);
            tracing::info!(probe = %probe.name, "run started");
            let outputs = Outputs {
                alerts: routing.as_ref().as_ref(),
                link: None,
                report_dir,
                metrics: metrics.as_deref(),
                ..Outputs::default()
            };
            let result = run_once(&probe, &db, &outputs, cancel).await;
            let _ = done.send(Done {
                probe: probe.name.clone(),
                started: true,
                result,
            });
        });
    }

    fn finished(&mut self, done: Done) {
        if let Some(slot) = self.slots.get_mut(&done.probe) {
            slot.busy = false;
        }
        if !done.started {
            return;
        }
        self.stopped.runs += 1;
        match done.result {
            Ok(run) => {
                tracing::info!(
                    probe = %done.probe,
                    run_id = %run.run_id,
                    status = run.status.as_str(),
                    verdict = run.verdict.as_str(),
                    "run finished"
                );
                self.state.finished(&done.probe, run);
            }
            Err(why) => {
                tracing::error!(probe = %done.probe, "run failed: {why}");
                self.state.failed(&done.probe, &why);
            }
        }
    }

    /// SIGHUP: the new configuration, if it loads and validates; else the old one stays.
    fn reload(&mut self) {
        let loaded = match (self.loader)() {
            Ok(loaded) => loaded,
            Err(why) => {
                self.state.reload_failed(&why);
                tracing::error!(
                    "reload rejected, the previous configuration stays in force:\n{why}"
                );
                return;
            }
        };
        let now = Utc::now();
        self.probes = Rc::new(loaded.probes.clone());
        let mut slots = BTreeMap::new();
        for probe in loaded.probes {
            let name = probe.name.clone();
            match self.slots.remove(&name) {
                // Same timing: keep the pending tick (and the busy mark of a run going).
                Some(mut old) if old.same_timing(&probe) => {
                    old.probe = Rc::new(probe);
                    slots.insert(name, old);
                }
                old => {
                    if let Some(mut slot) = Slot::new(probe, now) {
                        slot.busy = old.is_some_and(|o| o.busy);
                        slots.insert(name, slot);
                    }
                }
            }
        }
        for name in self.slots.keys() {
            tracing::info!(probe = %name, "no longer scheduled after the reload");
        }
        self.slots = slots;
        self.routing = Rc::new(loaded.routing);
        self.db = loaded.db;
        self.usage.replace(loaded.usage, now);
        self.publish_config(true);
        tracing::info!(probes = self.slots.len(), "configuration reloaded");
    }

    /// Delivers what is due in the outbox, as its own task (a slow channel must not hold
    /// up the schedule); one delivery at a time.
    fn retry_outbox(&mut self) {
        if self.outbox_busy.get() || self.routing.is_none() {
            return;
        }
        self.outbox_busy.set(true);
        let busy = Rc::clone(&self.outbox_busy);
        let routing = Rc::clone(&self.routing);
        let channels = self.channels();
        let probes = Rc::clone(&self.probes);
        let db = self.db.clone();
        tokio::task::spawn_local(async move {
            if let Some(routing) = routing.as_ref() {
                if !channels.is_empty() {
                    deliver_outbox(&db, routing, &channels).await;
                }
                send_digests(&db, &probes, routing).await;
            }
            busy.set(false);
        });
    }

    /// Every channel a scheduled probe's route can use.
    fn channels(&self) -> Vec<String> {
        let Some(routing) = self.routing.as_ref() else {
            return Vec::new();
        };
        let mut all = Vec::new();
        for route in self
            .slots
            .values()
            .filter_map(|s| s.probe.alert_route.as_ref())
        {
            for c in route_channels(routing, route).unwrap_or_default() {
                if !all.contains(&c) {
                    all.push(c);
                }
            }
        }
        all
    }

    /// SIGTERM / SIGINT: no new runs; runs going get the grace period, then are cancelled
    /// and get [`CANCEL_WAIT`] to store that; then the outbox is delivered once more.
    async fn shutdown(mut self) -> Stopped {
        self.state.shutting_down();
        self.no_new_runs.cancel();
        let going = self.slots.values().filter(|s| s.busy).count();
        tracing::info!(
            running = going,
            grace = ?self.settings.grace,
            "shutting down: no new runs; waiting for the runs going"
        );
        let grace_end = tokio::time::Instant::now() + self.settings.grace;
        let mut cancelled = false;
        let mut wait_end = grace_end;
        while self.slots.values().any(|s| s.busy) {
            tokio::select! {
                Some(done) = self.done_rx.recv() => self.finished(done),
                _ = tokio::time::sleep_until(wait_end) => {
                    if cancelled {
                        break;
                    }
                    cancelled = true;
                    self.cancel_runs("the grace period is over");
                    wait_end = tokio::time::Instant::now() + CANCEL_WAIT;
                }
                // A second SIGTERM / SIGINT: cancel now.
                Some(Event::Shutdown) = self.events.recv(), if !cancelled => {
                    cancelled = true;
                    self.cancel_runs("asked again to stop");
                    wait_end = tokio::time::Instant::now() + CANCEL_WAIT;
                }
            }
        }
        self.stopped.abandoned = self
            .slots
            .iter()
            .filter(|(_, s)| s.busy)
            .map(|(n, _)| n.clone())
            .collect();
        if !self.stopped.abandoned.is_empty() {
            tracing::error!(
                probes = ?self.stopped.abandoned,
                "runs still going after cancelling; their stored runs stay `running`"
            );
        }
        // The final delivery waits for a delivery already under way, then sends the rest.
        while self.outbox_busy.get() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let channels = self.channels();
        if let Some(routing) = self.routing.as_ref().as_ref()
            && !channels.is_empty()
        {
            let flush = deliver_outbox(&self.db, routing, &channels);
            if tokio::time::timeout(self.settings.grace.max(CHANNEL_TIMEOUT), flush)
                .await
                .is_err()
            {
                tracing::warn!("the outbox is still being delivered; the next start retries it");
            }
        }
        tracing::info!(
            runs = self.stopped.runs,
            skipped = self.stopped.skipped,
            cancelled = self.stopped.cancelled,
            "stopped"
        );
        self.stopped
    }

    fn cancel_runs(&mut self, why: &str) {
        let going: Vec<&String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.busy)
            .map(|(n, _)| n)
            .collect();
        tracing::warn!(probes = ?going, "{why}: cancelling the runs still going");
        self.stopped.cancelled = going.len();
        self.cancel.cancel();
    }
}

/// One run, as `probity run` makes it: its own store handle, the pipeline, publishing.
async fn run_once(
    probe: &Probe,
    db: &std::path::Path,
    outputs: &Outputs<'_>,
    cancel: CancellationToken,
) -> Result<LastRun, String> {
    let store = Store::open(db).map_err(|e| e.to_string())?;
    let outcome = run_probe(probe, &store, &RunOptions::default(), &Quiet, cancel)
        .await
        .map_err(|e| e.to_string())?;
    let published = publish(&store, probe, &outcome, outputs)
        .await
        .map_err(|e| {
            format!(
                "run {} was stored; publishing it failed: {e}",
                outcome.run_id
            )
        })?;
    if let Some(e) = &published.report_error {
        tracing::warn!(probe = %probe.name, run_id = %outcome.run_id, "no HTML report written: {e}");
    }
    if let Some(activity) = &published.alerts {
        let d = &activity.delivery;
        tracing::info!(
            probe = %probe.name,
            run_id = %outcome.run_id,
            sent = d.count("sent"),
            pending = d.count("pending"),
            failed = d.count("failed"),
            "alerts delivered"
        );
    }
    Ok(LastRun {
        run_id: outcome.run_id,
        started_at: outcome.started_at,
        finished_at: outcome.finished_at,
        status: outcome.status,
        verdict: outcome.verdict,
    })
}

/// Delivers the outbox's due rows through `channels`; problems are logged.
async fn deliver_outbox(db: &std::path::Path, routing: &AlertRouting, channels: &[String]) {
    let store = match Store::open(db) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("outbox not delivered: {e}");
            return;
        }
    };
    let notifiers = match build_notifiers(routing, channels, CHANNEL_TIMEOUT) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("outbox not delivered: {e}");
            return;
        }
    };
    match deliver(&store, &notifiers, &RetryPolicy::default(), Utc::now()).await {
        Ok(report) => {
            let (sent, pending, failed) = (
                report.count("sent"),
                report.count("pending"),
                report.count("failed"),
            );
            if sent + pending + failed > 0 {
                tracing::info!(sent, pending, failed, "outbox delivered");
            }
        }
        Err(e) => tracing::error!("outbox delivery stopped: {e}"),
    }
}

/// Sends the `report.digest` e-mails that are due; problems are logged.
async fn send_digests(db: &std::path::Path, probes: &[Probe], routing: &AlertRouting) {
    if crate::report::digest::groups(probes).is_empty() {
        return;
    }
    let store = match Store::open(db) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("digest not sent: {e}");
            return;
        }
    };
    match crate::report::digest::send_due(&store, probes, routing, Utc::now()).await {
        Ok(activity) => {
            for (key, delivery) in &activity.queued {
                tracing::info!(digest = %key, delivery_id = %delivery, "digest queued");
            }
        }
        Err(e) => tracing::error!("digest not sent: {e}"),
    }
}
