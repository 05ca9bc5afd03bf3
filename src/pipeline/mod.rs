//! One run of one probe, end to end, in the order of DESIGN.md: plan → runner (through the
//! providers) → store (as observations arrive) → score → summary → compare → verdict. The
//! CLI, the demo, the gate and the daemon all call this; none of them re-implements a step.

mod evaluate;
pub mod publish;
mod sequential;
mod sink;
mod status;

pub use evaluate::{BaselineChoice, ComparisonReport, evidence_json, target_evidence};
pub use publish::{Outputs, Published, publish};

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::compare::{BaselineError, Finding, Verdict};
use crate::config::{Probe, display_path};
use crate::exit;
use crate::golden::Case;
use crate::provider::{Provider, ProviderError};
use crate::runner::{
    Budget, DEFAULT_OUTPUT_BOUND, Endpoint, Observation, Redactor, Runner, RunnerReport, Settings,
    bounded, new_trace_id,
};
use crate::score::{RemoteScorer, Scorer};
use crate::store::{NewRun, RunEnd, Store, StoreError};
use crate::summary::{Accumulator, TargetResult};
use sink::Sink;
use status::status_of;

/// Why a run could not be carried out at all (a failed verdict is not an error).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("probe `{probe}` has no target named `{name}`; known: {known}")]
    UnknownTarget {
        probe: String,
        name: String,
        known: String,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// Boxed: a routing error names the file, route and channel, and every command's
    /// result carries this type.
    #[error(transparent)]
    Alert(Box<crate::alert::after_run::AlertError>),
    #[error("a background task of the run failed: {0}")]
    Task(String),
}

impl From<crate::alert::after_run::AlertError> for PipelineError {
    fn from(e: crate::alert::after_run::AlertError) -> Self {
        PipelineError::Alert(Box::new(e))
    }
}

/// Overrides and choices for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the probe's `samples` (and every case's own).
    pub samples: Option<u32>,
    /// Overrides the probe's `concurrency`.
    pub concurrency: Option<usize>,
    /// Targets to probe, interleaved case by case; empty means the probe's `target`.
    pub targets: Vec<String>,
    /// What to compare with.
    pub baseline: BaselineChoice,
    /// Only the cases whose `set/case-id` matches (`--case`; see `case_matches`).
    pub case: Option<String>,
    /// A gate (`probity gate`): it passes only when every compared metric is decided
    /// ([`Verdict::for_gate`]), and the run is stored with that verdict.
    pub gate: bool,
    /// `gate --fail-on warning`: a `warn` verdict exits 1 too, in the stored document, the
    /// JUnit file and the process alike.
    pub fail_on_warning: bool,
    /// Issue 15: `gate --sequential` (or the probe's `drift.sequential`): test after every
    /// round and stop once decided (see `sequential`). Needs a baseline target.
    pub sequential: bool,
}

/// Told about progress; the terminal shows a bar, everything else ignores it.
pub trait Progress: Send + Sync {
    fn start(&self, _total: u64) {}
    fn observed(&self, _obs: &Observation) {}
    fn finish(&self) {}
}

/// No progress display.
pub struct Quiet;
impl Progress for Quiet {}

/// How a run ended, apart from its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every planned sample was sent — or a sequential gate decided before the end and
    /// stopped sending (its `sequential` block says where).
    Complete,
    /// The budget ran out before every sample was sent.
    BudgetExhausted,
    /// Stopped early (Ctrl-C, shutdown): stored as `cancelled`, exit 130, never a pass.
    #[serde(rename = "cancelled")]
    Interrupted,
    /// Nothing usable came back: endpoint unreachable, every request failed, or the budget
    /// ran out before the minimum samples.
    CouldNotProbe,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::BudgetExhausted => "budget_exhausted",
            RunStatus::Interrupted => "cancelled",
            RunStatus::CouldNotProbe => "could_not_probe",
        }
    }
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: String,
    pub probe: String,
    pub trace_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: RunStatus,
    /// Why the status is not `complete` (could not probe, budget spent).
    pub status_reason: Option<String>,
    /// One per probed target, in the order asked for.
    pub targets: Vec<TargetResult>,
    pub findings: Vec<Finding>,
    /// The comparison with the baseline, when there was one.
    pub comparison: Option<ComparisonReport>,
    /// Things worth knowing that are not findings ("no baseline yet").
    pub notes: Vec<String>,
    pub verdict: Verdict,
    pub runner: RunnerReport,
    pub budget_usd: Option<f64>,
    pub exit_code: i32,
    /// The targets as configured (provider, model, labels), for reports.
    pub target_info: Vec<TargetInfo>,
    /// Issue 15: where a sequential gate stopped, why, and each metric's sequence there.
    pub sequential: Option<crate::compare::sequential::SequentialReport>,
}

/// A probed target as configured, for reports and the stored run (`targets_json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    pub name: String,
    pub provider: String,
    pub model: String,
    /// Where requests went, secrets redacted: what the terminal shows for an `http` target
    /// (no model). Never serialised: the JSON document and the store leave base URLs out.
    #[serde(skip)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl RunOutcome {
    /// The configured info of the target named `name`.
    pub fn info_of(&self, name: &str) -> Option<&TargetInfo> {
        self.target_info.iter().find(|t| t.name == name)
    }
}

impl RunOutcome {
    /// The result of the first target (the probe's own, or the gate's candidate).
    pub fn primary(&self) -> Option<&TargetResult> {
        self.targets.first()
    }
}

/// A new run id: sortable by time, unique enough to type a prefix of.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::rng().random::<u16>()
    )
}

/// The cases a run sends: every case of the probe, or those `pattern` selects.
pub fn cases_of(probe: &Probe, pattern: Option<&str>) -> Vec<Case> {
    probe
        .golden_sets
        .iter()
        .flat_map(|s| s.cases.iter().cloned())
        .filter(|c| pattern.is_none_or(|p| case_matches(p, &format!("{}/{}", c.set, c.id))))
        .collect()
}

/// The rendered messages of every case a run sends, redacted as stored observations are.
fn prompts_of(cases: &[Case], redactor: &Redactor) -> Vec<(String, String, serde_json::Value)> {
    cases
        .iter()
        .map(|c| {
            let messages: Vec<serde_json::Value> = c
                .messages
                .iter()
                .map(|m| {
                    json!({
                        "role": m.role.as_str(),
                        "content": redactor.apply(&m.content),
                    })
                })
                .collect();
            (
                c.set.clone(),
                c.id.clone(),
                serde_json::Value::Array(messages),
            )
        })
        .collect()
}

/// The cases a run with `options` sends: `--case` applied, and `--samples` overriding
/// every case's own count too. `run --dry-run` shows exactly these.
pub fn planned_cases(probe: &Probe, options: &RunOptions) -> Vec<Case> {
    cases_of(probe, options.case.as_deref())
        .into_iter()
        .map(|mut c| {
            if let Some(n) = options.samples {
                c.samples = Some(n);
            }
            c
        })
        .collect()
}

/// Whether `--case PATTERN` selects the case `set/id`: a glob (`*` any run of characters,
/// `?` one) when the pattern holds either, matched against the whole `set/id`; otherwise a
/// substring of it.
pub fn case_matches(pattern: &str, set_and_id: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return set_and_id.contains(pattern);
    }
    // Iterative glob match, backtracking to the last `*`.
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), set_and_id.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The seed of a run's bootstrap intervals (and reservoir samples), derived from its id
/// (FNV-1a), so that `probity compare A B` recomputes exactly the intervals the end of run
/// `B` printed.
pub fn run_seed(run_id: &str) -> u64 {
    run_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Everything a run needs before its first request: endpoints, cases, budget, the runner,
/// and the run begun in the store.
struct Prepared {
    run_id: String,
    trace_id: String,
    started_at: DateTime<Utc>,
    names: Vec<String>,
    target_info: Vec<TargetInfo>,
    cases: Arc<Vec<Case>>,
    samples: u32,
    total: u64,
    budget: Arc<Budget>,
    remote: Arc<RemoteScorer>,
    seed: u64,
}

/// What driving the run produced: the summaries (and pairs), and the runner's account.
struct Driven {
    targets: Vec<TargetResult>,
    pairs: Option<crate::summary::Pairs>,
    report: RunnerReport,
    /// The caller cancelled the run (Ctrl-C, shutdown) before it ended by itself.
    cancelled: bool,
    /// The sequential gate's watch, when the run is one.
    watch: Option<sequential::Watch>,
}

/// Runs `probe` once and records it in `store`.
pub async fn run_probe(
    probe: &Probe,
    store: &Store,
    options: &RunOptions,
    progress: &dyn Progress,
    cancel: CancellationToken,
) -> Result<RunOutcome, PipelineError> {
    let (prepared, runner) = prepare(probe, store, options)?;
    let span = crate::logs::run_span(&prepared.run_id, &probe.name);
    span.in_scope(|| {
        tracing::info!(
            target: "probity::run",
            requests = prepared.total,
            cases = prepared.cases.len(),
            "run started"
        )
    });
    let driven = drive(probe, store, options, &prepared, runner, progress, cancel)
        .instrument(span.clone())
        .await?;
    let outcome = span.in_scope(|| finish(probe, store, options, prepared, driven))?;
    span.in_scope(|| crate::logs::run_finished(&outcome));
    Ok(outcome)
}

/// Output tokens reserved per request whose target sets no bound.
pub fn output_reservation(probe: &Probe) -> u64 {
    probe
        .output_reservation_tokens
        .unwrap_or(DEFAULT_OUTPUT_BOUND)
}

/// The endpoints of the targets asked for, in that order.
fn endpoints(probe: &Probe, names: &[String]) -> Result<Vec<Endpoint>, PipelineError> {
    let output_reservation = output_reservation(probe);
    let mut endpoints = Vec::new();
    for name in names {
        let target = probe
            .target_named(name)
            .ok_or_else(|| PipelineError::UnknownTarget {
                probe: probe.name.clone(),
                name: name.clone(),
                known: std::iter::once(probe.target.name.as_str())
                    .chain(probe.targets.keys().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        // With a budget, every chat request carries the output bound it reserves for.
        let target = match probe.max_cost_usd {
            Some(_) => bounded(target, output_reservation),
            None => target.clone(),
        };
        endpoints.push(Endpoint {
            provider: Provider::hiding(&target, probe.timeout, &probe.secrets)?,
            target,
        });
    }
    Ok(endpoints)
}

/// Builds what the run needs, then begins it in the store (last, so that nothing that can
/// fail here leaves a run `running`).
fn prepare(
    probe: &Probe,
    store: &Store,
    options: &RunOptions,
) -> Result<(Prepared, Runner), PipelineError> {
    let names = if options.targets.is_empty() {
        vec![probe.target.name.clone()]
    } else {
        options.targets.clone()
    };
    let endpoints = endpoints(probe, &names)?;
    let redactor = Arc::new(Redactor::for_probe(probe));
    let target_info: Vec<TargetInfo> = endpoints
        .iter()
        .map(|e| TargetInfo {
            name: e.target.name.clone(),
            provider: e.target.provider.as_str().to_string(),
            model: e.target.model.clone(),
            // An `http` target has its own URL, not a base URL.
            base_url: Some(redactor.apply_owned(match &e.target.http {
                Some(http) => http.url.clone(),
                None => e.target.base_url.clone(),
            }))
            .filter(|u| !u.is_empty()),
            labels: e.target.labels.clone(),
        })
        .collect();

    let started_at = Utc::now();
    let run_id = new_run_id(started_at);
    let trace_id = new_trace_id();
    let samples = options.samples.unwrap_or(probe.samples);
    let cases = Arc::new(planned_cases(probe, options));
    let total = crate::runner::planned_requests(&cases, samples, endpoints.len());
    let budget = Arc::new(Budget::new(probe.max_cost_usd));
    let runner = Runner {
        run_id: run_id.clone(),
        trace_id: trace_id.clone(),
        cases: cases.clone(),
        endpoints: Arc::new(endpoints),
        settings: Settings {
            concurrency: options.concurrency.unwrap_or(probe.concurrency),
            requests_per_second: probe.requests_per_second,
            timeout: probe.timeout,
            retries: probe.retries,
            output_reservation_tokens: output_reservation(probe),
        },
        budget: budget.clone(),
        redactor,
    };
    let remote = Arc::new(RemoteScorer::new(
        probe,
        budget.clone(),
        runner.redactor.clone(),
    )?);
    let seed = run_seed(&run_id);
    store.begin_run(&NewRun {
        id: run_id.clone(),
        probe: probe.name.clone(),
        started_at,
        targets: json!(target_info),
        trace_id: trace_id.clone(),
    })?;
    // What was asked, kept before anything is sent (`export` shows it beside each answer),
    // so a killed run keeps it too. Losing it loses no result: logged, not fatal.
    if let Err(e) = store.record_prompts(&run_id, &prompts_of(&cases, &runner.redactor)) {
        tracing::warn!("could not keep the prompts of run {run_id}: {e}");
    }
    let prepared = Prepared {
        run_id,
        trace_id,
        started_at,
        names,
        target_info,
        cases,
        samples,
        total,
        budget,
        remote,
        seed,
    };
    Ok((prepared, runner))
}

/// Sends the plan, stores every observation as it arrives, scores answers (locally at once,
/// remotely concurrently) and folds everything into the summaries.
async fn drive(
    probe: &Probe,
    store: &Store,
    options: &RunOptions,
    prepared: &Prepared,
    runner: Runner,
    progress: &dyn Progress,
    cancel: CancellationToken,
) -> Result<Driven, PipelineError> {
    let run_id = prepared.run_id.as_str();
    let writer = store.writer()?;
    let cases = &prepared.cases;
    let mut accumulator =
        Accumulator::new(cases, &prepared.names, probe.min_samples, prepared.seed);
    let scorer = Arc::new(
        Scorer::new(&probe.refusal_phrases).with_retrieval(
            probe.retrieval.min_relevance,
            std::iter::once(&probe.target)
                .chain(probe.targets.values())
                .filter(|t| t.retrieves())
                .map(|t| t.name.clone()),
        ),
    );
    let index: std::collections::HashMap<(&str, &str), &Case> = cases
        .iter()
        .map(|c| ((c.set.as_str(), c.id.as_str()), c))
        .collect();
    let case_of = |obs: &Observation| {
        index
            .get(&(obs.set.as_str(), obs.case_id.as_str()))
            .copied()
    };

    // A sequential gate watches the pairs of its two targets round by round.
    let mut watch = (sequential_wanted(probe, options) && prepared.names.len() == 2).then(|| {
        accumulator.keep_fresh_pairs();
        sequential::Watch::new(probe, cases, prepared.samples)
    });

    progress.start(prepared.total);
    let clock = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Observation>(1024);
    // Stopped by the caller, or here when the store can no longer keep what comes back.
    let stop = cancel.child_token();
    let (rounds, hold) = match &watch {
        Some(w) => {
            let (rounds, hold) = tokio::sync::watch::channel(w.allowed());
            (Some(rounds), Some(hold))
        }
        None => (None, None),
    };
    let run = tokio::spawn(
        runner
            .run_paced(prepared.samples, tx, stop.clone(), hold)
            .in_current_span(),
    );
    // Observations are stored the moment they arrive — with their scores when scoring is
    // local and instant; answers that need a judge or embeddings are stored first and scored
    // concurrently, their scores written when they come.
    let mut remote_scoring = tokio::task::JoinSet::new();
    let mut awaiting = std::collections::HashMap::new();
    let mut sink = Sink {
        run_id,
        writer: &writer,
        accumulator: &mut accumulator,
        pending: Vec::new(),
    };
    loop {
        tokio::select! {
            received = rx.recv() => {
                let Some(obs) = received else { break };
                progress.observed(&obs);
                if let Some(w) = watch.as_mut() {
                    w.settled(&obs);
                }
                match case_of(&obs).filter(|_| obs.is_ok() && obs.final_attempt) {
                    Some(case) if prepared.remote.wants(case, &obs) => {
                        sink.awaiting_scores(&obs);
                        let (case, scorer, remote) =
                            (case.clone(), scorer.clone(), prepared.remote.clone());
                        let kept = obs.clone();
                        let task = remote_scoring.spawn(async move {
                            let mut scores = scorer.score(&case, &obs);
                            scores.extend(remote.score(&case, &obs).await);
                            (obs, scores)
                        }.in_current_span());
                        awaiting.insert(task.id(), kept);
                    }
                    Some(case) => {
                        let scores = scorer.score(case, &obs);
                        sink.scored(obs, scores);
                    }
                    None => sink.unscored(obs),
                }
                if rx.is_empty() {
                    sink.flush();
                    if writer.failed() && !stop.is_cancelled() {
                        tracing::error!("the store stopped accepting observations: no more requests are sent");
                        stop.cancel();
                    }
                }
            }
            Some(done) = remote_scoring.join_next_with_id(), if !remote_scoring.is_empty() => {
                sink.settle(&mut awaiting, done);
                sink.flush();
            }
        }
        if let Some(w) = watch.as_mut() {
            if w.feed(sink.accumulator.take_fresh_pairs()) && !stop.is_cancelled() {
                tracing::info!("sequential gate decided: no more requests are sent");
                stop.cancel();
            }
            if let Some(rounds) = &rounds {
                rounds.send_if_modified(|allowed| {
                    let now = w.allowed();
                    (now != *allowed).then(|| *allowed = now).is_some()
                });
            }
        }
    }
    while let Some(done) = remote_scoring.join_next_with_id().await {
        sink.settle(&mut awaiting, done);
    }
    sink.flush();
    let mut report = run.await.map_err(|e| PipelineError::Task(e.to_string()))?;
    // Stopped by the sequential gate, not by the caller or the store: not an interruption.
    if watch.as_ref().is_some_and(sequential::Watch::stopped_early)
        && !cancel.is_cancelled()
        && !writer.failed()
    {
        report.interrupted = false;
    }
    // Scoring calls may finish after the last request: count what they spent too.
    report.spent_usd = prepared.budget.spent();
    let elapsed = clock.elapsed();
    progress.finish();
    // Finishing joins the writer's thread: keep that off the async workers.
    let written = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| PipelineError::Task(e.to_string()))?;
    if let Err(e) = written {
        // Not left `running` as if killed: the run ended, and says why (if the store
        // still takes that much).
        let end = RunEnd {
            status: "error".into(),
            verdict: None,
            summary: json!({ "error": e.to_string() }),
            evidence: None,
            exit_code: exit::COULD_NOT_PROBE,
        };
        if let Err(also) = store.finish_run(run_id, &end) {
            tracing::error!("the run could not be marked ended either: {also}");
        }
        return Err(e.into());
    }
    let (mut targets, pairs) = accumulator.finish(elapsed);
    for t in &mut targets {
        t.summary.figures.rate_limited_ms = report
            .rate_limited_ms_by_target
            .get(&t.summary.target)
            .copied()
            .unwrap_or(0);
    }
    Ok(Driven {
        targets,
        pairs,
        report,
        cancelled: cancel.is_cancelled(),
        watch,
    })
}

/// Judges what was driven, stores the run's end and prunes old runs.
fn finish(
    probe: &Probe,
    store: &Store,
    options: &RunOptions,
    prepared: Prepared,
    driven: Driven,
) -> Result<RunOutcome, PipelineError> {
    let Driven {
        targets,
        pairs,
        report,
        cancelled,
        watch,
    } = driven;
    let planned = |set: &str, id: &str| {
        prepared
            .cases
            .iter()
            .find(|c| c.set == set && c.id == id)
            .map_or(0, |c| u64::from(c.samples.unwrap_or(prepared.samples)))
    };
    let (status, status_reason) = status_of(
        &targets,
        &report,
        &status::Expected {
            min_samples: probe.min_samples,
            total: prepared.total,
            cancelled,
            planned: &planned,
        },
    );
    // A run that probed nothing usable is not judged: its figures would only mislead.
    let nothing_answered = targets.iter().any(|t| t.summary.figures.answered == 0);
    let evaluation = if status == RunStatus::CouldNotProbe || nothing_answered {
        evaluate::Evaluation::default()
    } else {
        evaluate::evaluate(
            probe,
            store,
            &options.baseline,
            &targets,
            pairs.as_ref(),
            prepared.seed,
            options.case.is_some(),
        )?
    };
    let mut findings = evaluation.findings;
    let mut notes = evaluation.notes;
    if watch.is_none() && (options.sequential || probe.drift.sequential) {
        notes.push(
            "drift.sequential: no baseline target was probed alongside to pair with, so the \
             run sent its fixed plan (the sequential gate is `probity gate --baseline TARGET`)"
                .to_string(),
        );
    }
    let sequential_report = watch.map(|w| {
        let cut_short = status != RunStatus::Complete;
        w.report(&report, &targets, prepared.total, cut_short)
    });
    let judged = match (&sequential_report, targets.first()) {
        (Some(seq), Some(primary)) if evaluation.verdict.is_some() => {
            let from_comparison = evaluation
                .comparison
                .as_ref()
                .map(|c| c.comparison.findings.clone())
                .unwrap_or_default();
            Some(sequential::judge(
                &mut findings,
                &from_comparison,
                seq,
                &primary.summary.target,
            ))
        }
        _ => None,
    };
    let verdict = match judged
        .or(evaluation.verdict)
        .unwrap_or(Verdict::InsufficientData)
    {
        // Could not probe is a failure (DESIGN.md's verdict), and says why.
        _ if status == RunStatus::CouldNotProbe => {
            let target = targets.first().map_or("", |t| t.summary.target.as_str());
            let reason = status_reason
                .as_deref()
                .unwrap_or("nothing usable came back");
            findings.insert(0, Finding::could_not_probe(target, reason));
            Verdict::Fail
        }
        // Cut short, what it got may still show a failure, but never a pass.
        Verdict::Pass | Verdict::Warn if status == RunStatus::Interrupted => {
            Verdict::InsufficientData
        }
        // A sequential verdict decided every metric itself (undecided is insufficient).
        v if judged.is_some() => v,
        v if options.gate => v.for_gate(evaluation.comparison.as_ref().map(|c| &c.comparison)),
        v => v,
    };
    let exit_code = match (status, verdict) {
        (RunStatus::Interrupted, _) => exit::INTERRUPTED,
        (RunStatus::CouldNotProbe, _) => exit::COULD_NOT_PROBE,
        (_, Verdict::Fail | Verdict::InsufficientData) => exit::VERDICT_FAILED,
        (_, Verdict::Warn) if options.fail_on_warning => exit::VERDICT_FAILED,
        _ => exit::PASSED,
    };
    let run_id = prepared.run_id;
    let outcome = RunOutcome {
        run_id: run_id.clone(),
        probe: probe.name.clone(),
        trace_id: prepared.trace_id,
        started_at: prepared.started_at,
        finished_at: Utc::now(),
        status,
        status_reason,
        targets,
        findings,
        comparison: evaluation.comparison,
        notes,
        verdict,
        runner: report,
        budget_usd: probe.max_cost_usd,
        exit_code,
        target_info: prepared.target_info,
        sequential: sequential_report,
    };
    store.finish_run(
        &run_id,
        &RunEnd {
            status: status.as_str().to_string(),
            verdict: Some(verdict.as_str().to_string()),
            summary: crate::report::json::run_document(&outcome),
            evidence: Some(evidence_json(&outcome.targets)),
            exit_code,
        },
    )?;
    prune(probe, store);
    Ok(outcome)
}

/// Whether the run is to be a sequential gate: asked for (`gate --sequential`) or set in the
/// probe (`drift.sequential`), against a baseline target probed alongside.
fn sequential_wanted(probe: &Probe, options: &RunOptions) -> bool {
    (options.sequential || probe.drift.sequential)
        && matches!(options.baseline, BaselineChoice::Target(_))
}

/// Drops runs older than `store.retention_days`; a failure is only logged.
fn prune(probe: &Probe, store: &Store) {
    let Some(days) = probe.store.retention_days else {
        return;
    };
    let Some(cutoff) = chrono::Duration::try_days(i64::from(days))
        .and_then(|age| Utc::now().checked_sub_signed(age))
    else {
        // Longer ago than the calendar reaches: nothing is that old.
        return;
    };
    match store.prune(&probe.name, cutoff) {
        Ok(n) if n > 0 => {
            tracing::info!("pruned {n} runs of {} older than {days} days", probe.name)
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(
            "could not prune old runs in {}: {e}",
            display_path(store.path())
        ),
    }
}
