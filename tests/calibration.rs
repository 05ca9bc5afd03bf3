//! Detection quality (issue 4): the drift tests calibrated against the simulator, at the
//! defaults (`drift: { alpha: 0.01 }` and the default minimum effects).
//!
//! Runs of 20 cases × 5 samples are compared with a baseline. **Null** runs (the same
//! profile, another seed) must flag drift in at most 2% of comparisons; runs with one
//! **injected** change — refusals +10 points, latency ×1.5, 10% of JSON answers broken,
//! answers ×1.5 longer — must be caught in at least 95% of 50 trials. A comparison "flags
//! drift" when it has a finding of kind `Drift`.
//!
//! Three baseline sizes are measured: 20 × 5 (the run's own size; another null run),
//! and 20 × 20 and 20 × 40, promoted once from a larger run as users should build them.
//! A same-size baseline is too small for a rate that goes from 0% to 10%: the run holds
//! about 9 such events, its low tail (5 events) is not significant against 0 of 100 even
//! before Benjamini–Hochberg (one-sided Fisher p = 0.030; 0.0038 against 0/200; 0.00029
//! against 0/400), so the 20 × 5 power is reported, not asserted. The 95% targets are
//! asserted against 20 × 40: at 20 × 20 refusals +10 points are caught in about 97% of
//! runs (194/200 in the large run, Wilson 93.6–98.6%), too close to 95% for a 50-trial
//! guard to survive a change of seeds; at 20 × 40 it is 99.5%. False alarms are asserted
//! at every size.
//!
//! JSON breakage is measured twice. In the mixed support set (4 of 20 cases JSON) a run
//! has 20 JSON answers, so 10% breakage is 2 broken answers on average, and none at all in
//! 12% of runs (0.9^20): no test can reach 95%, and the figure is reported, not asserted.
//! It is asserted on an extraction set whose 20 cases all answer JSON.
//!
//! Every run goes through the real pipeline: HTTP to an in-process simulator, scoring,
//! SQLite, evidence. Runs are generated first (all kinds shuffled into one pool, the
//! baselines spread through it, every run paced at 25 requests per second), then compared
//! with the `compare` that `run` calls at its end, the baseline read back from its JSON
//! document. Each comparison is between runs made at about the same time, chosen by their
//! place in the schedule (see `partner`), so this machine's load hits both alike, as the
//! gate interleaves two targets. Two runs also go through `run_probe` with a baseline
//! file, end to end.
//!
//! Answers are seeded, so every count-based figure is the same on every machine. Latency
//! is real time measured here: its figures move a little from one run of the test to the
//! next, and mean something only when the machine keeps time. The test measures that
//! (`latency_dependence`); on a starved machine it reports the latency targets instead of
//! asserting them. The simulated latency (median 200 ms, p99 800 ms) keeps the machine's
//! own scheduling jitter a small share of it, as it is against a real endpoint.

#[path = "support/project.rs"]
mod project;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use probity::compare::{Baseline, FindingKind, Verdict, compare};
use probity::config::{Drift, Probe};
use probity::pipeline::{BaselineChoice, RunOptions, RunOutcome, RunStatus};
use probity::sim::{self, Latency, Profile, SimCase};
use probity::stats::wilson;
use probity::store::Store;
use probity::summary::Evidence;
use project::Project;

/// The support assistant's golden set: 10 questions, 4 JSON, 4 classifications, 2 refusals.
const SUPPORT: &str = include_str!("data/calibration-golden.yaml");
/// The extraction set: 20 cases that all answer JSON against a schema.
const EXTRACTION: &str = include_str!("data/calibration-extraction.yaml");
/// Cases per golden set.
const CASES: u64 = 20;
/// Samples per case of every compared run (the issue's 20 cases × 5 samples).
const SAMPLES: u32 = 5;
/// Samples per case of the large baselines, promoted once from a larger run.
const LARGE: [u32; 2] = [20, 40];
/// The baseline size the 95% detection targets are asserted against (see above).
const GUARDED: u32 = 40;
/// Every run is paced at this many requests per second, as a scheduled probe is: latency is
/// then measured from each request's intended start (see `Lab::new`). One pace for all: on a busy machine a slower pace meets more of its own scheduling
/// delay per request, which would make small runs look slower than large baselines.
const REQUESTS_PER_SECOND: f64 = 25.0;
/// Room for every paced request: about 6 are in flight at 25 per second.
const CONCURRENCY: usize = 50;
/// Runs in flight at once: the latency is mostly sleeping, so many overlap on 2 cores.
const PARALLEL: usize = 32;
/// The issue's ceiling on false alarms and floor on detection.
const MAX_FALSE_ALARMS: f64 = 0.02;
const MIN_POWER: f64 = 0.95;

/// The endpoint on a normal day: log-normal latency, median 200 ms, p99 800 ms.
fn normal(seed: u64) -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(200),
            p99: Some(Duration::from_millis(800)),
        },
        seed,
        ..Profile::default()
    }
}

/// What a run was generated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The same profile, another seed.
    Null,
    /// `refusal: 0.10`: one answer in ten replaced by a refusal.
    Refusal,
    /// Latency median and p99 ×1.5.
    Latency,
    /// `json_break: 0.10`: one JSON answer in ten fenced or cut.
    JsonBreak,
    /// `length_scale: 1.5`: text answers half as long again.
    Length,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Null => "none (null)",
            Kind::Refusal => "refusals +10 points",
            Kind::Latency => "latency ×1.5",
            Kind::JsonBreak => "JSON breakage 10%",
            Kind::Length => "length ×1.5",
        }
    }

    fn profile(self, seed: u64) -> Profile {
        let mut p = normal(seed);
        match self {
            Kind::Null => {}
            Kind::Refusal => p.refusal = 0.10,
            Kind::Latency => {
                p.latency = Latency {
                    median: p.latency.median.mul_f64(1.5),
                    p99: p.latency.p99.map(|d| d.mul_f64(1.5)),
                };
            }
            Kind::JsonBreak => p.json_break = 0.10,
            Kind::Length => p.length_scale = 1.5,
        }
        p
    }
}

/// A golden set, the changes injected into it and how many runs of each.
#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    golden: String,
    changes: Vec<Kind>,
    /// Null runs: the false-alarm comparisons, and the small (20 × 5) baselines.
    nulls: usize,
    /// Runs per injected change.
    trials: usize,
    /// Large baselines of each size in `LARGE` (see `partner` for who is compared with whom).
    large: usize,
    /// Seeds of this scenario's runs start here.
    seed: u64,
}

/// The probe of a golden set and its simulator cases.
struct Lab {
    project: Project,
    probe: Probe,
    cases: Vec<SimCase>,
}

impl Lab {
    /// The probe: non-streaming, paced, with room for every paced request, so no request
    /// waits behind another and the samples of a run are independent (the rank tests
    /// assume they are).
    fn new(golden: &str) -> Lab {
        let body = format!(
            "name: calibration\ntarget:\n  provider: openai\n  base_url: http://127.0.0.1:9/v1\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: false\ngolden_sets: [golden-sets/calibration.yaml]\nsamples: {SAMPLES}\nconcurrency: {CONCURRENCY}\nrate_limit: {{ requests_per_second: {REQUESTS_PER_SECOND} }}\ntimeout: 30s\n"
        );
        let project = Project::with_files(&[
            ("probes/bot.yaml", &body),
            ("golden-sets/calibration.yaml", golden),
        ]);
        let probe = project.probe("sk-calibration");
        assert_eq!(probe.drift, Drift::default(), "calibrated at the defaults");
        let cases = sim::cases_from_golden(&probe.golden_sets);
        assert_eq!(cases.len() as u64, CASES);
        Lab {
            project,
            probe,
            cases,
        }
    }

    fn db(&self, name: &str) -> PathBuf {
        self.project.root().join(format!(".probity/{name}.db"))
    }

    /// One run of the probe against a fresh simulator with `profile`, paced at
    /// `requests_per_second`.
    async fn run(
        &self,
        profile: Profile,
        options: RunOptions,
        requests_per_second: f64,
        db: &str,
    ) -> RunOutcome {
        let samples = options.samples.unwrap_or(SAMPLES);
        let handle = sim::start(
            profile,
            self.cases.clone(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .expect("the simulator starts");
        let mut probe = self.probe.clone();
        probe.target.base_url = handle.base_url();
        probe.requests_per_second = Some(requests_per_second);
        let db = self.db(db);
        let store = Store::open(&db).expect("the store opens");
        let outcome = project::run(&probe, &store, &options).await;
        handle.shutdown().await.expect("the simulator stops");
        drop(store);
        let _ = std::fs::remove_file(&db);
        assert_eq!(
            outcome.status,
            RunStatus::Complete,
            "{:?}",
            outcome.status_reason
        );
        let figures = &outcome.primary().expect("one target").summary.figures;
        assert_eq!(
            figures.answered,
            CASES * u64::from(samples),
            "every sample is answered"
        );
        outcome
    }
}

/// What one generated run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A large baseline with this many samples per case.
    Baseline(u32),
    Current(Kind),
}

/// One run to generate.
#[derive(Debug, Clone, Copy)]
struct Job {
    scenario: usize,
    role: Role,
    index: usize,
    seed: u64,
}

impl Job {
    fn profile(&self) -> Profile {
        match self.role {
            Role::Baseline(_) => normal(self.seed),
            Role::Current(kind) => kind.profile(self.seed),
        }
    }

    fn samples(&self) -> u32 {
        match self.role {
            Role::Baseline(samples) => samples,
            Role::Current(_) => SAMPLES,
        }
    }
}

/// A baseline as `run` reads it: a versioned document, through its JSON text.
fn baseline_of(evidence: Evidence, name: &str) -> Baseline {
    let b = Baseline::new(
        "calibration",
        name,
        "default",
        BTreeMap::new(),
        chrono::Utc::now(),
        evidence,
    );
    let text = serde_json::to_string(&b).expect("a baseline serialises");
    Baseline::from_json(&text, name).expect("a baseline reads back")
}

/// The metrics with a drift finding in the comparison of `current` with `baseline`.
fn drift_findings(baseline: &Baseline, current: &Evidence, seed: u64) -> Vec<String> {
    compare(
        &baseline.evidence,
        current,
        None,
        &Drift::default(),
        "default",
        seed,
    )
    .findings
    .into_iter()
    .filter(|f| f.kind == FindingKind::Drift)
    .map(|f| f.metric)
    .collect()
}

/// Detections of one kind against one baseline size.
#[derive(Debug, Default, Clone)]
struct Tally {
    runs: u64,
    flagged: u64,
    /// Comparisons with a drift finding on a metric other than latency.
    flagged_apart_from_latency: u64,
    /// Comparisons in which each metric had a drift finding.
    metrics: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, metrics: &[String]) {
        self.runs += 1;
        self.flagged += u64::from(!metrics.is_empty());
        self.flagged_apart_from_latency +=
            // Components (issue 13: ttfb, network overhead, the server's own) are timings
            // too: as clock-dependent on a busy machine as latency.
            u64::from(
                metrics
                    .iter()
                    .any(|m| !m.starts_with("latency_") && !m.starts_with("component/")),
            );
        for m in metrics {
            *self.metrics.entry(m.clone()).or_default() += 1;
        }
    }

    fn rate(&self) -> f64 {
        self.flagged as f64 / self.runs as f64
    }

    fn row(&self, kind: Kind, baseline: &str) -> String {
        let (lo, hi) = wilson(self.flagged, self.runs, 0.95);
        let fired: Vec<String> = self
            .metrics
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        let what = if kind == Kind::Null {
            "false alarms"
        } else {
            "power"
        };
        let apart = if kind == Kind::Latency {
            "—".to_string()
        } else {
            format!("{}/{}", self.flagged_apart_from_latency, self.runs)
        };
        format!(
            "| {} | {baseline} | {what} {}/{} = {:.1}% | {:.1}–{:.1}% | {apart} | {} |",
            kind.name(),
            self.flagged,
            self.runs,
            100.0 * self.rate(),
            100.0 * lo,
            100.0 * hi,
            if fired.is_empty() {
                "—".to_string()
            } else {
                fired.join(", ")
            }
        )
    }
}

/// The figures of one scenario: per kind, one tally per baseline size (`sizes`).
struct Figures {
    scenario: Scenario,
    tallies: BTreeMap<Kind, Vec<Tally>>,
    /// `latency_dependence` of the null comparisons, per baseline size (as `sizes()`).
    dependence: Vec<f64>,
}

/// Samples per case of the baselines compared with: the run's own size, then `LARGE`.
fn sizes() -> Vec<u32> {
    std::iter::once(SAMPLES).chain(LARGE).collect()
}

impl Figures {
    /// The tally of `kind` against baselines of 20 × `samples`.
    fn at(&self, kind: Kind, samples: u32) -> &Tally {
        let i = sizes()
            .iter()
            .position(|s| *s == samples)
            .expect("a measured baseline size");
        &self.tallies[&kind][i]
    }

    fn table(&self) -> String {
        let mut out = format!(
            "{}\n\n| injected change | baseline | flagged | Wilson 95% | flagged apart from latency | drift findings (comparisons) |\n|---|---|---|---|---|---|\n",
            self.scenario.name
        );
        for (kind, tallies) in &self.tallies {
            for (tally, size) in tallies.iter().zip(sizes()) {
                let _ = writeln!(out, "{}", tally.row(*kind, &format!("20 × {size}")));
            }
        }
        let dependence: Vec<String> = sizes()
            .iter()
            .zip(&self.dependence)
            .map(|(size, d)| format!("20 × {size}: {d:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "\nlatency dependence of the null comparisons (1: like independent samples; latency targets asserted up to {MAX_DEPENDENCE}): {}",
            dependence.join(", ")
        );
        out
    }
}

/// A deterministic shuffle key (splitmix64), so the job order interleaves kinds.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn jobs(scenarios: &[Scenario]) -> Vec<Job> {
    let mut currents = Vec::new();
    let mut baselines = Vec::new();
    for (s, sc) in scenarios.iter().enumerate() {
        let job = |role, index: usize, offset: u64| Job {
            scenario: s,
            role,
            index,
            seed: sc.seed + offset + index as u64,
        };
        for (j, samples) in LARGE.into_iter().enumerate() {
            for index in 0..sc.large {
                baselines.push(job(Role::Baseline(samples), index, 1_000 * j as u64));
            }
        }
        for index in 0..sc.nulls {
            currents.push(job(Role::Current(Kind::Null), index, 10_000));
        }
        for (k, kind) in sc.changes.iter().enumerate() {
            for index in 0..sc.trials {
                currents.push(job(Role::Current(*kind), index, 20_000 + 1_000 * k as u64));
            }
        }
    }
    // Every kind of run shuffled together, so each meets the same load over time, and the
    // baselines of each scenario and size spread evenly through them.
    currents.sort_by_key(|j| mix(j.seed));
    let n = currents.len() as f64;
    let mut placed: Vec<(f64, Job)> = currents
        .into_iter()
        .enumerate()
        .map(|(i, j)| ((i as f64 + 0.5) / n, j))
        .collect();
    // A large baseline takes 4 or 8 times as long: none starts in the last fifth.
    for b in baselines {
        let count = scenarios[b.scenario].large as f64;
        placed.push((0.8 * (b.index as f64 + 0.25) / count, b));
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    placed.into_iter().map(|(_, j)| j).collect()
}

/// A generated run: what it was, its place in the schedule and its evidence.
struct Generated {
    job: Job,
    /// Index in the job order: runs start in this order, `PARALLEL` at a time, so runs
    /// close in it are made at about the same time.
    position: usize,
    evidence: Evidence,
}

/// Mean log-latency of a run and the variance of that mean were its samples independent.
fn log_latency(g: &Generated) -> (f64, f64) {
    let logs: Vec<f64> = g.evidence.continuous["latency_ms"]
        .values
        .iter()
        .map(|v| v.max(1e-3).ln())
        .collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var / n)
}

/// How far the latency of compared runs is from independent samples: over pairs of runs
/// made with the same profile, the mean squared difference of their mean log-latency over
/// what independent samples give. About 1 when this machine keeps time; above, its load
/// moves whole runs, which no test that treats samples as independent can tell from drift.
fn latency_dependence(pairs: &[(&Generated, &Generated)]) -> f64 {
    let (mut observed, mut expected) = (0.0, 0.0);
    for (a, b) in pairs {
        let ((ma, va), (mb, vb)) = (log_latency(a), log_latency(b));
        observed += (ma - mb).powi(2);
        expected += va + vb;
    }
    observed / expected
}

/// The baselines of one size: the runs they were made from and their documents.
struct Baselines<'a> {
    runs: Vec<&'a Generated>,
    docs: Vec<Baseline>,
}

/// The baseline of `size` (an index into `sizes()`) that run `g` is compared with: one
/// made at about the same time, so this machine's load hits both alike (as the gate
/// interleaves two targets), chosen by place in the schedule so that the pairs, and every
/// count-based figure, are the same on every machine. The small baselines are the null
/// runs: a null run is held against the next null run in the schedule, an injected run
/// against the nearest one. A large baseline is the last one of its size started before the
/// run (the first one for runs before it): it takes 4 or 8 times as long as a run, so it is
/// mostly still running.
fn partner(size: usize, g: &Generated, baselines: &[Baselines<'_>]) -> usize {
    let of_size = &baselines[size].runs;
    if size == 0 {
        if g.job.role == Role::Current(Kind::Null) {
            let rank = of_size
                .iter()
                .position(|n| std::ptr::eq(*n, g))
                .expect("a null run");
            return if rank + 1 < of_size.len() {
                rank + 1
            } else {
                rank - 1
            };
        }
        return (0..of_size.len())
            .min_by_key(|&i| of_size[i].position.abs_diff(g.position))
            .expect("null runs");
    }
    of_size
        .iter()
        .rposition(|b| b.position < g.position)
        .unwrap_or(0)
}

/// Generates every run of `scenarios`, then makes every comparison.
async fn calibrate(scenarios: &[Scenario]) -> (Vec<Figures>, Duration, Duration) {
    let labs: Vec<Arc<Lab>> = scenarios
        .iter()
        .map(|s| Arc::new(Lab::new(&s.golden)))
        .collect();
    let clock = Instant::now();
    let runs: Vec<Generated> = futures_util::stream::iter(jobs(scenarios).into_iter().enumerate())
        .map(|(position, job)| {
            let lab = Arc::clone(&labs[job.scenario]);
            async move {
                let db = format!("{:?}-{}", job.role, job.index);
                let options = RunOptions {
                    samples: Some(job.samples()),
                    baseline: BaselineChoice::None,
                    ..RunOptions::default()
                };
                let outcome = lab
                    .run(job.profile(), options, REQUESTS_PER_SECOND, &db)
                    .await;
                let target = outcome.targets.into_iter().next().expect("one target");
                Generated {
                    job,
                    position,
                    evidence: target.evidence,
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let generated = clock.elapsed();

    let clock = Instant::now();
    let mut figures = Vec::new();
    for (s, scenario) in scenarios.iter().enumerate() {
        let of = |role: Role| {
            let mut v: Vec<&Generated> = runs
                .iter()
                .filter(|g| g.job.scenario == s && g.job.role == role)
                .collect();
            v.sort_by_key(|g| g.position);
            v
        };
        let baseline = |g: &Generated| {
            let name = format!("{:?}-{}", g.job.role, g.job.index);
            baseline_of(g.evidence.clone(), &name)
        };
        // Who is compared with whom: see `partner`.
        let nulls = of(Role::Current(Kind::Null));
        let mut baselines = vec![Baselines {
            docs: nulls.iter().map(|g| baseline(g)).collect(),
            runs: nulls.clone(),
        }];
        for samples in LARGE {
            let runs = of(Role::Baseline(samples));
            let docs = runs.iter().map(|g| baseline(g)).collect();
            baselines.push(Baselines { runs, docs });
        }
        let dependence: Vec<f64> = (0..baselines.len())
            .map(|j| {
                let pairs: Vec<(&Generated, &Generated)> = nulls
                    .iter()
                    .map(|g| (*g, baselines[j].runs[partner(j, g, &baselines)]))
                    .collect();
                latency_dependence(&pairs)
            })
            .collect();
        let mut currents: Vec<&Generated> = runs
            .iter()
            .filter(|g| g.job.scenario == s && matches!(g.job.role, Role::Current(_)))
            .collect();
        currents.sort_by_key(|g| (g.job.role == Role::Current(Kind::Null), g.job.index));

        // Comparisons are pure CPU: spread over the machine's threads.
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = currents.len().div_ceil(threads).max(1);
        let compared: Vec<(Kind, Vec<Vec<String>>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = currents
                .chunks(chunk)
                .map(|part| {
                    let baselines = &baselines;
                    scope.spawn(move || {
                        part.iter()
                            .map(|g| {
                                let Role::Current(kind) = g.job.role else {
                                    unreachable!("only runs are compared")
                                };
                                let found = (0..baselines.len())
                                    .map(|j| {
                                        let doc = &baselines[j].docs[partner(j, g, baselines)];
                                        drift_findings(doc, &g.evidence, g.job.seed)
                                    })
                                    .collect();
                                (kind, found)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a comparison thread"))
                .collect()
        });
        let mut tallies: BTreeMap<Kind, Vec<Tally>> = BTreeMap::new();
        for (kind, found) in compared {
            let entry = tallies
                .entry(kind)
                .or_insert_with(|| vec![Tally::default(); found.len()]);
            for (tally, metrics) in entry.iter_mut().zip(&found) {
                tally.add(metrics);
            }
        }
        figures.push(Figures {
            scenario: scenario.clone(),
            tallies,
            dependence,
        });
    }
    (figures, generated, clock.elapsed())
}

/// The support set with every change, and the extraction set with JSON breakage.
fn scenarios(nulls: usize, trials: usize, large: usize) -> Vec<Scenario> {
    vec![
        Scenario {
            name: "support set (10 questions, 4 JSON, 4 classifications, 2 refusals)",
            golden: SUPPORT.to_string(),
            changes: vec![Kind::Refusal, Kind::Latency, Kind::JsonBreak, Kind::Length],
            nulls,
            trials,
            large,
            seed: 100_000,
        },
        Scenario {
            name: "extraction set (20 JSON cases)",
            golden: EXTRACTION.to_string(),
            changes: vec![Kind::JsonBreak],
            nulls: trials,
            trials,
            large: large.div_ceil(2),
            seed: 200_000,
        },
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Prints the figures, and writes them where `PROBITY_CALIBRATION_REPORT` says.
fn report(figures: &[Figures], generated: Duration, compared: Duration) {
    let mut text = String::new();
    for f in figures {
        let _ = writeln!(text, "{}", f.table());
    }
    let _ = writeln!(
        text,
        "runs generated in {:.1} s, compared in {:.1} s",
        generated.as_secs_f64(),
        compared.as_secs_f64()
    );
    println!("{text}");
    if let Ok(path) = std::env::var("PROBITY_CALIBRATION_REPORT") {
        std::fs::write(&path, &text).expect("the report is written");
    }
}

/// The most the mean latency of compared runs may differ, as a multiple of the variance
/// independent samples give (`latency_dependence`), for latency figures to mean anything.
/// A machine that keeps time gives about 1 (0.97–1.17 measured); a busy one much more (2
/// to 50 on a shared 2-core machine under other engineers' builds, where the probe's own
/// scheduling delays reach tens of milliseconds and move whole runs).
const MAX_DEPENDENCE: f64 = 1.5;

/// The issue's targets: false alarms at every baseline size, detection against the
/// `GUARDED` one. Latency is real time: where this machine was too busy to measure it
/// (see `MAX_DEPENDENCE`), the latency targets are reported, not asserted, and the false
/// alarms counted are those of the other metrics.
fn assert_targets(figures: &[Figures]) {
    let support = &figures[0];
    let measurable: Vec<bool> = sizes()
        .iter()
        .zip(&support.dependence)
        .map(|(size, d)| {
            if *d > MAX_DEPENDENCE {
                eprintln!(
                    "warning: this machine was too busy to measure latency against 20 × {size} baselines (the runs compared moved {d:.1}× more than independent samples allow, limit {MAX_DEPENDENCE}); latency targets there not asserted"
                );
            }
            *d <= MAX_DEPENDENCE
        })
        .collect();
    let measurable =
        |size: u32| measurable[sizes().iter().position(|s| *s == size).expect("a size")];
    for size in sizes() {
        let tally = support.at(Kind::Null, size);
        let flagged = if measurable(size) {
            tally.flagged
        } else {
            tally.flagged_apart_from_latency
        };
        assert!(tally.runs >= 200, "{} null comparisons", tally.runs);
        assert!(
            flagged as f64 / tally.runs as f64 <= MAX_FALSE_ALARMS,
            "false alarms against 20 × {size} baselines: {flagged}/{} ({:?})",
            tally.runs,
            tally.metrics
        );
    }
    let asserted = [
        (support, Kind::Refusal),
        (support, Kind::Latency),
        (support, Kind::Length),
        (&figures[1], Kind::JsonBreak),
    ];
    for (f, kind) in asserted {
        if kind == Kind::Latency && !measurable(GUARDED) {
            continue;
        }
        let tally = f.at(kind, GUARDED);
        assert!(tally.runs >= 50, "{} trials", tally.runs);
        assert!(
            tally.rate() >= MIN_POWER,
            "{} in the {}: detected in {}/{} against 20 × {GUARDED} baselines ({:?})",
            kind.name(),
            f.scenario.name,
            tally.flagged,
            tally.runs,
            tally.metrics
        );
    }
}

/// `run_probe` with a baseline file reaches the verdict the calibration counts on, for the
/// changes whose figures do not depend on this machine's clock. These runs have the
/// machine to themselves, so they go faster: 400 requests per second, room for 200.
async fn end_to_end() {
    let lab = Lab::new(SUPPORT);
    let options = |samples: u32, baseline: BaselineChoice| RunOptions {
        samples: Some(samples),
        concurrency: Some(200),
        baseline,
        ..RunOptions::default()
    };
    let pace = 400.0;
    let outcome = lab
        .run(
            normal(7),
            options(GUARDED, BaselineChoice::None),
            pace,
            "e2e-baseline",
        )
        .await;
    let evidence = outcome
        .targets
        .into_iter()
        .next()
        .expect("one target")
        .evidence;
    let file = lab.project.root().join("baselines/calibration.json");
    baseline_of(evidence, "e2e")
        .write(&file)
        .expect("the baseline file is written");
    let against = || options(SAMPLES, BaselineChoice::File(file.clone()));
    for (kind, metric) in [
        (Kind::Refusal, "over_refusal"),
        (Kind::Length, "output_length_median"),
    ] {
        let outcome = lab
            .run(kind.profile(8), against(), pace, &format!("e2e-{kind:?}"))
            .await;
        let drift: Vec<&str> = outcome
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Drift)
            .map(|f| f.metric.as_str())
            .collect();
        assert!(drift.contains(&metric), "{}: {drift:?}", kind.name());
        assert!(
            matches!(outcome.verdict, Verdict::Warn | Verdict::Fail),
            "{}: {:?}",
            kind.name(),
            outcome.verdict
        );
    }
}

/// The always-on guard, at the issue's sizes: 200 null comparisons per baseline size, 50
/// trials per change, 10 large baselines (5 for the extraction set).
#[test]
fn detection_quality_at_the_defaults() {
    let clock = Instant::now();
    let scenarios = scenarios(200, 50, 10);
    let (figures, generated, compared) = runtime().block_on(calibrate(&scenarios));
    report(&figures, generated, compared);
    assert_targets(&figures);
    runtime().block_on(end_to_end());
    println!("total {:.1} s", clock.elapsed().as_secs_f64());
}

/// The same calibration four times larger, for tighter intervals (BENCHMARKS.md reports
/// both): `cargo test --test calibration -- --ignored --nocapture`.
#[test]
#[ignore = "several minutes; the always-on test guards the same figures at the issue's sizes"]
fn detection_quality_large() {
    let scenarios = scenarios(1000, 200, 20);
    let (figures, generated, compared) = runtime().block_on(calibrate(&scenarios));
    report(&figures, generated, compared);
    assert_targets(&figures);
}

// ------------------------------------------------------------------ trend noise (issue 9)
//
// The trend check against its own null: runs of an unchanged endpoint, each 30 samples (3
// cases × 10), whose latency and TTFT are log-normal with σ = 0.8 (p99 = 6.4 × the median,
// the issue asks for at least 5×), and a few errors, refusals and broken JSON answers. Each
// run is folded by the real `Accumulator` and scorers and judged by `check_trend` against the
// runs before it (the last 30, as `run` does), so a warning here is a false alarm. The fast
// test judges 200 runs; the `#[ignore]`d one 2,000.

mod trend_noise {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::Utc;
    use probity::compare::check_trend;
    use probity::compare::trend::{HISTORY, MIN_HISTORY, stored_summary};
    use probity::config::Drift;
    use probity::golden::Case;
    use probity::provider::ErrorClass;
    use probity::runner::{Observation, Status};
    use probity::score::Scorer;
    use probity::summary::{Accumulator, Evidence, RunSummary};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, LogNormal};

    const GOLDEN: &str = r#"name: trend
cases:
  - id: refund
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect: { contains: ["30 days"], refusal: false }
  - id: order
    messages: [{ role: user, content: "Return order 1234 as JSON with id and status." }]
    expect:
      json: strict
      json_schema: { type: object, required: [id, status] }
  - id: shipping
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect: { contains: ["5 business days"], refusal: false }
"#;
    const SAMPLES: u32 = 10;
    /// log-normal σ of latency and TTFT: p99 / median = exp(2.326 σ) = 6.4.
    const SIGMA: f64 = 0.8;

    fn cases() -> Vec<Case> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trend.yaml");
        std::fs::write(&path, GOLDEN).unwrap();
        probity::golden::load_golden_set(&path).unwrap().cases
    }

    fn answer(case: &Case, rng: &mut StdRng) -> String {
        if case.expect.refusal == Some(false) && rng.random_bool(0.04) {
            return "I'm sorry, but I can't help with that request.".into();
        }
        match case.id.as_str() {
            "order" if rng.random_bool(0.04) => "{\"id\": 1234, \"status\": ".into(),
            "order" => "{\"id\": 1234, \"status\": \"shipped\"}".into(),
            "refund" => "You can ask for a refund within 30 days of purchase.".into(),
            _ => "Standard shipping takes 3 to 5 business days.".into(),
        }
    }

    /// One null run: its summary as stored and read back, and its evidence.
    fn run(cases: &[Case], scorer: &Scorer, seed: u64, slower: f64) -> (RunSummary, Evidence) {
        let mut rng = StdRng::seed_from_u64(seed);
        let latency = LogNormal::new((400.0 * slower).ln(), SIGMA).unwrap();
        let ttft = LogNormal::new(150f64.ln(), SIGMA).unwrap();
        let targets = ["default".to_string()];
        let mut acc = Accumulator::new(cases, &targets, 1, seed);
        let mut seq = 0;
        for sample in 0..SAMPLES {
            for case in cases {
                seq += 1;
                let errored = rng.random_bool(0.02);
                let text = answer(case, &mut rng);
                let obs = Observation {
                    seq,
                    target: "default".into(),
                    set: case.set.clone(),
                    case_id: case.id.clone(),
                    sample,
                    attempt: 1,
                    final_attempt: true,
                    started_at: Utc::now(),
                    scheduled_ms: seq as f64,
                    delayed: false,
                    latency_ms: (!errored).then(|| latency.sample(&mut rng)),
                    ttft_ms: (!errored).then(|| ttft.sample(&mut rng)),
                    status: if errored {
                        Status::Error(ErrorClass::Http5xx)
                    } else {
                        Status::Ok
                    },
                    http_status: Some(if errored { 500 } else { 200 }),
                    error: None,
                    input_tokens: Some(20),
                    output_tokens: Some(12),
                    cost_usd: 0.0,
                    finish_reason: Some("stop".into()),
                    model: Some("sim".into()),
                    system_fingerprint: None,
                    request_id: None,
                    span_id: format!("{seq:016x}"),
                    output: (!errored).then_some(text),
                    context: vec![],
                    labels: Default::default(),
                    timings: None,
                };
                let scores = (!errored).then(|| scorer.score(case, &obs));
                acc.add(&obs, scores.as_deref());
            }
        }
        let t = acc.finish(Duration::from_secs(10)).0.remove(0);
        let stored = stored_summary(&serde_json::json!({ "summary": t.summary })).unwrap();
        (stored, t.evidence)
    }

    /// Warnings per trend-checked metric over `judged` null runs, and how many were judged.
    pub fn false_alarms(judged: usize, seed: u64) -> (BTreeMap<String, usize>, usize) {
        let (cases, scorer, drift) = (cases(), Scorer::new(&[]), Drift::default());
        let mut history: Vec<RunSummary> = Vec::new();
        let mut warnings = BTreeMap::new();
        for metric in [
            "error_rate",
            "pass_rate",
            "latency_p95",
            "ttft_p95",
            "over_refusal",
            "format_compliance",
        ] {
            warnings.insert(metric.to_string(), 0);
        }
        let mut count = 0;
        let mut i = 0u64;
        while count < judged {
            let (summary, evidence) = run(&cases, &scorer, seed.wrapping_add(i), 1.0);
            i += 1;
            if history.len() >= MIN_HISTORY {
                count += 1;
                for f in check_trend(&summary, Some(&evidence), &history, &drift, "default") {
                    *warnings.entry(f.metric).or_default() += 1;
                }
            }
            history.insert(0, summary);
            history.truncate(HISTORY);
        }
        (warnings, count)
    }

    /// Of `trials` runs whose latency is `slower` times the null's, each judged against the
    /// same 30 null runs before it, how many warn on `latency_p95`.
    pub fn detections(trials: usize, slower: f64, seed: u64) -> usize {
        let (cases, scorer, drift) = (cases(), Scorer::new(&[]), Drift::default());
        let history: Vec<RunSummary> = (0..HISTORY as u64)
            .map(|i| run(&cases, &scorer, seed.wrapping_add(i), 1.0).0)
            .collect();
        (0..trials as u64)
            .filter(|i| {
                let (summary, evidence) = run(&cases, &scorer, seed.wrapping_add(1000 + i), slower);
                check_trend(&summary, Some(&evidence), &history, &drift, "default")
                    .iter()
                    .any(|f| f.metric == "latency_p95")
            })
            .count()
    }

    pub fn assert_at_most_one_percent(judged: usize, seed: u64) {
        let (warnings, count) = false_alarms(judged, seed);
        eprintln!("trend false alarms over {count} null runs: {warnings:?}");
        assert!(warnings.len() == 6, "{warnings:?}");
        for (metric, w) in &warnings {
            let share = *w as f64 / count as f64;
            assert!(share <= 0.01, "{metric}: {w} warnings in {count} null runs");
        }
    }
}

/// At most 1% trend warnings per metric over 200 null runs with heavy-tailed latency (the
/// bounded version, in the normal suite: about a second).
#[test]
fn trend_warns_on_at_most_one_percent_of_heavy_tailed_null_runs() {
    trend_noise::assert_at_most_one_percent(200, 1);
}

/// What the trend still catches at 30 samples: a p95 of 30 is too noisy for small changes,
/// so only a large slowdown of every request is far outside the band (measured: ×2 in 1 of
/// 50 runs, ×3 in 23, ×4 in 46, ×6 in 50). Drift against a baseline is the test for smaller
/// changes.
#[test]
#[ignore]
fn trend_power_on_slower_runs() {
    let mut caught = 0;
    for slower in [2.0, 3.0, 4.0, 6.0] {
        caught = trend_noise::detections(50, slower, 77);
        eprintln!("latency ×{slower}: latency_p95 trend warning in {caught}/50 runs");
    }
    assert!(caught >= 45, "×6 caught in {caught}/50");
}

/// The same over 2,000 null runs (`cargo test --release --test calibration -- --ignored
/// trend`).
#[test]
#[ignore]
fn trend_false_alarms_long_run() {
    trend_noise::assert_at_most_one_percent(2000, 1_000_003);
}

// ------------------------------------------------------------ sequential gate (issue 15)
//
// The sequential gate beside the fixed-N gate, in one run of this test: for every change
// of the issue-4 set (null; refusals +10 points; latency ×1.5; JSON breakage 10% on the
// extraction set; length ×1.5) each trial starts two simulators — the baseline target
// (`default`, the normal profile) and the candidate (`canary`, the changed profile) — and
// gates the canary against `default` twice, both targets probed in one run: once with the
// fixed plan (`sequential: false`, the paired fixed-N comparison) and once sequentially.
// A gate "flags drift" when it has a drift finding; calls are the requests it sent.
// Unpaced, as a gate runs: both targets are interleaved, so load hits both alike.

/// Samples per case of a gate in the always-on guard (20 cases × 10 × 2 targets).
const GATE_SAMPLES: u32 = 10;

/// A gate's outcome, for the tally.
#[derive(Debug, Clone, Copy)]
struct GateRun {
    flagged: bool,
    verdict: Verdict,
    calls: u64,
}

/// The two-target probe of a golden set: `default` and `canary`, aimed per trial.
fn gate_lab(golden: &str, samples: u32) -> (Project, Probe, Vec<SimCase>) {
    let body = format!(
        "name: calibration\ntarget:\n  provider: openai\n  base_url: http://127.0.0.1:9/v1\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: false\ntargets:\n  canary: {{ model: canary-model }}\ngolden_sets: [golden-sets/calibration.yaml]\nsamples: {samples}\nconcurrency: 20\ntimeout: 30s\n"
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &body),
        ("golden-sets/calibration.yaml", golden),
    ]);
    let probe = project.probe("sk-calibration");
    let cases = sim::cases_from_golden(&probe.golden_sets);
    (project, probe, cases)
}

/// One trial: the fixed-N gate, then the sequential one, against the same two simulators.
async fn gate_trial(
    project: &Project,
    probe: &Probe,
    cases: &[SimCase],
    kind: Kind,
    seed: u64,
    index: usize,
) -> (GateRun, GateRun) {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let base = sim::start(normal(seed), cases.to_vec(), addr)
        .await
        .expect("sim");
    let canary = sim::start(kind.profile(seed ^ 0x9e37_79b9), cases.to_vec(), addr)
        .await
        .expect("sim");
    let mut probe = probe.clone();
    probe.target.base_url = base.base_url();
    if let Some(t) = probe.targets.get_mut("canary") {
        t.base_url = canary.base_url();
    }
    if let Some(t) = probe.targets.get_mut("default") {
        t.base_url = base.base_url();
    }
    let db = project.root().join(format!(".probity/gate-{index}.db"));
    let store = Store::open(&db).expect("the store opens");
    let mut out = Vec::new();
    for sequential in [false, true] {
        let options = RunOptions {
            targets: vec!["canary".into(), "default".into()],
            baseline: BaselineChoice::Target("default".into()),
            gate: true,
            sequential,
            ..RunOptions::default()
        };
        let o = project::run(&probe, &store, &options).await;
        assert_eq!(o.status, RunStatus::Complete, "{:?}", o.status_reason);
        assert_eq!(o.sequential.is_some(), sequential);
        out.push(GateRun {
            flagged: o.findings.iter().any(|f| f.kind == FindingKind::Drift),
            verdict: o.verdict,
            calls: o.runner.sent,
        });
    }
    base.shutdown().await.expect("sim stops");
    canary.shutdown().await.expect("sim stops");
    drop(store);
    let _ = std::fs::remove_file(&db);
    (out[0], out[1])
}

/// The figures of one change: fixed-N and sequential side by side.
#[derive(Debug, Clone)]
struct GateFigures {
    kind: Kind,
    fixed: Vec<GateRun>,
    sequential: Vec<GateRun>,
    planned: u64,
}

fn mean_calls(runs: &[GateRun]) -> f64 {
    runs.iter().map(|r| r.calls as f64).sum::<f64>() / runs.len().max(1) as f64
}

fn p95_calls(runs: &[GateRun]) -> u64 {
    let mut calls: Vec<u64> = runs.iter().map(|r| r.calls).collect();
    calls.sort_unstable();
    let i = ((calls.len() as f64 * 0.95).ceil() as usize).clamp(1, calls.len().max(1)) - 1;
    calls.get(i).copied().unwrap_or(0)
}

fn flagged(runs: &[GateRun]) -> usize {
    runs.iter().filter(|r| r.flagged).count()
}

fn verdicts(runs: &[GateRun]) -> String {
    let count = |v: Verdict| runs.iter().filter(|r| r.verdict == v).count();
    format!(
        "{} pass / {} warn / {} fail / {} insufficient",
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::InsufficientData)
    )
}

/// Runs `trials` gates of each change (`PARALLEL` at a time) and tallies them.
async fn calibrate_gates(trials: usize, samples: u32) -> Vec<GateFigures> {
    let support = Arc::new(gate_lab(SUPPORT, samples));
    let extraction = Arc::new(gate_lab(EXTRACTION, samples));
    let kinds = [
        Kind::Null,
        Kind::Refusal,
        Kind::Latency,
        Kind::JsonBreak,
        Kind::Length,
    ];
    let mut jobs = Vec::new();
    for (k, &kind) in kinds.iter().enumerate() {
        for t in 0..trials {
            jobs.push((kind, k, t));
        }
    }
    let results: Vec<(Kind, GateRun, GateRun)> = futures_util::stream::iter(jobs)
        .map(|(kind, k, t)| {
            let lab = if kind == Kind::JsonBreak {
                extraction.clone()
            } else {
                support.clone()
            };
            async move {
                let seed = mix(0x5e9_0000 + (k * 100_000 + t) as u64);
                let (fixed, seq) =
                    gate_trial(&lab.0, &lab.1, &lab.2, kind, seed, k * 100_000 + t).await;
                (kind, fixed, seq)
            }
        })
        .buffer_unordered(PARALLEL / 4)
        .collect()
        .await;
    let planned = CASES * u64::from(samples) * 2;
    kinds
        .iter()
        .map(|&kind| GateFigures {
            kind,
            fixed: results
                .iter()
                .filter(|r| r.0 == kind)
                .map(|r| r.1)
                .collect(),
            sequential: results
                .iter()
                .filter(|r| r.0 == kind)
                .map(|r| r.2)
                .collect(),
            planned,
        })
        .collect()
}

/// The side-by-side table (Markdown, as BENCHMARKS.md shows it).
fn gate_table(figures: &[GateFigures]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| change | trials | fixed-N flagged | sequential flagged | fixed-N calls | sequential calls mean (share) | p95 | max | sequential verdicts |\n|---|---|---|---|---|---|---|---|---|"
    );
    for f in figures {
        let n = f.fixed.len() as u64;
        let (a, b) = (flagged(&f.fixed) as u64, flagged(&f.sequential) as u64);
        let show = |k: u64| {
            let (lo, hi) = wilson(k, n, 0.95);
            format!("{k}/{n} ({:.0}–{:.0}%)", lo * 100.0, hi * 100.0)
        };
        let seq_mean = mean_calls(&f.sequential);
        let _ = writeln!(
            t,
            "| {} | {n} | {} | {} | {:.0} | {:.0} ({:.0}%) | {} | {} | {} |",
            f.kind.name(),
            show(a),
            show(b),
            mean_calls(&f.fixed),
            seq_mean,
            100.0 * seq_mean / f.planned as f64,
            p95_calls(&f.sequential),
            f.sequential.iter().map(|r| r.calls).max().unwrap_or(0),
            verdicts(&f.sequential)
        );
    }
    t
}

/// What holds at any size: the sequential gate never sends more than the fixed plan, and
/// never raises more false alarms on the null than the fixed-N gate plus its own level.
fn assert_gate_guards(figures: &[GateFigures]) {
    for f in figures {
        for (fixed, seq) in f.fixed.iter().zip(&f.sequential) {
            assert!(
                seq.calls <= f.planned,
                "{:?}: {} > {}",
                f.kind,
                seq.calls,
                f.planned
            );
            assert!(fixed.calls <= f.planned);
        }
    }
    let null = figures.iter().find(|f| f.kind == Kind::Null).expect("null");
    assert_eq!(
        flagged(&null.sequential),
        0,
        "sequential false alarms on the null:\n{}",
        gate_table(figures)
    );
}

/// The always-on guard of the sequential gate: 4 trials per change at 20 × 10.
#[test]
fn sequential_gate_beside_fixed_n() {
    let figures = runtime().block_on(calibrate_gates(4, GATE_SAMPLES));
    println!("{}", gate_table(&figures));
    assert_gate_guards(&figures);
    // The plain continuous changes are caught by the sequential gate as often as by the
    // fixed plan, less one trial. (Rates are reported, not asserted: at 20 × 10 the betting
    // e-process under e-BH catches refusals +10 points less often than the paired exact
    // McNemar test does — see BENCHMARKS.md.)
    for f in figures
        .iter()
        .filter(|f| matches!(f.kind, Kind::Latency | Kind::Length))
    {
        assert!(
            flagged(&f.sequential) + 1 >= flagged(&f.fixed),
            "{:?}:\n{}",
            f.kind,
            gate_table(&figures)
        );
    }
}

/// The figures of BENCHMARKS.md: 40 trials per change at 20 × `PROBITY_GATE_SAMPLES`
/// (default 10): `cargo test --test calibration sequential_gate_large -- --ignored --nocapture`.
#[test]
#[ignore = "minutes; the always-on test guards the same behaviour on fewer trials"]
fn sequential_gate_large() {
    let samples = std::env::var("PROBITY_GATE_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(GATE_SAMPLES);
    let trials = std::env::var("PROBITY_GATE_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let figures = runtime().block_on(calibrate_gates(trials, samples));
    println!("{}", gate_table(&figures));
    assert_gate_guards(&figures);
}
