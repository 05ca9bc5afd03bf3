//! Where every observation of a run ends: the store and the summary. Writes wait in
//! `pending` only while more observations are already queued behind them, so under load the
//! store's thread is woken once per burst, and when idle nothing waits at all.

use std::collections::HashMap;

use tokio::task::{Id, JoinError};

use crate::provider::ErrorClass;
use crate::runner::{Observation, Status};
use crate::score::Score;
use crate::store::{WriteOp, Writer};
use crate::summary::Accumulator;

/// The scorer name a scoring failure is stored under.
pub(super) const SCORING: &str = "scoring";

/// A panic's message (or why the task was cancelled), for the sample's error.
fn why_task_failed(e: JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .map(|m| format!("the scoring task panicked: {m}"))
        .unwrap_or_else(|| "the scoring task panicked".to_string())
}

/// Most writes held back before they go to the store anyway.
const MAX_PENDING: usize = 64;

pub(super) struct Sink<'a> {
    pub run_id: &'a str,
    pub writer: &'a Writer,
    pub accumulator: &'a mut Accumulator,
    pub pending: Vec<WriteOp>,
}

impl Sink<'_> {
    /// Not scored (an error, a retried attempt): counted and stored.
    pub fn unscored(&mut self, obs: Observation) {
        self.accumulator.add(&obs, None);
        self.push(WriteOp::Observation(Box::new(obs), None));
    }

    /// Scored on arrival: counted and stored with its scores in one write.
    pub fn scored(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Observation(Box::new(obs), Some(scores)));
    }

    /// Stored on arrival, scored later (judge, embeddings): counted now, scores added.
    pub fn scored_later(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Scores(obs.seq, scores));
    }

    /// To be scored later (judge, embeddings): stored now, without scores, and counted only
    /// when its scores (or its scoring error) come.
    pub fn awaiting_scores(&mut self, obs: &Observation) {
        self.pending
            .push(WriteOp::Observation(Box::new(obs.clone()), None));
    }

    /// The end of a scoring task: its scores, or — when it panicked or was lost — a scoring
    /// error for its sample. `awaiting` holds the observation of every task still running.
    pub fn settle(
        &mut self,
        awaiting: &mut HashMap<Id, Observation>,
        done: Result<(Id, (Observation, Vec<Score>)), JoinError>,
    ) {
        match done {
            Ok((id, (obs, scores))) => {
                awaiting.remove(&id);
                self.scored_later(obs, scores);
            }
            Err(e) => {
                let Some(obs) = awaiting.remove(&e.id()) else {
                    tracing::error!("a scoring task failed: {e}");
                    return;
                };
                self.scoring_failed(obs, &why_task_failed(e));
            }
        }
    }

    /// Stored on arrival, but its scoring failed: counted as a `scoring_error` with the
    /// reason, which the stored row carries as a failing `scoring` score.
    pub fn scoring_failed(&mut self, mut obs: Observation, reason: &str) {
        let reason = format!("scoring failed: {reason}");
        tracing::error!(
            "case {}/{} sample {}: {reason}",
            obs.set,
            obs.case_id,
            obs.sample
        );
        self.push(WriteOp::Scores(
            obs.seq,
            vec![Score::fail(SCORING, reason.clone())],
        ));
        obs.status = Status::Error(ErrorClass::Scoring);
        obs.error = Some(reason);
        self.accumulator.add(&obs, None);
    }

    pub fn push(&mut self, write: WriteOp) {
        self.pending.push(write);
        if self.pending.len() >= MAX_PENDING {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.writer
                .write_all(self.run_id, std::mem::take(&mut self.pending));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::{Case, Expect};
    use crate::store::{NewRun, Store};

    fn answered(seq: u64) -> Observation {
        Observation {
            seq,
            target: "default".into(),
            set: "s".into(),
            case_id: "judged".into(),
            sample: seq as u32,
            attempt: 1,
            final_attempt: true,
            started_at: chrono::Utc::now(),
            scheduled_ms: 0.0,
            latency_ms: Some(10.0),
            ttft_ms: None,
            status: Status::Ok,
            http_status: Some(200),
            error: None,
            input_tokens: Some(3),
            output_tokens: Some(4),
            cost_usd: 0.0,
            finish_reason: Some("stop".into()),
            model: None,
            system_fingerprint: None,
            request_id: None,
            span_id: "0".into(),
            output: Some("an answer".into()),
            context: vec![],
            delayed: false,
            labels: Default::default(),
            timings: None,
        }
    }

    #[tokio::test]
    async fn a_scoring_task_that_panics_counts_as_a_scoring_error() {
        // Two answers stored for later scoring; one scoring task ends, the other panics. The
        // panicked one was dropped from the summary (neither answered nor an error): it must
        // be counted as the sample's error, with the panic's message as its reason.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        store
            .begin_run(&NewRun {
                id: "r".into(),
                probe: "p".into(),
                started_at: chrono::Utc::now(),
                targets: serde_json::json!([]),
                trace_id: "t".into(),
            })
            .unwrap();
        let writer = store.writer().unwrap();
        let case = Case {
            labels: Default::default(),
            id: "judged".into(),
            set: "s".into(),
            messages: vec![],
            vars: Default::default(),
            context: vec![],
            samples: Some(2),
            min_pass_rate: 1.0,
            expect: Expect::default(),
        };
        let mut accumulator = Accumulator::new(&[case], &["default".into()], 1, 7);
        let mut sink = Sink {
            run_id: "r",
            writer: &writer,
            accumulator: &mut accumulator,
            pending: Vec::new(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut awaiting = HashMap::new();
        for seq in 0..2 {
            let obs = answered(seq);
            sink.awaiting_scores(&obs);
            let kept = obs.clone();
            let task = tasks.spawn(async move {
                if obs.seq == 1 {
                    panic!("judge reply out of range");
                }
                (obs, vec![Score::pass("judge")])
            });
            awaiting.insert(task.id(), kept);
        }
        while let Some(done) = tasks.join_next_with_id().await {
            sink.settle(&mut awaiting, done);
        }
        sink.flush();
        assert!(awaiting.is_empty());
        writer.finish().unwrap();

        let (targets, _) = accumulator.finish(std::time::Duration::from_secs(1));
        let f = &targets[0].summary.figures;
        assert_eq!(f.samples, 2, "the panicked sample is counted");
        assert_eq!(f.answered, 1);
        assert_eq!(f.errors.get("scoring_error"), Some(&1));
        let case = &targets[0].cases[0];
        assert_eq!(case.figures.samples, 2);
        let reason = case.failing_reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("judge reply out of range"),
            "reason: {reason}"
        );
        // The stored row keeps the reason with its scores.
        let rows = store.observations("r").unwrap();
        let stored = rows[1].scores.as_ref().unwrap();
        assert_eq!(stored[0].scorer, SCORING);
        assert!(!stored[0].passed);
    }
}
