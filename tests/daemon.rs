//! `probity serve` as a user runs it: the binary, every-second schedules, the simulator as
//! the endpoint, signals sent with `kill`. What is checked is what the daemon leaves behind
//! (the stored runs: their start, end and status) and what it says on stderr; waits are
//! bounded only so a broken daemon fails the test instead of hanging it.

#[path = "support/project.rs"]
mod project;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{Datelike, Timelike, Utc};

use probity::sim::{Latency, Profile};
use probity::store::{RunRecord, Store};
use project::{BIN, PLACEHOLDER, Project, start_sim};

/// The longest any wait here may take before the test gives up (and fails).
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `probity serve`; killed on drop if a test failed before stopping it.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(root: &Path, args: &[&str]) -> Daemon {
        let log = root.join("serve.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args([
                "-C",
                root.to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("PROBITY_TEST_KEY", "sk-test")
            .env("NO_COLOR", "1")
            .env_remove("PROBITY_DB")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the probity binary starts");
        let daemon = Daemon { child, log };
        daemon.wait_for_log("probe(s) scheduled");
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str) -> String {
        wait_until(&format!("`{needle}` on stderr"), || {
            let log = self.log();
            log.contains(needle).then_some(log)
        })
        .unwrap_or_else(|| panic!("stderr so far:\n{}", self.log()))
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with the pid of our own child and a valid signal number.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {signal}");
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(mut self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the daemon did not stop after SIGTERM; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it gives something, for at most `PATIENCE`.
fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("gave up waiting for {what}");
    None
}

/// Every stored run, oldest first.
fn runs(db: &Path) -> Vec<RunRecord> {
    if !db.exists() {
        return Vec::new();
    }
    let store = Store::open(db).unwrap();
    let mut runs = store.runs(None, 10_000).unwrap();
    runs.reverse();
    runs
}

fn wait_for_runs(db: &Path, probe: &str, finished: usize) -> Vec<RunRecord> {
    wait_until(&format!("{finished} finished runs of {probe}"), || {
        let runs: Vec<RunRecord> = runs(db).into_iter().filter(|r| r.probe == probe).collect();
        (runs.iter().filter(|r| r.is_finished()).count() >= finished).then_some(runs)
    })
    .unwrap_or_else(|| panic!("runs: {:#?}", runs(db)))
}

/// No two runs of `runs` were going at the same time.
fn assert_no_overlap(runs: &[RunRecord]) {
    let mut spans: Vec<_> = runs
        .iter()
        .map(|r| {
            (
                r.started_at,
                r.finished_at.expect("every run finished"),
                &r.id,
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "run {} ({} – {}) overlaps run {} (from {})",
            pair[0].2,
            pair[0].0,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
}

fn slow(latency: Duration) -> Profile {
    Profile {
        latency: Latency::fixed(latency),
        ..Profile::default()
    }
}

async fn project(
    schedule: &str,
    extra: &str,
    profile: Profile,
) -> (Project, probity::sim::SimHandle) {
    let body = format!("schedule: \"{schedule}\"\nsamples: 1\nbaseline: none\n{extra}");
    let project = Project::new(PLACEHOLDER, &body);
    let sim = start_sim(&project.golden(), profile).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    (project, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_happen_on_schedule_never_overlap_and_sigterm_exits_0() {
    let (project, _sim) = project("@every 1s", "", Profile::default()).await;
    let daemon = Daemon::start(project.root(), &[]);
    wait_for_runs(&project.db(), "bot", 3);
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    assert!(log.contains("probity serve: stopped after"), "{log}");
    let runs = runs(&project.db());
    assert!(runs.len() >= 3);
    assert!(
        runs.iter().all(|r| r.status == "complete"),
        "every run stored complete: {runs:#?}"
    );
    assert_no_overlap(&runs);
    // Each run's HTML report, where `probity run` writes it.
    let latest = project.root().join("reports/bot/latest.html");
    assert!(latest.is_file(), "{}", latest.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_probes_ticks_are_skipped_counted_and_never_overlap() {
    // Four cases at once, each answered after 2.5s: a run outlasts two ticks.
    let (project, _sim) = project(
        "@every 1s",
        "concurrency: 4\n",
        slow(Duration::from_millis(2500)),
    )
    .await;
    let daemon = Daemon::start(project.root(), &[]);
    wait_for_runs(&project.db(), "bot", 2);
    daemon.wait_for_log("tick skipped");
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    let skipped_lines = log.matches("tick skipped").count();
    assert!(skipped_lines >= 1, "{log}");
    // The count in the last line is the count of the log lines.
    assert!(
        log.contains(&format!("{skipped_lines} skipped tick(s)")),
        "{log}"
    );
    let runs = runs(&project.db());
    assert!(runs.iter().all(|r| r.is_finished()), "{runs:#?}");
    assert_no_overlap(&runs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_running_bounds_probes_running_together() {
    let (project, _sim) = project("@every 1s", "", slow(Duration::from_millis(300))).await;
    let first = std::fs::read_to_string(project.probe_file()).unwrap();
    std::fs::write(
        project.root().join("probes/other.yaml"),
        first.replace("name: bot", "name: other"),
    )
    .unwrap();
    let daemon = Daemon::start(project.root(), &["--max-running", "1"]);
    wait_for_runs(&project.db(), "bot", 2);
    wait_for_runs(&project.db(), "other", 2);
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    // Over both probes, one run at a time.
    assert_no_overlap(&runs(&project.db()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_run_finish_within_the_grace_period() {
    // One run takes about 4 × 1.5s (concurrency 1): SIGTERM comes in the middle of it.
    let (project, _sim) = project(
        "@every 1s",
        "concurrency: 1\n",
        slow(Duration::from_millis(1500)),
    )
    .await;
    let daemon = Daemon::start(project.root(), &["--grace", "30s"]);
    daemon.wait_for_log("run started");
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    let runs = runs(&project.db());
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, "complete", "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_run_that_outlasts_the_grace_period() {
    // Twelve requests one at a time, 1.5s each: far beyond a grace of 1s.
    let (project, _sim) = project(
        "@every 1s",
        "concurrency: 1\n",
        slow(Duration::from_millis(1500)),
    )
    .await;
    let text = std::fs::read_to_string(project.probe_file())
        .unwrap()
        .replace("samples: 1", "samples: 3");
    std::fs::write(project.probe_file(), text).unwrap();
    let daemon = Daemon::start(project.root(), &["--grace", "1s"]);
    daemon.wait_for_log("run started");
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    assert!(log.contains("cancelling the runs still going"), "{log}");
    let runs = runs(&project.db());
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, "cancelled", "{log}");
    assert!(runs[0].is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_config_keeps_the_old_one_and_says_why() {
    let (project, _sim) = project("@every 1s", "", Profile::default()).await;
    let daemon = Daemon::start(project.root(), &[]);
    wait_for_runs(&project.db(), "bot", 1);
    let good = std::fs::read_to_string(project.probe_file()).unwrap();
    std::fs::write(
        project.probe_file(),
        good.replace("schedule: \"@every 1s\"", "schedule: \"61 * * * *\""),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    let log = daemon.wait_for_log("reload rejected");
    // Where and why: the file, its line, the schedule's problem.
    assert!(log.contains("bot.yaml:9:"), "{log}");
    assert!(log.contains("invalid cron line `61 * * * *`"), "{log}");
    // The old schedule keeps running.
    let before = runs(&project.db()).len();
    wait_for_runs(&project.db(), "bot", before + 2);
    // A good config is taken: the probe is renamed, and runs under its new name.
    std::fs::write(
        project.probe_file(),
        good.replace("name: bot", "name: renamed"),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_log("configuration reloaded");
    wait_for_runs(&project.db(), "renamed", 1);
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    assert_eq!(log.matches("reload rejected").count(), 1, "{log}");
}

/// Moves every stored run of `probe` back to 2020, as if the daemon had been down since.
fn age_runs(db: &Path, probe: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "UPDATE runs SET started_at = '2020-01-01T12:00:00.000000000Z',
                         finished_at = '2020-01-01T12:00:01.000000000Z' WHERE probe = ?1",
        [probe],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_missed_while_down_runs_once_on_start() {
    // Once a year, on 1 January: every year since 2020 was missed, and it runs once.
    let (project, _sim) = project("0 0 1 1 *", "", Profile::default()).await;
    let run = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "sk-daemon-test")],
        &["run", "--format", "json"],
    )
    .await;
    assert!(run.status.success(), "{}", project::text(&run.stderr));
    age_runs(&project.db(), "bot");
    let daemon = Daemon::start(project.root(), &[]);
    daemon.wait_for_log("catching up");
    daemon.wait_for_log("run finished");
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    assert_eq!(log.matches("catching up").count(), 1, "{log}");
    assert_eq!(
        runs(&project.db()).len(),
        2,
        "the old run and one catch-up: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_false_waits_for_the_next_tick() {
    let (project, _sim) = project("0 0 1 1 *", "catch_up: false\n", Profile::default()).await;
    let run = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "sk-daemon-test")],
        &["run"],
    )
    .await;
    assert!(run.status.success(), "{}", project::text(&run.stderr));
    age_runs(&project.db(), "bot");
    let daemon = Daemon::start(project.root(), &[]);
    let (status, log) = daemon.terminate();
    assert!(status.success(), "exit {status:?}; stderr:\n{log}");
    assert!(!log.contains("catching up"), "{log}");
    assert_eq!(runs(&project.db()).len(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_without_schedules_is_a_usage_error() {
    let project = Project::new(PLACEHOLDER, "samples: 1\n");
    let out = project::probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "sk-daemon-test")],
        &["serve"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", project::text(&out.stderr));
    assert!(project::text(&out.stderr).contains("no probe has a `schedule:`"));
}

/// A webhook receiver that answers 503 to its first `failures` requests, then 200.
async fn flaky_webhook(failures: u32) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let hits = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = Arc::clone(&counter);
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < failures {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_retried_on_a_tick_between_runs() {
    use probity::daemon::{DaemonState, Event, Loaded, Settings};
    use std::sync::atomic::Ordering;
    // One delivery tries 3 times: the run's own delivery fails, only the tick can send it.
    let (hook, hits) = flaky_webhook(3).await;
    // A 6-field line that fires once, a few seconds from now (then next year).
    let at = Utc::now() + chrono::Duration::seconds(3);
    let line = format!(
        "{} {} {} {} {} *",
        at.second(),
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    );
    let body = format!(
        "schedule: \"{line}\"\nsamples: 1\nbaseline: none\nthresholds: {{ latency_p95: {{ warning: 1ms }} }}\nalerts: {{ route: default }}\n"
    );
    let project = Project::new(PLACEHOLDER, &body);
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        format!("channels:\n  hook: {{ type: webhook, url: \"{hook}\" }}\nroutes:\n  default: {{ warning: [hook] }}\n"),
    )
    .unwrap();
    let sim = start_sim(&project.golden(), slow(Duration::from_millis(20))).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "sk-daemon-test".to_string());
    let probe = project.probe("sk-daemon-test");
    let routing = probity::config::load_routing(project.root(), &env).unwrap();
    assert!(routing.is_some());
    let loaded = Loaded {
        probes: vec![probe],
        routing,
        db: project.db(),
        usage: Vec::new(),
    };
    let state = DaemonState::shared(Utc::now());
    let settings = Settings {
        max_running: 1,
        grace: Duration::from_secs(5),
        outbox_every: Duration::from_millis(500),
        metrics: None,
        report_dir: None,
    };
    let (daemon, events) = serve_in_process(loaded, settings, std::sync::Arc::clone(&state));
    // The run, its three failed attempts, then the tick's successful fourth.
    let sent = wait_until("the outbox row sent", || {
        let store = Store::open(&project.db()).ok()?;
        let undelivered = store.outbox_undelivered().ok()?;
        let run_done = state
            .snapshot()
            .probes
            .first()
            .is_some_and(|p| p.runs.total() == 1);
        (run_done && undelivered.is_empty() && hits.load(Ordering::SeqCst) >= 4).then_some(())
    });
    events.send(Event::Shutdown).unwrap();
    let stopped = daemon.await.unwrap().unwrap();
    assert!(sent.is_some(), "hits: {}", hits.load(Ordering::SeqCst));
    assert_eq!(
        stopped.runs, 1,
        "one run: the retry came from the tick, not a later run"
    );
    // Three refused in the run, then every row sent by the tick.
    assert!(hits.load(Ordering::SeqCst) >= 4);
}

/// Runs `probity::daemon::serve` in-process on a thread of its own (its runs are not
/// `Send`); returns the handle and the sender of its events.
fn serve_in_process(
    loaded: probity::daemon::Loaded,
    settings: probity::daemon::Settings,
    state: probity::daemon::SharedState,
) -> (
    tokio::task::JoinHandle<Result<probity::daemon::Stopped, probity::daemon::DaemonError>>,
    tokio::sync::mpsc::UnboundedSender<probity::daemon::Event>,
) {
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    let reload = loaded.clone();
    let handle = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(probity::daemon::serve(
            settings,
            loaded,
            Box::new(move || Ok(reload.clone())),
            state,
            received,
        ))
    });
    (handle, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_delays_every_tick_by_the_probes_own_fixed_offset() {
    use probity::daemon::{DaemonState, Event, Loaded, Settings, jitter};
    let project = Project::new(
        PLACEHOLDER,
        "schedule: \"@every 1h\"\njitter: 30m\nsamples: 1\n",
    );
    let probe = project.probe("sk-daemon-test");
    let offset = jitter::offset("bot", Duration::from_secs(30 * 60));
    assert!(offset > Duration::ZERO && offset < Duration::from_secs(30 * 60));
    let state = DaemonState::shared(Utc::now());
    let settings = Settings {
        max_running: 1,
        grace: Duration::from_secs(1),
        outbox_every: Duration::from_secs(30),
        metrics: None,
        report_dir: None,
    };
    let loaded = Loaded {
        probes: vec![probe],
        routing: None,
        db: project.db(),
        usage: Vec::new(),
    };
    let (daemon, events) = serve_in_process(loaded, settings, std::sync::Arc::clone(&state));
    let next = wait_until("the next run in the state", || {
        state.snapshot().probes.first().and_then(|p| p.next_run)
    })
    .unwrap();
    events.send(Event::Shutdown).unwrap();
    daemon.await.unwrap().unwrap();
    // `@every 1h` ticks on the hour (UTC); the probe starts its offset later, every time.
    let past_the_hour = next.timestamp_millis().rem_euclid(3_600_000);
    assert_eq!(past_the_hour, offset.as_millis() as i64, "next run {next}");
    assert!(next > Utc::now() - chrono::Duration::seconds(1));
}
