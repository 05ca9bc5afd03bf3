//! The runner: sends cases × samples × targets with bounded concurrency, absolute-time
//! pacing, per-request timeouts, bounded retries and a cost budget, and emits one
//! `Observation` per attempt as it happens. It knows nothing of scoring or reports.
//!
//! With a rate set, latency is measured from each sample's *intended* start, `start + i /
//! rate`, so a slow endpoint that makes requests queue shows up in the figures instead of
//! hiding behind the pacing (coordinated omission). Without one there is no schedule to be
//! late against: the clock starts when the sample's concurrency slot is granted, so the
//! wait for a slot — the run's own limit, not the endpoint's doing — is not counted, and
//! the samples of a run stay independent of one another.
//!
//! A target that answers 429 or 503 with `Retry-After` (or `retry-after-ms`) is paused: no
//! new request goes to it until the time has passed (those in flight finish), the pause is
//! reported (`rate_limited_ms`), and a sample it held back is measured from the end of the
//! pause and flagged `delayed`. A target whose first attempts all fail to connect is given
//! up on (`unreachable`) instead of being retried for the whole run.

mod budget;
mod observation;
mod plan;
mod redact;
mod target_state;
pub(crate) mod timings;
mod tokens;
mod trace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use budget::{Budget, DEFAULT_OUTPUT_BOUND, Reservation, bounded, estimate_cost, output_bound};
pub use observation::{Observation, Status};
pub use plan::{WorkItem, plan, planned_requests};
pub use redact::{REDACTED, Redactor};
pub use timings::Timings;
pub use tokens::{estimate_tokens, prompt_bound, token_bound, truncate_to_tokens};
pub use trace::{new_span_id, new_trace_id};

use crate::config::{Retries, Target};
use crate::golden::Case;
use crate::provider::{ChatRequest, ErrorClass, Failure, Provider, Reply};
use target_state::TargetState;

/// A target and the provider that speaks to it (one HTTP client per target).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub target: Target,
    pub provider: Provider,
}

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Requests in flight per target.
    pub concurrency: usize,
    /// Requests started per second per target, on an absolute schedule.
    pub requests_per_second: Option<f64>,
    /// Longest wait for one complete answer.
    pub timeout: Duration,
    pub retries: Retries,
    /// Output tokens reserved for a request whose target sets no output bound: sent as
    /// `max_tokens` to chat targets (see `bounded`), only assumed for `http` ones.
    pub output_reservation_tokens: u64,
}

/// Longest gap between two paced requests: that of the smallest rate validation allows
/// (1e-4 per second). A smaller or broken rate must not panic or overflow the schedule.
const MAX_INTERVAL: Duration = Duration::from_secs(10_000);

/// The gap between paced requests for `rps` per target over `targets` targets; `None`
/// without a rate. Never panics: a rate too small (or not positive) gets `MAX_INTERVAL`.
pub fn pacing_interval(rps: Option<f64>, targets: usize) -> Option<Duration> {
    let per_second = rps? * targets.max(1) as f64;
    let every = if per_second > 0.0 {
        Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(MAX_INTERVAL)
    } else {
        MAX_INTERVAL
    };
    Some(every.min(MAX_INTERVAL))
}

/// Longest `Retry-After` waited for; a server asking for more gets no retry (retrying
/// sooner than it asked would only waste an attempt).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// What the runner did, for the run record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunnerReport {
    /// Attempts actually sent.
    pub sent: u64,
    /// Samples not sent because the budget could not cover them.
    pub skipped_budget: u64,
    /// Stopped early (Ctrl-C, shutdown) before every sample was sent.
    pub interrupted: bool,
    pub elapsed: Duration,
    pub spent_usd: f64,
    /// Time every target spent paused at its server's request (`Retry-After` on a 429 or
    /// 503), summed over targets, in ms.
    pub rate_limited_ms: u64,
    /// The same, per target name.
    pub rate_limited_ms_by_target: BTreeMap<String, u64>,
    /// Samples not sent because their target was given up on as unreachable.
    pub skipped_unreachable: u64,
    /// Why a target was given up on: its first attempts all failed to connect, e.g.
    /// "target `default`: could not reach http://127.0.0.1:19199/v1/chat/completions:
    /// connection refused" (secrets redacted). The run could not probe.
    pub unreachable: Option<String>,
}

impl RunnerReport {
    fn count(&mut self, done: Result<u64, tokio::task::JoinError>) {
        match done {
            Ok(sent) => self.sent += sent,
            // A panicking task is a bug; it must not take the run's other results with it.
            Err(e) => tracing::error!("a request task failed: {e}"),
        }
    }
}

/// Everything one run needs.
pub struct Runner {
    pub run_id: String,
    pub trace_id: String,
    pub cases: Arc<Vec<Case>>,
    pub endpoints: Arc<Vec<Endpoint>>,
    pub settings: Settings,
    pub budget: Arc<Budget>,
    pub redactor: Arc<Redactor>,
}

/// Numbers the observations of a run in emission order and sends them on.
struct Emitter {
    tx: mpsc::Sender<Observation>,
    seq: AtomicU64,
    redactor: Arc<Redactor>,
    run_start: Instant,
}

impl Emitter {
    async fn emit(&self, mut obs: Observation) {
        obs.seq = self.seq.fetch_add(1, Ordering::Relaxed);
        obs.output = obs.output.map(|t| self.redactor.apply_owned(t));
        obs.error = obs.error.map(|t| self.redactor.apply_owned(t));
        obs.context = obs
            .context
            .into_iter()
            .map(|t| self.redactor.apply_owned(t))
            .collect();
        // A closed channel means the consumer stopped (it reports why); nothing to do here.
        let _ = self.tx.send(obs).await;
    }

    fn ms_since_start(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.run_start).as_secs_f64() * 1000.0
    }
}

/// One sample's facts, shared by its attempts.
struct SampleJob {
    item: WorkItem,
    /// Where its latency is measured from.
    intended: Instant,
    /// Held back by a pause its target's server asked for (`intended` is then its end).
    delayed: bool,
}

impl Runner {
    /// Sends every planned request; observations go to `tx` as they happen. Returns when all
    /// are done or, after `cancel`, when those in flight are.
    pub async fn run(
        self,
        samples: u32,
        tx: mpsc::Sender<Observation>,
        cancel: CancellationToken,
    ) -> RunnerReport {
        self.run_paced(samples, tx, cancel, None).await
    }

    /// [`Runner::run`], held back by `rounds` when given (issue 15, the sequential gate): a
    /// sample with index `s` is not sent before `rounds` reads at least `s`, so the runner
    /// stays at most as far ahead of the gate's decisions as the gate allows. A target
    /// given up on as unreachable lifts the hold (that run cannot be decided anyway).
    pub async fn run_paced(
        self,
        samples: u32,
        tx: mpsc::Sender<Observation>,
        cancel: CancellationToken,
        mut rounds: Option<tokio::sync::watch::Receiver<u32>>,
    ) -> RunnerReport {
        let items = plan(&self.cases, samples, self.endpoints.len());
        let targets = self.endpoints.len().max(1);
        let slots = Arc::new(Semaphore::new(
            self.settings.concurrency.max(1).saturating_mul(targets),
        ));
        let interval = pacing_interval(self.settings.requests_per_second, targets);
        let start = Instant::now();
        // Pauses push the rest of the schedule back, so a pause is not followed by a burst.
        let mut shift = Duration::ZERO;
        let emitter = Arc::new(Emitter {
            tx,
            seq: AtomicU64::new(0),
            redactor: self.redactor.clone(),
            run_start: start,
        });
        let states: Arc<Vec<TargetState>> = Arc::new(
            (0..self.endpoints.len())
                .map(|_| TargetState::default())
                .collect(),
        );
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        let mut report = RunnerReport::default();
        let mut paced = 0u32;
        'items: for item in items {
            if cancel.is_cancelled() {
                report.interrupted = true;
                break;
            }
            // The sequential gate's hold (see `run_paced`); re-checked now and then so an
            // unreachable target found meanwhile lifts it.
            if let Some(rx) = rounds.as_mut() {
                let held_from = Instant::now();
                while *rx.borrow() < item.sample && !states.iter().any(TargetState::is_unreachable)
                {
                    tokio::select! {
                        changed = rx.changed() => if changed.is_err() { break },
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = cancel.cancelled() => {
                            report.interrupted = true;
                            break 'items;
                        }
                    }
                }
                // A hold is the gate's doing, not the endpoint's: the pacing schedule moves
                // back by it, so no sample is measured from a start it was kept from.
                shift = shift.saturating_add(held_from.elapsed());
            }
            if states[item.target].is_unreachable() {
                states[item.target].skip();
                continue;
            }
            let Some(reservation) = this.budget.reserve(this.worst_cost(item)) else {
                // Not sent, so it takes no place in the pacing schedule.
                report.skipped_budget += 1;
                let now = Instant::now();
                let obs = this.skipped(&emitter, item, now, now, 1);
                crate::logs::not_sent(&obs);
                emitter.emit(obs).await;
                continue;
            };
            let mut delayed = false;
            let intended = match interval {
                Some(every) => {
                    let offset = every.saturating_mul(paced).saturating_add(shift);
                    let mut at = start.checked_add(offset).unwrap_or(start + MAX_INTERVAL);
                    paced = paced.saturating_add(1);
                    if let Some(until) = states[item.target].paused_until(at) {
                        shift = shift.saturating_add(until - at);
                        at = until;
                        delayed = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = cancel.cancelled() => {
                            this.budget.settle(reservation, 0.0);
                            report.interrupted = true;
                            break;
                        }
                    }
                    Some(at)
                }
                None => None,
            };
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit,
                _ = cancel.cancelled() => {
                    this.budget.settle(reservation, 0.0);
                    report.interrupted = true;
                    break;
                }
            };
            let Ok(permit) = permit else { break };
            let intended = intended.unwrap_or_else(Instant::now);
            let (this, emitter, cancel) = (this.clone(), emitter.clone(), cancel.clone());
            let states = states.clone();
            tasks.spawn(
                async move {
                    let job = SampleJob {
                        item,
                        intended,
                        delayed,
                    };
                    let state = &states[item.target];
                    let sent = this
                        .sample(&emitter, job, reservation, state, &cancel)
                        .await;
                    drop(permit);
                    sent
                }
                .in_current_span(),
            );
            // Reap what has finished, so memory follows the concurrency, not the run's length.
            while let Some(done) = tasks.try_join_next() {
                report.count(done);
            }
        }
        while let Some(done) = tasks.join_next().await {
            report.count(done);
        }
        // Cancelled after the last sample was dispatched: a retry may have been cut short.
        report.interrupted |= cancel.is_cancelled();
        report.elapsed = start.elapsed();
        report.spent_usd = this.budget.spent();
        let now = Instant::now();
        for (endpoint, state) in this.endpoints.iter().zip(states.iter()) {
            let ms = u64::try_from(state.paused_total(now).as_millis()).unwrap_or(u64::MAX);
            report.rate_limited_ms = report.rate_limited_ms.saturating_add(ms);
            report.skipped_unreachable += state.skipped();
            report
                .rate_limited_ms_by_target
                .insert(endpoint.target.name.clone(), ms);
            if report.unreachable.is_none() {
                report.unreachable = state.unreachable().map(|why| {
                    this.redactor
                        .apply_owned(format!("target `{}`: {why}", endpoint.target.name))
                });
            }
        }
        report
    }

    /// All attempts of one sample; returns how many were sent. After `cancel` the attempt
    /// in flight finishes, and no retry is sent.
    async fn sample(
        &self,
        emitter: &Emitter,
        mut job: SampleJob,
        first: Reservation,
        state: &TargetState,
        cancel: &CancellationToken,
    ) -> u64 {
        let (case, endpoint) = (&self.cases[job.item.case], &self.endpoints[job.item.target]);
        let retries = self.settings.retries;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(retries.base_delay)
            .with_max_delay(retries.max_delay)
            .with_max_times(retries.max as usize)
            .with_jitter()
            .build();
        let mut reservation = Some(first);
        let mut attempt = 1;
        loop {
            // No new request while the server's pause lasts (it may be extended meanwhile).
            while let Some(until) = state.paused_until(Instant::now()) {
                tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => {}
                    _ = cancel.cancelled() => {
                        if let Some(r) = reservation.take() {
                            self.budget.settle(r, 0.0);
                        }
                        return u64::from(attempt - 1);
                    }
                }
                // A sample held back before its first attempt is measured from the pause's
                // end: the pause is the server's request, reported apart, not latency.
                if attempt == 1 && until > job.intended {
                    job.intended = until;
                    job.delayed = true;
                }
            }
            // A sample not yet sent is not sent to a target given up on; a retry already
            // decided goes ahead (its earlier attempt is not the sample's last).
            if attempt == 1 && state.is_unreachable() {
                if let Some(r) = reservation.take() {
                    self.budget.settle(r, 0.0);
                }
                state.skip();
                return 0;
            }
            let reserved = match reservation.take() {
                Some(r) => r,
                None => match self.budget.reserve(self.worst_cost(job.item)) {
                    Some(r) => r,
                    None => {
                        let obs =
                            self.skipped(emitter, job.item, job.intended, Instant::now(), attempt);
                        crate::logs::not_sent(&obs);
                        emitter.emit(obs).await;
                        return u64::from(attempt - 1);
                    }
                },
            };
            let span_id = new_span_id();
            let traceparent = trace::traceparent(&self.trace_id, &span_id);
            let span = crate::logs::request_span(
                &case.set,
                &case.id,
                job.item.sample,
                attempt,
                &endpoint.target.name,
                &traceparent,
            );
            let request = ChatRequest {
                case_id: &case.id,
                messages: &case.messages,
                vars: &case.vars,
                context: &case.context,
                headers: trace::headers(&self.run_id, &self.trace_id, &span_id),
            };
            let started_at = Utc::now();
            // The attempt's network phases and server components (`timings`) are written
            // by the transport into this recorder while the attempt is polled.
            let recorder = timings::Recorder::new();
            let sent_at = Instant::now();
            let chat = recorder
                .scope(endpoint.provider.chat(&request))
                .instrument(span.clone());
            let result = tokio::time::timeout(self.settings.timeout, chat)
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::new(
                        ErrorClass::Timeout,
                        format!(
                            "no complete answer within {}",
                            humantime::format_duration(self.settings.timeout)
                        ),
                    ))
                });
            let end = Instant::now();
            let mut obs = self.observation(emitter, &job, attempt, &span_id, started_at, end);
            match &result {
                Err(f) if f.class == ErrorClass::Connect => state.connect_failed(&f.message),
                Err(f) => {
                    state.answered();
                    // A 429 or 503 (any 5xx saying so) that asks for room pauses the target.
                    if matches!(f.class, ErrorClass::Http429 | ErrorClass::Http5xx) {
                        if let Some(wait) = f.retry_after {
                            state.pause(end, wait.min(MAX_RETRY_AFTER));
                        }
                    }
                }
                Ok(_) => state.answered(),
            }
            match result {
                Ok(reply) => {
                    obs.timings = recorder.finish(sent_at, reply.completed_at.unwrap_or(end));
                    let cost = self.fill_reply(&mut obs, reply, &job);
                    self.budget.settle(reserved, cost);
                    span.in_scope(|| {
                        crate::logs::attempt(&obs, &traceparent, case, &self.redactor)
                    });
                    emitter.emit(obs).await;
                    return u64::from(attempt);
                }
                Err(failure) => {
                    // A server that timed out, cut its stream or sent a malformed answer may
                    // have generated (and billed) it: count the worst case, so the budget
                    // holds. One that refused or never answered billed nothing.
                    let billed = match failure.class {
                        ErrorClass::Timeout
                        | ErrorClass::StreamInterrupted
                        | ErrorClass::MalformedResponse => reserved.worst_case(),
                        _ => 0.0,
                    };
                    self.budget.settle(reserved, billed);
                    let delay = if state.is_unreachable() {
                        None
                    } else {
                        self.retry_delay(&failure, &mut backoff, cancel)
                    };
                    obs.final_attempt = delay.is_none();
                    obs.timings = recorder.finish(sent_at, end);
                    self.fill_failure(&mut obs, failure, &job);
                    span.in_scope(|| {
                        crate::logs::attempt(&obs, &traceparent, case, &self.redactor)
                    });
                    emitter.emit(obs).await;
                    let Some(delay) = delay else {
                        return u64::from(attempt);
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => return u64::from(attempt),
                    }
                }
            }
            attempt += 1;
        }
    }

    /// What one attempt of `item` may cost at most: its prompt's token bound plus the
    /// output bound its request carries (for `http` targets, the configured reservation).
    fn worst_cost(&self, item: WorkItem) -> f64 {
        let (case, endpoint) = (&self.cases[item.case], &self.endpoints[item.target]);
        estimate_cost(
            &case.messages,
            output_bound(&endpoint.target, self.settings.output_reservation_tokens),
            &endpoint.target.pricing,
        )
    }

    /// How long to wait before retrying after `failure`, or `None` for no retry: the class
    /// is not retryable, the attempts are used up, the server's `Retry-After` is beyond
    /// `MAX_RETRY_AFTER`, or the run was cancelled. The jittered back-off stays within
    /// `retries.max_delay`; a `Retry-After` within bounds is always waited out in full.
    fn retry_delay(
        &self,
        failure: &Failure,
        backoff: &mut impl Iterator<Item = Duration>,
        cancel: &CancellationToken,
    ) -> Option<Duration> {
        if !failure.class.is_retryable()
            || cancel.is_cancelled()
            || failure.retry_after > Some(MAX_RETRY_AFTER)
        {
            return None;
        }
        let backoff = backoff.next()?.min(self.settings.retries.max_delay);
        Some(backoff.max(failure.retry_after.unwrap_or_default()))
    }

    fn observation(
        &self,
        emitter: &Emitter,
        job: &SampleJob,
        attempt: u32,
        span_id: &str,
        started_at: chrono::DateTime<Utc>,
        end: Instant,
    ) -> Observation {
        let case = &self.cases[job.item.case];
        Observation {
            seq: 0,
            target: self.endpoints[job.item.target].target.name.clone(),
            set: case.set.clone(),
            case_id: case.id.clone(),
            sample: job.item.sample,
            attempt,
            final_attempt: true,
            started_at,
            scheduled_ms: emitter.ms_since_start(job.intended),
            delayed: job.delayed,
            latency_ms: Some(ms_between(job.intended, end)),
            ttft_ms: None,
            status: Status::Ok,
            http_status: None,
            error: None,
            input_tokens: None,
            output_tokens: None,
            cost_usd: 0.0,
            finish_reason: None,
            model: None,
            system_fingerprint: None,
            request_id: None,
            span_id: span_id.to_string(),
            output: None,
            context: Vec::new(),
            // The case's labels already hold its set's and its probe's (merged at load).
            labels: case.labels.clone(),
            timings: None,
        }
    }

    /// Records an answer; returns its cost.
    fn fill_reply(&self, obs: &mut Observation, reply: Reply, job: &SampleJob) -> f64 {
        let target = &self.endpoints[job.item.target].target;
        let case = &self.cases[job.item.case];
        // Without streaming the first byte comes with the whole answer: no TTFT to report.
        obs.ttft_ms = reply
            .first_token_at
            .filter(|_| target.stream)
            .map(|t| ms_between(job.intended, t));
        obs.http_status = Some(reply.http_status);
        if let Some(done) = reply.completed_at {
            obs.latency_ms = Some(ms_between(job.intended, done));
        }
        // When the endpoint does not count tokens, estimate them so cost is never silently zero.
        let input = reply.input_tokens.unwrap_or_else(|| {
            case.messages
                .iter()
                .map(|m| estimate_tokens(&m.content))
                .sum()
        });
        let output = reply
            .output_tokens
            .unwrap_or_else(|| estimate_tokens(&reply.text));
        obs.input_tokens = Some(input);
        obs.output_tokens = Some(output);
        obs.cost_usd = target.pricing.cost(input, output);
        obs.finish_reason = reply.finish_reason;
        obs.model = reply.model;
        obs.system_fingerprint = reply.system_fingerprint;
        obs.request_id = reply.request_id;
        // A retrieving target's empty list is an empty retrieval, not the case's context.
        obs.context = if reply.context.is_empty() && !target.retrieves() {
            case.context.clone()
        } else {
            reply.context
        };
        obs.output = Some(reply.text);
        obs.cost_usd
    }

    fn fill_failure(&self, obs: &mut Observation, failure: Failure, job: &SampleJob) {
        obs.status = Status::Error(failure.class);
        let streaming = self.endpoints[job.item.target].target.stream;
        obs.ttft_ms = failure
            .first_token_at
            .filter(|_| streaming)
            .map(|t| ms_between(job.intended, t));
        obs.http_status = failure.http_status;
        obs.request_id = failure.request_id;
        obs.error = Some(failure.message);
        obs.output = failure.partial_text;
        if failure.class == ErrorClass::ContentFilter {
            obs.finish_reason = Some("content_filter".into());
        }
    }

    fn skipped(
        &self,
        emitter: &Emitter,
        item: WorkItem,
        intended: Instant,
        now: Instant,
        attempt: u32,
    ) -> Observation {
        let job = SampleJob {
            item,
            intended,
            delayed: false,
        };
        let mut obs = self.observation(emitter, &job, attempt, "", Utc::now(), now);
        obs.status = Status::SkippedBudget;
        obs.latency_ms = None;
        obs.error = Some("not sent: the budget could not cover this request".into());
        obs
    }
}

fn ms_between(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}
