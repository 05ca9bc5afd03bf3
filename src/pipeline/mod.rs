//! One run of one probe, end to end, in the order of DESIGN.md: plan → runner (through the
//! providers) → store (as observations arrive) → score → summary → compare → verdict. The
//! CLI, the demo, the gate and the daemon all call this; none of them re-implements a step.

mod evaluate;

pub use evaluate::{BaselineChoice, ComparisonReport, evidence_json, target_evidence};

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::compare::{BaselineError, Finding, Verdict};
use crate::config::{Probe, display_path};
use crate::exit;
use crate::golden::Case;
use crate::provider::{Provider, ProviderError};
use crate::runner::{
    Budget, DEFAULT_OUTPUT_BOUND, Endpoint, Observation, Redactor, Runner, RunnerReport, Settings,
    bounded, new_trace_id,
};
use crate::score::{RemoteScorer, Score, Scorer};
use crate::store::{NewRun, RunEnd, Store, StoreError, WriteOp};
use crate::summary::{Accumulator, TargetResult};

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
    #[error("a background task of the run failed: {0}")]
    Task(String),
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
    /// Every planned sample was sent.
    Complete,
    /// The budget ran out before every sample was sent.
    BudgetExhausted,
    /// Stopped early (Ctrl-C, shutdown).
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
            RunStatus::Interrupted => "interrupted",
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
    pub target_info: serde_json::Value,
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

/// Whether `--case PATTERN` selects the case `set/id`: a glob (`*` any run of characters,
/// `?` one) when the pattern holds either, matched against the whole `set/id`; otherwise a
/// substring of it.
pub fn case_matches(pattern: &str, set_and_id: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return set_and_id.contains(pattern);
    }
    // Iterative glob match with backtracking to the last `*`: linear enough for ids.
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

/// Runs `probe` once and records it in `store`.
pub async fn run_probe(
    probe: &Probe,
    store: &Store,
    options: &RunOptions,
    progress: &dyn Progress,
    cancel: CancellationToken,
) -> Result<RunOutcome, PipelineError> {
    let names = if options.targets.is_empty() {
        vec![probe.target.name.clone()]
    } else {
        options.targets.clone()
    };
    let mut endpoints = Vec::new();
    for name in &names {
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
            Some(_) => bounded(target, DEFAULT_OUTPUT_BOUND),
            None => target.clone(),
        };
        endpoints.push(Endpoint {
            provider: Provider::new(&target, probe.timeout)?,
            target,
        });
    }
    let target_info = json!(
        endpoints
            .iter()
            .map(|e| json!({
                "name": e.target.name,
                "provider": e.target.provider.as_str(),
                "model": e.target.model,
                "labels": e.target.labels,
            }))
            .collect::<Vec<_>>()
    );

    let started_at = Utc::now();
    let run_id = new_run_id(started_at);
    let trace_id = new_trace_id();
    store.begin_run(&NewRun {
        id: run_id.clone(),
        probe: probe.name.clone(),
        started_at,
        targets: target_info.clone(),
        trace_id: trace_id.clone(),
    })?;
    let writer = store.writer()?;

    let cases = Arc::new(cases_of(probe, options.case.as_deref()));
    let samples = options.samples.unwrap_or(probe.samples);
    let cases_for_plan = match options.samples {
        // `--samples` overrides every case's own count too.
        Some(n) => Arc::new(
            cases
                .iter()
                .cloned()
                .map(|mut c| {
                    c.samples = Some(n);
                    c
                })
                .collect::<Vec<_>>(),
        ),
        None => cases.clone(),
    };
    let total = crate::runner::plan(&cases_for_plan, samples, endpoints.len()).len() as u64;
    let budget = Arc::new(Budget::new(probe.max_cost_usd));
    let runner = Runner {
        run_id: run_id.clone(),
        trace_id: trace_id.clone(),
        cases: cases_for_plan.clone(),
        endpoints: Arc::new(endpoints),
        settings: Settings {
            concurrency: options.concurrency.unwrap_or(probe.concurrency),
            requests_per_second: probe.requests_per_second,
            timeout: probe.timeout,
            retries: probe.retries,
        },
        budget: budget.clone(),
        redactor: Arc::new(Redactor::for_probe(probe)),
    };
    let seed = run_seed(&run_id);
    let mut accumulator = Accumulator::new(&cases_for_plan, &names, probe.min_samples, seed);
    let scorer = Scorer::new(&probe.refusal_phrases);
    let index: std::collections::HashMap<(&str, &str), &Case> = cases_for_plan
        .iter()
        .map(|c| ((c.set.as_str(), c.id.as_str()), c))
        .collect();
    let case_of = |obs: &Observation| {
        index
            .get(&(obs.set.as_str(), obs.case_id.as_str()))
            .copied()
    };

    let remote = Arc::new(RemoteScorer::new(
        probe,
        budget.clone(),
        runner.redactor.clone(),
    )?);
    let scorer = Arc::new(scorer);

    progress.start(total);
    let clock = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Observation>(1024);
    // Stopped by the caller, or here when the store can no longer keep what comes back.
    let stop = cancel.child_token();
    let run = tokio::spawn(runner.run(samples, tx, stop.clone()));
    // Observations are stored the moment they arrive — with their scores when scoring is
    // local and instant; answers that need a judge or embeddings are stored first and scored
    // concurrently, their scores written when they come.
    let mut remote_scoring = tokio::task::JoinSet::new();
    let mut sink = Sink {
        run_id: &run_id,
        writer: &writer,
        accumulator: &mut accumulator,
        pending: Vec::new(),
    };
    loop {
        tokio::select! {
            received = rx.recv() => {
                let Some(obs) = received else { break };
                progress.observed(&obs);
                match case_of(&obs).filter(|_| obs.is_ok() && obs.final_attempt) {
                    Some(case) if RemoteScorer::needed(case) => {
                        sink.pending.push(WriteOp::Observation(Box::new(obs.clone()), None));
                        let (case, scorer, remote) = (case.clone(), scorer.clone(), remote.clone());
                        remote_scoring.spawn(async move {
                            let mut scores = scorer.score(&case, &obs);
                            scores.extend(remote.score(&case, &obs).await);
                            (obs, scores)
                        });
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
            Some(done) = remote_scoring.join_next(), if !remote_scoring.is_empty() => {
                if let Ok((obs, scores)) = done {
                    sink.scored_later(obs, scores);
                }
                sink.flush();
            }
        }
    }
    while let Some(done) = remote_scoring.join_next().await {
        if let Ok((obs, scores)) = done {
            sink.scored_later(obs, scores);
        }
    }
    sink.flush();
    let mut report = run.await.map_err(|e| PipelineError::Task(e.to_string()))?;
    // Scoring calls may finish after the last request: count what they spent too.
    report.spent_usd = budget.spent();
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
        if let Err(also) = store.finish_run(&run_id, &end) {
            tracing::error!("the run could not be marked ended either: {also}");
        }
        return Err(e.into());
    }

    let (targets, pairs) = accumulator.finish(elapsed);
    let (status, status_reason) = status_of(&targets, &report, probe.min_samples);
    // A run that probed nothing usable is not judged: its figures would only mislead.
    let evaluation = if status == RunStatus::CouldNotProbe {
        evaluate::Evaluation::default()
    } else {
        evaluate::evaluate(
            probe,
            store,
            &options.baseline,
            &targets,
            pairs.as_ref(),
            seed,
        )?
    };
    let verdict = evaluation.verdict.unwrap_or(Verdict::InsufficientData);
    let exit_code = match (status, verdict) {
        (RunStatus::CouldNotProbe, _) => exit::COULD_NOT_PROBE,
        (_, Verdict::Fail | Verdict::InsufficientData) => exit::VERDICT_FAILED,
        _ => exit::PASSED,
    };
    let outcome = RunOutcome {
        run_id: run_id.clone(),
        probe: probe.name.clone(),
        trace_id,
        started_at,
        finished_at: Utc::now(),
        status,
        status_reason,
        targets,
        findings: evaluation.findings,
        comparison: evaluation.comparison,
        notes: evaluation.notes,
        verdict,
        runner: report,
        budget_usd: probe.max_cost_usd,
        exit_code,
        target_info,
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
    if let Some(days) = probe.store.retention_days {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
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
    Ok(outcome)
}

/// Where every observation ends: the store and the summary. Writes wait in `pending` only
/// while more observations are already queued behind them, so under load the store's thread
/// is woken once per burst, and when idle nothing waits at all.
struct Sink<'a> {
    run_id: &'a str,
    writer: &'a crate::store::Writer,
    accumulator: &'a mut Accumulator,
    pending: Vec<WriteOp>,
}

/// Most writes held back before they go to the store anyway.
const MAX_PENDING: usize = 64;

impl Sink<'_> {
    /// Not scored (an error, a retried attempt): counted and stored.
    fn unscored(&mut self, obs: Observation) {
        self.accumulator.add(&obs, None);
        self.push(WriteOp::Observation(Box::new(obs), None));
    }

    /// Scored on arrival: counted and stored with its scores in one write.
    fn scored(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Observation(Box::new(obs), Some(scores)));
    }

    /// Stored on arrival, scored later (judge, embeddings): counted now, scores added.
    fn scored_later(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Scores(obs.seq, scores));
    }

    fn push(&mut self, write: WriteOp) {
        self.pending.push(write);
        if self.pending.len() >= MAX_PENDING {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.writer
                .write_all(self.run_id, std::mem::take(&mut self.pending));
        }
    }
}

/// Whether the run probed enough to judge, and why not.
fn status_of(
    targets: &[TargetResult],
    report: &RunnerReport,
    min_samples: u32,
) -> (RunStatus, Option<String>) {
    for t in targets {
        let f = &t.summary.figures;
        if f.samples == 0 {
            let why = if report.skipped_budget > 0 {
                "the budget could not cover a single request"
            } else {
                "nothing was sent"
            };
            return (
                RunStatus::CouldNotProbe,
                Some(format!("target `{}`: {why}", t.summary.target)),
            );
        }
        if f.answered == 0 {
            let classes: Vec<String> = f.errors.iter().map(|(c, n)| format!("{n} {c}")).collect();
            return (
                RunStatus::CouldNotProbe,
                Some(format!(
                    "target `{}`: every request failed ({})",
                    t.summary.target,
                    classes.join(", ")
                )),
            );
        }
        if report.skipped_budget > 0 {
            if let Some(c) = t
                .cases
                .iter()
                .find(|c| c.figures.answered < u64::from(min_samples))
            {
                return (
                    RunStatus::CouldNotProbe,
                    Some(format!(
                        "the budget ran out before case `{}` got {min_samples} answered sample(s)",
                        c.id
                    )),
                );
            }
        }
    }
    if report.interrupted {
        (RunStatus::Interrupted, None)
    } else if report.skipped_budget > 0 {
        (
            RunStatus::BudgetExhausted,
            Some(format!(
                "{} samples not sent: budget spent",
                report.skipped_budget
            )),
        )
    } else {
        (RunStatus::Complete, None)
    }
}
